"""Imaging: raw whole-head T1w -> template-space brain -> fixed grid of 3D patches.

Inputs: one T1w scan per subject (BIDS). Outputs: results/template (nilearn's template brain
and mask as NIfTI, written once); per subject under results/preprocess and
results/patches: the MNI152NLin2009aSym brain, its mask, the affine transform, a QC PNG,
metrics JSON and a float16 patch array; results/patches/grid.parquet shared by all.
With preprocess.on_error: exclude, a scan that cannot be read or registered gets failure
records (neurofusion.failure) in place of its image, mask, transform and patch array.
"""


rule template:
    output:
        TEMPLATE_FILES,
    params:
        resolutions=" ".join(f"{r:g}" for r in TEMPLATE_RESOLUTIONS),
        out_dir=lambda w, output: str(PurePath(output[0]).parent),
        code=code_hash("template"),
    log:
        log("template"),
    benchmark:
        bench("template")
    conda:
        env("imaging")
    resources:
        mem_mb=2000,
        runtime=5,
    shell:
        "neurofusion template --resolution {params.resolutions} --out-dir {params.out_dir:q} > {log:q} 2>&1"


# preprocess.scans_per_job 1: one job per scan (rule preprocess_t1, wildcard subject). More:
# content-defined batches of scans, one rule per batch (preprocess_batch_<first subject>), so
# that imports, deepbet's networks and matplotlib are set up once per batch, not per scan;
# the outputs are the same bytes either way (neurofusion.imaging.batches says how batches are
# cut so that one changed scan reruns only its own batch).
if SCANS_PER_JOB == 1:

    rule preprocess_t1:
        input:
            t1w=t1w_scan,
            template=TEMPLATE_FILES,
        output:
            image=PREPROC_IMAGE,
            mask=PREPROC_MASK,
            xfm=PREPROC_XFM,
            qc=report(
                PREPROC_QC,
                caption="../report/qc.rst",
                category="Preprocessing QC",
                labels={"subject": "{subject}"},
            ),
            metrics=PREPROC_METRICS,
        params:
            resolution=RES,
            min_dice=config["preprocess"]["min_dice"],
            on_error=config["preprocess"]["on_error"],
            template_dir=lambda w, input: str(PurePath(input.template[0]).parent),
            threads=config["preprocess"]["threads"],
            code=code_hash("preprocess"),
        log:
            log("preprocess/sub-{subject}{ses}"),
        benchmark:
            bench("preprocess/sub-{subject}{ses}")
        conda:
            env("imaging")
        group:
            "subject"
        threads: config["preprocess"]["threads"]
        resources:
            mem_mb=4000,
            runtime=15,
        shell:
            "neurofusion preprocess --t1w {input.t1w:q} --template-dir {params.template_dir:q} --out {output.image:q} --mask {output.mask:q} "
            "--xfm {output.xfm:q} --qc {output.qc:q} --metrics {output.metrics:q} "
            "--resolution {params.resolution} --min-dice {params.min_dice} --on-error {params.on_error} "
            "--threads {params.threads} > {log:q} 2>&1"

else:
    for _batch in PREPROCESS_BATCHES:

        rule:
            name:
                f"preprocess_batch_{_batch[0]}"
            input:
                t1w=[SCANS[s][1] for s in _batch],
                template=TEMPLATE_FILES,
            output:
                image=[scan_path(PREPROC_IMAGE, s) for s in _batch],
                mask=[scan_path(PREPROC_MASK, s) for s in _batch],
                xfm=[scan_path(PREPROC_XFM, s) for s in _batch],
                qc=[
                    report(
                        scan_path(PREPROC_QC, s),
                        caption="../report/qc.rst",
                        category="Preprocessing QC",
                        labels={"subject": s},
                    )
                    for s in _batch
                ],
                metrics=[scan_path(PREPROC_METRICS, s) for s in _batch],
            params:
                resolution=RES,
                min_dice=config["preprocess"]["min_dice"],
                on_error=config["preprocess"]["on_error"],
                template_dir=lambda w, input: str(PurePath(input.template[0]).parent),
                threads=config["preprocess"]["threads"],
                code=code_hash("preprocess"),
            log:
                log(f"preprocess/batch-{_batch[0]}"),
            benchmark:
                bench(f"preprocess/batch-{_batch[0]}")
            conda:
                env("imaging")
            group:
                "subject"
            threads: config["preprocess"]["threads"]
            resources:
                mem_mb=4000,
                runtime=15 + 2 * len(_batch),
            shell:
                "neurofusion preprocess --t1w {input.t1w:q} --template-dir {params.template_dir:q} --out {output.image:q} "
                "--mask {output.mask:q} --xfm {output.xfm:q} --qc {output.qc:q} --metrics {output.metrics:q} "
                "--resolution {params.resolution} --min-dice {params.min_dice} --on-error {params.on_error} "
                "--threads {params.threads} > {log:q} 2>&1"


rule patch_grid:
    output:
        f"{R}/patches/grid.parquet",
    params:
        resolution=RES,
        size=config["patches"]["size_mm"],
        stride=config["patches"]["stride_mm"],
        min_brain=config["patches"]["min_brain_fraction"],
        code=code_hash("patches"),
    log:
        log("patch_grid"),
    benchmark:
        bench("patch_grid")
    conda:
        env("imaging")
    resources:
        mem_mb=2000,
        runtime=5,
    shell:
        "neurofusion patch-grid --resolution {params.resolution} --size-mm {params.size} "
        "--stride-mm {params.stride} --min-brain-fraction {params.min_brain} --out {output:q} "
        "> {log:q} 2>&1"


# extract_patches follows preprocessing: one job per scan with preprocess.scans_per_job 1, else
# one job per preprocessing batch (extract_patches_batch_<first subject>), the same scans, so
# that a batch's patches are cut by one process as soon as the batch is done (a demo scan's
# patches take ~20 ms; a process ~0.6 s to start). The arrays are the same bytes either way.
if SCANS_PER_JOB == 1:

    rule extract_patches:
        input:
            image=PREPROC_IMAGE,
            grid=f"{R}/patches/grid.parquet",
        output:
            patch_output(PATCH_PATH),
        params:
            code=code_hash("patches"),
        log:
            log("patches/sub-{subject}{ses}"),
        benchmark:
            bench("patches/sub-{subject}{ses}")
        conda:
            env("imaging")
        group:
            "subject"
        resources:
            mem_mb=1000,
            runtime=5,
        shell:
            "neurofusion patches --in {input.image:q} --grid {input.grid:q} --out {output:q} > {log:q} 2>&1"

else:
    for _batch in PREPROCESS_BATCHES:

        rule:
            name:
                f"extract_patches_batch_{_batch[0]}"
            input:
                image=[scan_path(PREPROC_IMAGE, s) for s in _batch],
                grid=f"{R}/patches/grid.parquet",
            output:
                [patch_output(patch_file(s)) for s in _batch],
            params:
                code=code_hash("patches"),
            log:
                log(f"patches/batch-{_batch[0]}"),
            benchmark:
                bench(f"patches/batch-{_batch[0]}")
            conda:
                env("imaging")
            group:
                "subject"
            resources:
                mem_mb=1000,
                runtime=5,
            shell:
                "neurofusion patches --in {input.image:q} --grid {input.grid:q} --out {output:q} > {log:q} 2>&1"
