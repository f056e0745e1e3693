"""Training: the cross-attention fusion model and its single-modality ablations, per fold.

Inputs: cohort table, embedding shards, patch grid, protein matrix + catalog, the model
config file. Outputs per variant x fold: model.pt (self-describing), history.tsv,
predictions.parquet (test fold only).
"""


rule train:
    input:
        cohort=f"{R}/cohort/participants.parquet",
        embeddings=embedding_shards(),
        grid=f"{R}/patches/grid.parquet",
        proteins=f"{R}/proteins/matrix.parquet",
        catalog=f"{R}/proteins/catalog.parquet",
        model_config=MODEL_CONFIG,
        linear_start=linear_start,
    output:
        model=f"{R}/train/{{variant}}/fold-{{fold}}/model.pt",
        history=f"{R}/train/{{variant}}/fold-{{fold}}/history.tsv",
        predictions=f"{R}/train/{{variant}}/fold-{{fold}}/predictions.parquet",
    params:
        out_dir=lambda w, output: str(PurePath(output.model).parent),
        threads=config["train"]["threads"],
        device=config["train"]["device"],
        code=code_hash("train"),
        linear_start=lambda w, input: f"--linear-start {shlex.quote(input.linear_start)} " if input.linear_start else "",
    log:
        log("train/{variant}_fold-{fold}"),
    benchmark:
        bench("train/{variant}_fold-{fold}")
    conda:
        env("torch")
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "neurofusion train --cohort {input.cohort:q} --embeddings {input.embeddings:q} "
        "--grid {input.grid:q} --proteins {input.proteins:q} --catalog {input.catalog:q} "
        "--config {input.model_config:q} --variant {wildcards.variant} --fold {wildcards.fold} "
        "--out-dir {params.out_dir:q} --threads {params.threads} {params.linear_start}"
        "--device {params.device} > {log:q} 2>&1"


# Sanity-check control of the attribution maps: the same training on permuted labels.
rule train_shuffled:
    input:
        cohort=f"{R}/cohort/participants.parquet",
        embeddings=embedding_shards(),
        grid=f"{R}/patches/grid.parquet",
        proteins=f"{R}/proteins/matrix.parquet",
        catalog=f"{R}/proteins/catalog.parquet",
        model_config=MODEL_CONFIG,
    output:
        model=f"{R}/train_shuffled/{{variant}}/fold-{{fold}}/model.pt",
        history=f"{R}/train_shuffled/{{variant}}/fold-{{fold}}/history.tsv",
        predictions=f"{R}/train_shuffled/{{variant}}/fold-{{fold}}/predictions.parquet",
    params:
        out_dir=lambda w, output: str(PurePath(output.model).parent),
        seed=config["attention"].get("randomise_seed", 0),
        threads=config["train"]["threads"],
        device=config["train"]["device"],
        code=code_hash("train"),
    log:
        log("train_shuffled/{variant}_fold-{fold}"),
    benchmark:
        bench("train_shuffled/{variant}_fold-{fold}")
    conda:
        env("torch")
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=120,
    shell:
        "neurofusion train --cohort {input.cohort:q} --embeddings {input.embeddings:q} "
        "--grid {input.grid:q} --proteins {input.proteins:q} --catalog {input.catalog:q} "
        "--config {input.model_config:q} --variant {wildcards.variant} --fold {wildcards.fold} "
        "--shuffle-labels {params.seed} --out-dir {params.out_dir:q} --threads {params.threads} "
        "--device {params.device} > {log:q} 2>&1"
