"""Evaluation, attention export and the summary report.

Inputs: every variant x fold's predictions, histories and checkpoints; cohort, embeddings,
proteins and grid (attention replays the test subjects through the trained models).
Outputs: results/eval/{metrics,per_fold,comparison}.tsv, with a truth.json (the demo)
results/eval/ceiling.tsv + ceiling_readouts.tsv (truth-informed readouts on the same
subjects and folds), results/attention/<variant>/
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


if TRUTH:

    rule ceiling:
        input:
            cohort=f"{R}/cohort/participants.parquet",
            # who has MRI, as in training (fold 0's encoder in fold scope: every encoder embeds every scan)
            embeddings=embedding_shards(FOLDS[0] if PRETRAIN_SCOPE == "fold" else None),
            grid=f"{R}/patches/grid.parquet",
            proteins=f"{R}/proteins/matrix.parquet",
            catalog=f"{R}/proteins/catalog.parquet",
            truth=TRUTH,
            images=[preproc(s, "preproc") for s in SUBJECTS],
        output:
            ceiling=report(f"{R}/eval/ceiling.tsv", caption="../report/ceiling.rst", category="Evaluation"),
            readouts=f"{R}/eval/ceiling_readouts.tsv",
        params:
            preprocess_dir=lambda w, input: str(PurePath(input.cohort).parents[1] / "preprocess"),
            bootstrap=config["evaluate"]["bootstrap"],
            seed=config["evaluate"]["seed"],
            code=code_hash("ceiling"),
        log:
            log("ceiling"),
        benchmark:
            bench("ceiling")
        conda:
            env("torch")
        resources:
            mem_mb=4000,
            runtime=15,
        shell:
            "neurofusion ceiling --cohort {input.cohort:q} --embeddings {input.embeddings:q} --grid {input.grid:q} "
            "--proteins {input.proteins:q} --catalog {input.catalog:q} --truth {input.truth:q} "
            "--preprocess-dir {params.preprocess_dir:q} --bootstrap {params.bootstrap} --seed {params.seed} "
            "--out {output.ceiling:q} --readouts {output.readouts:q} > {log:q} 2>&1"


EXPORT_INPUTS = dict(
    models=expand(f"{R}/train/{{{{variant}}}}/fold-{{fold}}/model.pt", fold=FOLDS),
    cohort=f"{R}/cohort/participants.parquet",
    embeddings=every_embedding_shard(),  # each fold's models get their encoder's shards (by checksum)
    grid=f"{R}/patches/grid.parquet",
    proteins=f"{R}/proteins/matrix.parquet",
    catalog=f"{R}/proteins/catalog.parquet",
    truth=[f"{DEMO_DIR}/truth.json"] if DEMO else [],
)
EXPORT_PARAMS = dict(
    out_dir=lambda w, output: str(PurePath(output.planted).parent),
    truth=lambda w, input: f"--truth {input.truth[0]}" if input.truth else "",
    per_head="--per-head" if config["attention"]["per_head"] else "",
    attribution=attribution_flags,
    threads=config["attention"]["threads"],
    device=config["train"]["device"],
    code=code_hash("attention"),
)
EXPORT_SHELL = (
    "neurofusion export-attention --checkpoints {input.models:q} --cohort {input.cohort:q} "
    "--embeddings {input.embeddings:q} --grid {input.grid:q} --proteins {input.proteins:q} "
    "--catalog {input.catalog:q} {params.truth} {params.per_head} {params.attribution} --threads {params.threads} "
    "--device {params.device} --out-dir {params.out_dir:q} > {log:q} 2>&1"
)
SUBJECT_MAPS = {"subjects": directory(f"{R}/attention/{{variant}}/subjects")} if PER_SUBJECT else {}


# The fusion model: raw cross-attention and every attribution method with its controls.
rule export_attention:
    input:
        unpack(attribution_inputs),
        **EXPORT_INPUTS,
    output:
        attention=f"{R}/attention/{{variant}}/attention.parquet",
        proteins=f"{R}/attention/{{variant}}/protein_importance.tsv",
        patches=f"{R}/attention/{{variant}}/patch_importance.parquet",
        maps=[
            f"{R}/attention/{{variant}}/attention_space-{SPACE}_class-{c}.nii.gz" for c in config["classes"]
        ]
        + [f"{R}/attention/{{variant}}/attention_space-{SPACE}_desc-difference.nii.gz"],
        attribution=f"{R}/attention/{{variant}}/attribution.parquet",
        protein_attribution=f"{R}/attention/{{variant}}/protein_attribution.tsv",
        patch_attribution=f"{R}/attention/{{variant}}/patch_attribution.parquet",
        attribution_maps=attribution_maps(),
        planted=f"{R}/attention/{{variant}}/planted_check.json",
        **SUBJECT_MAPS,
    wildcard_constraints:
        variant="fusion",
    params:
        **EXPORT_PARAMS,
    log:
        log("attention/{variant}"),
    benchmark:
        bench("attention/{variant}")
    conda:
        env("torch")
    threads: config["attention"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        EXPORT_SHELL



# The MRI-only model: no cross-attention; attribution maps of the patches with their controls.
rule export_attribution_mri:
    input:
        unpack(attribution_inputs),
        **EXPORT_INPUTS,
    output:
        attribution=f"{R}/attention/{{variant}}/attribution.parquet",
        patch_attribution=f"{R}/attention/{{variant}}/patch_attribution.parquet",
        attribution_maps=attribution_maps(),
        planted=f"{R}/attention/{{variant}}/planted_check.json",
        **SUBJECT_MAPS,
    wildcard_constraints:
        variant="mri",
    params:
        **EXPORT_PARAMS,
    log:
        log("attention/{variant}"),
    benchmark:
        bench("attention/{variant}")
    conda:
        env("torch")
    threads: config["attention"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        EXPORT_SHELL


# The protein-only model: no patches; the protein attribution table with its controls.
rule export_attribution_protein:
    input:
        unpack(attribution_inputs),
        **EXPORT_INPUTS,
    output:
        attribution=f"{R}/attention/{{variant}}/attribution.parquet",
        protein_attribution=f"{R}/attention/{{variant}}/protein_attribution.tsv",
        planted=f"{R}/attention/{{variant}}/planted_check.json",
    wildcard_constraints:
        variant="protein",
    params:
        **EXPORT_PARAMS,
    log:
        log("attention/{variant}"),
    benchmark:
        bench("attention/{variant}")
    conda:
        env("torch")
    threads: config["attention"]["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        EXPORT_SHELL


FIGURES = ["roc", "calibration", "confusion", "training_curves", "ablation"]


rule summary:
    input:
        metrics=f"{R}/eval/metrics.tsv",
        per_fold=f"{R}/eval/per_fold.tsv",
        comparison=f"{R}/eval/comparison.tsv",
        curves=f"{R}/eval/curves.parquet",
        histories=expand(f"{R}/train/{{variant}}/fold-{{fold}}/history.tsv", variant=VARIANTS, fold=FOLDS),
        predictions=expand(f"{R}/train/{{variant}}/fold-{{fold}}/predictions.parquet", variant=VARIANTS, fold=FOLDS),
        shard=first_shard_per_encoder(),
        attention=expand(f"{R}/attention/{{variant}}/planted_check.json", variant=ATTENTION_VARIANTS),
        cohort=f"{R}/cohort/participants.parquet",
        excluded=f"{R}/cohort/excluded.tsv",
        ceiling=[f"{R}/eval/ceiling.tsv"] if TRUTH else [],
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
            if v == "fusion"  # raw cross-attention exists in the fusion model only
            for kind in ("map", "proteins")
        ],
        attribution_figures=[
            report(
                f"{R}/eval/figures/attribution_{v}_maps.png",
                caption="../report/attribution_maps.rst",
                category="Attention",
                labels={"variant": v, "figure": "attribution"},
            )
            for v in ATTENTION_VARIANTS
            if v != "protein"  # the protein-only model has no patch maps
        ],
    params:
        attention_dirs=lambda w, input: " ".join(str(PurePath(p).parent) for p in input.attention),
        train_dir=lambda w, input: str(PurePath(input.histories[0]).parents[2]),
        settings=shlex.quote(yaml.safe_dump(config, sort_keys=True)),
        dpi=config["report"]["dpi"],
        top=config["report"]["top_proteins"],
        shard=lambda w, input: f"--embedding-shard {' '.join(map(shlex.quote, input.shard))}" if input.shard else "",
        out_dir=lambda w, input: str(PurePath(input.metrics).parent),
        ceiling=lambda w, input: f"--ceiling {shlex.quote(input.ceiling[0])}" if input.ceiling else "",
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
        "--attention-dirs {params.attention_dirs} --cohort {input.cohort:q} --excluded {input.excluded:q} {params.ceiling} "
        "--model-config {input.config_files:q} --settings-yaml {params.settings} --dpi {params.dpi} --top-proteins {params.top} {params.shard} "
        "--out {output.html:q} > {log:q} 2>&1"
