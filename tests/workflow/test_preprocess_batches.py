"""preprocess.scans_per_job: several scans per preprocessing job, the same bytes as one per scan.

A private copy of the finished tiny run (one job per scan) switches to batches of about three
scans and redoes its preprocessing and patch extraction (one job per batch each): every
output must come back byte for byte, and afterwards a changed scan reruns its own batch and
no other.
"""

from __future__ import annotations

import os

import pytest
import yaml

from neurofusion.imaging.batches import scan_batches

from .conftest import planned_jobs

pytestmark = pytest.mark.slow

SCANS_PER_JOB = 3


def _batched(run):
    override = run.root / "batched.yaml"
    override.write_text(yaml.safe_dump({"preprocess": {"scans_per_job": SCANS_PER_JOB}}))
    run.configfiles.append(override)
    return run


def test_batches_give_the_bytes_of_one_job_per_scan_and_rerun_alone(tiny_run, tiny_copy):
    run = _batched(tiny_copy)
    preprocessed = sorted(p.relative_to(run.root) for p in (run.results / "preprocess").rglob("*") if p.is_file())
    labels = sorted({p.parts[2].removeprefix("sub-") for p in preprocessed})
    batches = scan_batches(labels, SCANS_PER_JOB)
    assert 1 < len(batches) < len(labels), "the tiny cohort should make several batches of several scans"

    patches = sorted(p.relative_to(run.root) for p in (run.results / "patches").glob("sub-*/*.npy"))
    assert len(patches) == len(labels)
    # forced: a batch whose set of scans is that of the old per-scan job (one scan) would be up to date
    rules = sorted(f"{step}_batch_{b[0]}" for b in batches for step in ("preprocess", "extract_patches"))
    out = run.snakemake(*map(str, preprocessed + patches), "--forcerun", *rules, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
    assert sorted(j.rule for j in planned_jobs(out.stdout + out.stderr)) == rules
    for rel in preprocessed + patches:
        assert (run.root / rel).read_bytes() == (tiny_run.root / rel).read_bytes(), rel
    for step in ("preprocess", "patches"):
        logs = sorted(p.name for p in (run.results / "logs" / step).glob("batch-*.log"))
        assert logs == sorted(f"batch-{b[0]}.log" for b in batches), step

    # a changed scan (newer file) reruns the one batch that holds it
    middle = next(b for b in batches if len(b) > 1)
    scan = next((run.results / "demo" / "bids" / f"sub-{middle[-1]}").rglob("*_T1w.nii*"))
    os.utime(scan)
    again = sorted(j.rule for j in run.dry_run(*map(str, preprocessed + patches)))
    assert again == [f"extract_patches_batch_{middle[0]}", f"preprocess_batch_{middle[0]}"]
