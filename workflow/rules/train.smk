"""Training: the cross-attention fusion model, its single-modality ablations and the baselines, per fold.

Inputs: cohort table, embedding shards, patch grid, protein matrix + catalog, the model
config file. Outputs per variant x fold: model.pt (self-describing), history.tsv,
predictions.parquet (test fold only).

One job per fold trains every configured variant in one process, baselines first: the
inputs are read and torch, its optimiser stack and scikit-learn imported once per fold
instead of once per variant (~2.5 s each, most of a demo-sized variant's time), and a
transformer's linear start takes its baseline's regression from the model.pt the same job
has just written. Each variant seeds itself, so its outputs are the bytes a call of its own
gives (tests/training/test_cli_train.py).
"""


rule train:
    input:
        cohort=f"{R}/cohort/participants.parquet",
        embeddings=lambda w: embedding_shards(w.fold),
        grid=f"{R}/patches/grid.parquet",
        proteins=f"{R}/proteins/matrix.parquet",
        catalog=f"{R}/proteins/catalog.parquet",
        model_config=MODEL_CONFIG,
    output:
        model=expand(f"{R}/train/{{variant}}/fold-{{{{fold}}}}/model.pt", variant=VARIANTS),
        history=expand(f"{R}/train/{{variant}}/fold-{{{{fold}}}}/history.tsv", variant=VARIANTS),
        predictions=expand(f"{R}/train/{{variant}}/fold-{{{{fold}}}}/predictions.parquet", variant=VARIANTS),
    params:
        variants=" ".join(VARIANTS),
        out_dirs=lambda w, output: out_dirs(output.model),
        threads=config["train"]["threads"],
        device=config["train"]["device"],
        code=code_hash("train"),
    log:
        log("train/fold-{fold}"),
    benchmark:
        bench("train/fold-{fold}")
    conda:
        env("torch")
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=120 * len(VARIANTS),
    shell:
        "neurofusion train --cohort {input.cohort:q} --embeddings {input.embeddings:q} "
        "--grid {input.grid:q} --proteins {input.proteins:q} --catalog {input.catalog:q} "
        "--config {input.model_config:q} --variant {params.variants} --fold {wildcards.fold} "
        "--out-dir {params.out_dirs} --threads {params.threads} "
        "--device {params.device} > {log:q} 2>&1"


# Sanity-check control of the attribution maps: the same training on permuted labels, one
# job per fold for every attention variant (none configured: no rule).
if ATTENTION_VARIANTS:

    rule train_shuffled:
        input:
            cohort=f"{R}/cohort/participants.parquet",
            embeddings=lambda w: embedding_shards(w.fold),
            grid=f"{R}/patches/grid.parquet",
            proteins=f"{R}/proteins/matrix.parquet",
            catalog=f"{R}/proteins/catalog.parquet",
            model_config=MODEL_CONFIG,
        output:
            model=expand(f"{R}/train_shuffled/{{variant}}/fold-{{{{fold}}}}/model.pt", variant=ATTENTION_VARIANTS),
            history=expand(f"{R}/train_shuffled/{{variant}}/fold-{{{{fold}}}}/history.tsv", variant=ATTENTION_VARIANTS),
            predictions=expand(f"{R}/train_shuffled/{{variant}}/fold-{{{{fold}}}}/predictions.parquet", variant=ATTENTION_VARIANTS),
        params:
            variants=" ".join(ATTENTION_VARIANTS),
            out_dirs=lambda w, output: out_dirs(output.model),
            seed=config["attention"].get("randomise_seed", 0),
            threads=config["train"]["threads"],
            device=config["train"]["device"],
            code=code_hash("train"),
        log:
            log("train_shuffled/fold-{fold}"),
        benchmark:
            bench("train_shuffled/fold-{fold}")
        conda:
            env("torch")
        threads: config["train"]["threads"]
        resources:
            mem_mb=8000,
            runtime=120 * max(1, len(ATTENTION_VARIANTS)),
        shell:
            "neurofusion train --cohort {input.cohort:q} --embeddings {input.embeddings:q} "
            "--grid {input.grid:q} --proteins {input.proteins:q} --catalog {input.catalog:q} "
            "--config {input.model_config:q} --variant {params.variants} --fold {wildcards.fold} "
            "--shuffle-labels {params.seed} --out-dir {params.out_dirs} --threads {params.threads} "
            "--device {params.device} > {log:q} 2>&1"
