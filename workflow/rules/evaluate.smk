"""Evaluation, attention export and the summary report.

Inputs: every variant x fold's predictions, histories and checkpoints; cohort, embeddings,
proteins and grid (attention replays the test subjects through the trained models).
Outputs: results/eval/{metrics,per_fold,comparison}.tsv, results/attention/<variant>/
(attention.parquet, protein_importance.tsv, patch_importance.parquet, NIfTI maps),
results/eval/figures/*.png and results/eval/summary.html.
"""


rule evaluate:
    input:
        predictions=expand(f"{R}/train/{{variant}}/fold-{{fold}}/predictions.parquet", variant=VARIANTS, fold=FOLDS),
    output:
        metrics=report(f"{R}/eval/metrics.tsv", caption="../report/metrics.rst", category="Evaluation"),
        per_fold=f"{R}/eval/per_fold.tsv",
        comparison=report(f"{R}/eval/comparison.tsv", caption="../report/comparison.rst", category="Evaluation"),
        curves=f"{R}/eval/curves.parquet",
    params:
        classes=" ".join(config["classes"]),
        bootstrap=config["evaluate"]["bootstrap"],
        seed=config["evaluate"]["seed"],
        out_dir=lambda w, output: str(PurePath(output.metrics).parent),
        code=code_hash("evaluate"),
    log:
        log("evaluate"),
    benchmark:
        bench("evaluate")
    conda:
        env("tables")
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "neurofusion evaluate --predictions {input.predictions:q} --classes {params.classes} "
        "--bootstrap {params.bootstrap} --seed {params.seed} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule export_attention:
    input:
        models=expand(f"{R}/train/{{{{variant}}}}/fold-{{fold}}/model.pt", fold=FOLDS),
        cohort=f"{R}/cohort/participants.parquet",
        embeddings=embedding_shards(),
        grid=f"{R}/patches/grid.parquet",
        proteins=f"{R}/proteins/matrix.parquet",
        catalog=f"{R}/proteins/catalog.parquet",
        truth=[f"{DEMO_DIR}/truth.json"] if DEMO else [],
    output:
        attention=f"{R}/attention/{{variant}}/attention.parquet",
        proteins=f"{R}/attention/{{variant}}/protein_importance.tsv",
        patches=f"{R}/attention/{{variant}}/patch_importance.parquet",
        maps=[
            f"{R}/attention/{{variant}}/attention_space-{SPACE}_class-{c}.nii.gz" for c in config["classes"]
        ]
        + [f"{R}/attention/{{variant}}/attention_space-{SPACE}_desc-difference.nii.gz"],
        planted=f"{R}/attention/{{variant}}/planted_check.json",
    params:
        out_dir=lambda w, output: str(PurePath(output.attention).parent),
        truth=lambda w, input: f"--truth {input.truth[0]}" if input.truth else "",
        per_head="--per-head" if config["attention"]["per_head"] else "",
        threads=config["train"]["threads"],
        device=config["train"]["device"],
        code=code_hash("attention"),
    log:
        log("attention/{variant}"),
    benchmark:
        bench("attention/{variant}")
    conda:
        env("torch")
    threads: config["train"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        "neurofusion export-attention --checkpoints {input.models:q} --cohort {input.cohort:q} "
        "--embeddings {input.embeddings:q} --grid {input.grid:q} --proteins {input.proteins:q} "
        "--catalog {input.catalog:q} {params.truth} {params.per_head} --threads {params.threads} "
        "--device {params.device} --out-dir {params.out_dir:q} > {log:q} 2>&1"


FIGURES = ["roc", "calibration", "confusion", "training_curves", "ablation"]


rule summary:
    input:
        metrics=f"{R}/eval/metrics.tsv",
        per_fold=f"{R}/eval/per_fold.tsv",
        comparison=f"{R}/eval/comparison.tsv",
        curves=f"{R}/eval/curves.parquet",
        histories=expand(f"{R}/train/{{variant}}/fold-{{fold}}/history.tsv", variant=VARIANTS, fold=FOLDS),
        attention=expand(f"{R}/attention/{{variant}}/protein_importance.tsv", variant=ATTENTION_VARIANTS),
        cohort=f"{R}/cohort/participants.parquet",
        excluded=f"{R}/cohort/excluded.tsv",
        config_files=[MODEL_CONFIG],
    output:
        html=report(f"{R}/eval/summary.html", caption="../report/summary.rst", category="Summary"),
        figures=[
            report(f"{R}/eval/figures/{name}.png", caption=f"../report/{name}.rst", category="Evaluation")
            for name in FIGURES
        ],
        attention_figures=[
            report(
                f"{R}/eval/figures/attention_{v}_{kind}.png",
                caption=f"../report/attention_{kind}.rst",
                category="Attention",
                labels={"variant": v, "figure": kind},
            )
            for v in ATTENTION_VARIANTS
            for kind in ("map", "proteins")
        ],
    params:
        attention_dirs=lambda w, input: " ".join(str(PurePath(p).parent) for p in input.attention),
        train_dir=lambda w, input: str(PurePath(input.histories[0]).parents[2]),
        settings=shlex.quote(yaml.safe_dump(config, sort_keys=True)),
        dpi=config["report"]["dpi"],
        top=config["report"]["top_proteins"],
        out_dir=lambda w, input: str(PurePath(input.metrics).parent),
        code=code_hash("summary"),
    log:
        log("summary"),
    benchmark:
        bench("summary")
    conda:
        env("tables")
    resources:
        mem_mb=4000,
        runtime=15,
    shell:
        "neurofusion summary --eval-dir {params.out_dir:q} --train-dir {params.train_dir:q} "
        "--attention-dirs {params.attention_dirs} --cohort {input.cohort:q} --excluded {input.excluded:q} "
        "--model-config {input.config_files:q} --settings-yaml {params.settings} --dpi {params.dpi} --top-proteins {params.top} "
        "--out {output.html:q} > {log:q} 2>&1"
