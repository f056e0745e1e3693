"""Embeddings: a self-supervised encoder pretrained on the cohort's patches (no labels),
or a user's local TorchScript / MONAI weights, applied per shard of subjects.

Inputs: patch arrays, results/patches/grid.parquet. Outputs: results/embeddings/encoder.pt
(builtin only), results/embeddings/shard-NNN.parquet (participant_id, patch_id, embedding).
"""

if config["embedding"]["encoder"] == "builtin":

    rule pretrain_encoder:
        input:
            patches=[patch_file(s) for s in SUBJECTS],
            grid=f"{R}/patches/grid.parquet",
        output:
            model=f"{R}/embeddings/encoder.pt",
            history=f"{R}/embeddings/pretrain_history.tsv",
        params:
            patches_dir=lambda w, input: str(PurePath(input.grid).parent),
            epochs=config["embedding"]["pretrain"]["epochs"],
            batch=config["embedding"]["pretrain"]["batch_size"],
            lr=config["embedding"]["pretrain"]["lr"],
            width=config["embedding"]["pretrain"]["width"],
            seed=config["embedding"]["pretrain"]["seed"],
            jitter=config["embedding"]["pretrain"]["intensity_jitter"],
            max_seconds=time_limit(config["embedding"]["pretrain"].get("max_seconds")),
            threads=config["embedding"]["threads"],
            device=config["embedding"]["device"],
            code=code_hash("pretrain"),
        log:
            log("pretrain_encoder"),
        benchmark:
            bench("pretrain_encoder")
        conda:
            env("torch")
        threads: config["embedding"]["threads"]
        resources:
            mem_mb=8000,
            runtime=60,
        shell:
            "neurofusion pretrain-encoder --patches-dir {params.patches_dir:q} --grid {input.grid:q} "
            "--out {output.model:q} --history {output.history:q} --epochs {params.epochs} "
            "--batch-size {params.batch} --lr {params.lr} --width {params.width} --seed {params.seed} "
            "--intensity-jitter {params.jitter} "
            "{params.max_seconds}--threads {params.threads} --device {params.device} > {log:q} 2>&1"


rule embed_patches:
    input:
        patches=shard_patches,
        grid=f"{R}/patches/grid.parquet",
        encoder=encoder_checkpoint(),
    output:
        f"{R}/embeddings/shard-{{shard}}.parquet",
    params:
        encoder=encoder_spec(),
        dtype=config["embedding"]["dtype"],
        batch=config["embedding"]["batch_size"],
        threads=config["embedding"]["threads"],
        device=config["embedding"]["device"],
        code=code_hash("embed"),
    log:
        log("embed/shard-{shard}"),
    benchmark:
        bench("embed/shard-{shard}")
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
