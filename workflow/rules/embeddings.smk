"""Embeddings: a self-supervised encoder pretrained on the cohort's patches (no labels),
or a user's local weights (a builtin checkpoint pretrained elsewhere, TorchScript, MONAI),
applied per shard of subjects.

Inputs: patch arrays, results/patches/grid.parquet. Outputs: results/embeddings/encoder.pt
(`embedding.encoder: builtin` only), results/embeddings/shard-NNN.parquet (participant_id, patch_id, embedding).
With embedding.pretrain.scope: fold, one encoder per fold, pretrained without that fold's
subjects (the cohort table says who they are): results/embeddings/fold-K/{encoder.pt,
pretrain_history.tsv,shard-NNN.parquet}; every subject is embedded by every fold's encoder.
"""

FOLD_SCOPE = PRETRAIN_SCOPE == "fold"
# the folder of the encoder and its shards: one per fold (wildcard) in fold scope
EMB = embedding_dir("{fold}") if FOLD_SCOPE else embedding_dir()
EMB_NAME = "_fold-{fold}" if FOLD_SCOPE else ""

if config["embedding"]["encoder"] == "builtin":

    rule pretrain_encoder:
        input:
            patches=[patch_file(s) for s in SUBJECTS],
            grid=f"{R}/patches/grid.parquet",
            cohort=[f"{R}/cohort/participants.parquet"] if FOLD_SCOPE else [],
        output:
            model=f"{EMB}/encoder.pt",
            history=f"{EMB}/pretrain_history.tsv",
        params:
            scope=lambda w, input: (
                f"--cohort {shlex.quote(input.cohort[0])} --leave-out-fold {w.fold} " if FOLD_SCOPE else ""
            ),
            patches_dir=lambda w, input: str(PurePath(input.grid).parent),
            epochs=config["embedding"]["pretrain"]["epochs"],
            batch=config["embedding"]["pretrain"]["batch_size"],
            lr=config["embedding"]["pretrain"]["lr"],
            width=config["embedding"]["pretrain"]["width"],
            layout=config["embedding"]["pretrain"].get("layout", "full"),
            seed=config["embedding"]["pretrain"]["seed"],
            jitter=config["embedding"]["pretrain"]["intensity_jitter"],
            max_seconds=time_limit(config["embedding"]["pretrain"].get("max_seconds")),
            threads=config["embedding"]["threads"],
            device=config["embedding"]["device"],
            code=code_hash("pretrain"),
        log:
            log(f"pretrain_encoder{EMB_NAME}"),
        benchmark:
            bench(f"pretrain_encoder{EMB_NAME}")
        conda:
            env("torch")
        threads: config["embedding"]["threads"]
        resources:
            mem_mb=8000,
            runtime=60,
        shell:
            "neurofusion pretrain-encoder --patches-dir {params.patches_dir:q} --grid {input.grid:q} "
            "--out {output.model:q} --history {output.history:q} --epochs {params.epochs} "
            "--batch-size {params.batch} --lr {params.lr} --width {params.width} --layout {params.layout} "
            "--seed {params.seed} "
            "--intensity-jitter {params.jitter} {params.scope}"
            "{params.max_seconds}--threads {params.threads} --device {params.device} > {log:q} 2>&1"


rule embed_patches:
    input:
        patches=shard_patches,
        grid=f"{R}/patches/grid.parquet",
        encoder=lambda w: encoder_checkpoint(w.get("fold")),
    output:
        f"{EMB}/shard-{{shard}}.parquet",
    params:
        encoder=lambda w: encoder_spec(w.get("fold")),
        dtype=config["embedding"]["dtype"],
        batch=config["embedding"]["batch_size"],
        threads=config["embedding"]["threads"],
        device=config["embedding"]["device"],
        code=code_hash("embed"),
    log:
        log(f"embed/shard-{{shard}}{EMB_NAME}"),
    benchmark:
        bench(f"embed/shard-{{shard}}{EMB_NAME}")
    conda:
        env("torch")
    threads: config["embedding"]["threads"]
    resources:
        mem_mb=8000,
        runtime=60,
    shell:
        "neurofusion embed {params.encoder} --patches {input.patches:q} --grid {input.grid:q} "
        "--out {output:q} --dtype {params.dtype} --batch-size {params.batch} --threads {params.threads} "
        "--device {params.device} > {log:q} 2>&1"
