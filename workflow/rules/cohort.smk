"""Cohort: who is in, with which label, modalities and test fold; who is out and why.

Inputs: participants table, protein matrix and QC record (participants whose proteins were
left out for a bad cell), every subject's preprocessing metrics.
Outputs: results/cohort/participants.parquet, results/cohort/excluded.tsv.
"""


rule cohort:
    input:
        participants=PARTICIPANTS_TSV,
        proteins=f"{R}/proteins/matrix.parquet",
        protein_qc=f"{R}/proteins/qc.tsv",
        metrics=all_metrics(),
    output:
        table=f"{R}/cohort/participants.parquet",
        excluded=f"{R}/cohort/excluded.tsv",
    params:
        label=config["label_column"],
        classes=" ".join(config["classes"]),
        id_column=config["cohort"]["id_column"],
        folds=config["cohort"]["folds"],
        seed=config["cohort"]["seed"],
        metrics_dir=lambda w, output: str(PurePath(output.table).parents[1] / "preprocess"),
        code=code_hash("cohort"),
    log:
        log("cohort"),
    benchmark:
        bench("cohort")
    conda:
        env("tables")
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "neurofusion cohort --participants {input.participants:q} --proteins {input.proteins:q} "
        "--protein-qc {input.protein_qc:q} "
        "--metrics-dir {params.metrics_dir:q} --label-column {params.label} --classes {params.classes} "
        "--id-column {params.id_column} --folds {params.folds} --seed {params.seed} "
        "--out {output.table:q} --excluded {output.excluded:q} > {log:q} 2>&1"
