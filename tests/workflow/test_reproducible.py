"""Same inputs, same outputs: on one core or two, on a quiet or a loaded machine.

A private copy of the finished tiny run (``--cores 2``, quiet) reruns one job of every
rule from preprocessing on with ``--cores 1`` while two busy processes keep both cores
loaded, and every output must come back with the same bytes: no step may read the clock to
decide what to compute, and no step may take its thread count from the machine (a float
reduction split over other threads gives other bits).

The jobs rerun in layers, one Snakemake call each, forced by output file. Within a layer
no job is upstream of another; each layer reads the bytes the one before it wrote, and
after each the files' times are set back to the copy's, so that a rerun job does not make
everything downstream of it out of date (that would be the whole workflow again, mostly
training jobs running the same code as the one rerun here). Which jobs each call ran is
asserted, so the layering cannot silently run less; the bytes are compared at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import Job, assert_same_results, planned_jobs, rules_of

pytestmark = pytest.mark.slow

BUSY = "while True: pass"
# Not rerun here: the demo cohort's bytes do not depend on its worker count (tests/demo/
# test_cohort.py) and the template and patch grid are resampling and arithmetic on one thread.
UPSTREAM = {"demo_cohort", "template", "patch_grid"}


def _layers(run) -> list[list[tuple[str, Job]]]:
    """(target, the job it forces), layer by layer, in the order the workflow runs them.

    Pretraining reads every subject's patches, so it has a layer of its own after the
    preprocessing and patch jobs; fold 0's train job trains every variant (the baselines, then
    the transformers from their linear starts).
    """
    def one(folder: str, subject: str, pattern: str) -> str:
        path = next((run.results / folder / f"sub-{subject}").rglob(pattern))
        return str(path.relative_to(run.root))

    r, fold0 = "results", {"fold": "0"}
    return [
        [(one("preprocess", "002", "*_desc-qc_T1w.png"), Job("preprocess_t1", {"subject": "002"})),
         (one("patches", "003", "*_desc-patches.npy"), Job("extract_patches", {"subject": "003"})),
         ("proteins", Job("proteins"))],
        [("pretrain_encoder", Job("pretrain_encoder")), ("cohort", Job("cohort"))],
        [(f"{r}/embeddings/shard-001.parquet", Job("embed_patches", {"shard": "001"}))],
        [("ceiling", Job("ceiling")),
         (f"{r}/train/fusion/fold-0/model.pt", Job("train", fold0)),
         (f"{r}/train_shuffled/fusion/fold-0/model.pt", Job("train_shuffled", fold0))],
        [(f"{r}/attention/fusion/attention.parquet", Job("export_attention", {"variant": "fusion"})),
         (f"{r}/eval/metrics.tsv", Job("evaluate"))],
        [(f"{r}/eval/summary.html", Job("summary"))],
    ]


def _key(job: Job) -> tuple:
    return job.rule, tuple(sorted((k, v) for k, v in job.wildcards.items() if v))  # no ses: ses=''


def _file_times(root) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def _set_back(times: dict[str, tuple[int, int]]) -> None:
    for path, ns in times.items():
        os.utime(path, ns=ns)


def test_one_core_under_load_gives_the_same_bytes(tiny_run, tmp_path):
    run = tiny_run.copy(tmp_path / "run")
    layers = _layers(run)
    every_rule = rules_of(run.dry_run("--forceall")) - UPSTREAM
    assert every_rule == {job.rule for layer in layers for _, job in layer}, "a layer for every rule, no more"

    times = _file_times(run.results)
    load = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        for layer in layers:
            targets = [t for t, _ in layer]
            out = run.snakemake(*targets, "--forcerun", *targets, cores=1, timeout=1200)
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
            ran = sorted(map(_key, planned_jobs(out.stdout + out.stderr)))
            assert ran == sorted(_key(j) for _, j in layer), f"{targets}: ran {ran}"
            _set_back(times)
    finally:
        for p in load:
            p.kill()
            p.wait()
    assert_same_results(tiny_run.results, run.results)
