"""Same inputs, same outputs: on one core or two, on a quiet or a loaded machine.

A private copy of the finished tiny run (``--cores 2``, quiet) reruns one subject's
imaging group, the proteins step and encoder pretraining (so every shard, every training
job, evaluation, attention and the summary run again) with ``--cores 1`` while two
busy processes keep both cores loaded. Every output must come back with the same bytes:
no step may read the clock to decide what to compute, and no step may take its thread
count from the machine (a float reduction split over other threads gives other bits).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import assert_same_results, rules_of

pytestmark = pytest.mark.slow

SUBJECT = "002"
BUSY = "while True: pass"


def test_one_core_under_load_gives_the_same_bytes(tiny_run, tmp_path):
    run = tiny_run.copy(tmp_path / "run")
    qc = next((run.results / "preprocess" / f"sub-{SUBJECT}" / "anat").glob("*_desc-qc_T1w.png"))
    targets = [str(qc.relative_to(run.root)), "proteins", "pretrain_encoder"]
    planned = rules_of(run.dry_run("--forcerun", *targets))
    assert {"preprocess_t1", "extract_patches", "proteins", "cohort", "pretrain_encoder", "embed_patches",
            "train", "evaluate", "export_attention", "summary"} <= planned

    load = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        out = run.snakemake("--forcerun", *targets, cores=1, timeout=1800)
    finally:
        for p in load:
            p.kill()
            p.wait()
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
    assert_same_results(tiny_run.results, run.results)
