"""Demo cohort, generated when the config names no BIDS folder of its own.

Inputs: nothing (only settings). Outputs: results/demo/bids (whole-head native-space T1w
scans + participants.tsv), results/demo/olink_explore_npx.csv, results/demo/truth.json.
"""

if DEMO:

    rule demo_cohort:
        output:
            participants=PARTICIPANTS_TSV,
            description=f"{BIDS_DIR}/dataset_description.json",
            scans=[SCANS[s][1] for s in SUBJECTS],
            npx=PROTEOMICS[0],
            truth=f"{DEMO_DIR}/truth.json",
        params:
            out=lambda w, output: str(PurePath(output.truth).parent),
            n=config["demo_cohort"]["n_subjects"],
            without_scan=config["demo_cohort"]["n_without_scan"],
            seed=config["demo_cohort"]["seed"],
            code=code_hash("demo"),
        log:
            log("demo_cohort"),
        benchmark:
            bench("demo_cohort")
        conda:
            env("imaging")
        threads: 2
        resources:
            mem_mb=4000,
            runtime=20,
        shell:
            "neurofusion demo-cohort --out {params.out:q} --n-subjects {params.n} "
            "--n-without-scan {params.without_scan} --seed {params.seed} --threads {threads} > {log:q} 2>&1"
