"""Proteomics: vendor assay exports -> QC'd, pathway-categorized protein tables.

Inputs: config `proteomics` (Olink NPX long/wide, generic wide tables), the category table,
the participants table. Outputs: results/proteins/{proteins,catalog,matrix}.parquet,
unmapped.tsv, qc.tsv. With proteins.on_error: exclude, a participant with a value cell that is
not a number loses all its proteins; qc.tsv names it (excluded_participant) with the file, row
and cell, and the cohort step copies that to excluded.tsv.
"""


rule proteins:
    input:
        tables=PROTEOMICS,
        categories=CATEGORIES,
        participants=PARTICIPANTS_TSV,
    output:
        long=f"{R}/proteins/proteins.parquet",
        catalog=f"{R}/proteins/catalog.parquet",
        matrix=f"{R}/proteins/matrix.parquet",
        unmapped=f"{R}/proteins/unmapped.tsv",
        qc=report(f"{R}/proteins/qc.tsv", caption="../report/proteins_qc.rst", category="Proteomics"),
    params:
        out_dir=lambda w, output: str(PurePath(output.long).parent),
        match="--participants {}".format(PARTICIPANTS_TSV) if config["proteins"]["match_participants"] else "",
        id_column=config["cohort"]["id_column"],
        regex=(
            "--sample-id-regex '{}'".format(config["proteins"]["sample_id_regex"])
            if config["proteins"].get("sample_id_regex")
            else ""
        ),
        warn=config["proteins"]["warn_policy"],
        lod=config["proteins"]["lod_policy"],
        on_error=config["proteins"]["on_error"],
        code=code_hash("proteins"),
    log:
        log("proteins"),
    benchmark:
        bench("proteins")
    conda:
        env("tables")
    resources:
        mem_mb=8000,
        runtime=30,
    shell:
        "neurofusion proteins --table {input.tables:q} --categories {input.categories:q} {params.match} "
        "--id-column {params.id_column} {params.regex} --warn-policy {params.warn} "
        "--lod-policy {params.lod} --on-error {params.on_error} --out {params.out_dir:q} > {log:q} 2>&1"
