"""The workflow plans what it should: lint, the default (demo) DAG, a user's BIDS config."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args, cwd=ROOT):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run([*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(cwd), *args],
                          cwd=cwd, capture_output=True, text=True, env=env)


def planned(result) -> dict[str, int]:
    """rule -> job count from the 'Job stats' table of a dry run."""
    stats = result.stdout.split("Job stats:")[1].split("\n\n")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def test_lint_is_clean():
    out = snakemake("--lint", "--configfile", str(ROOT / "config" / "config.yaml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr


def test_default_config_plans_every_stage(tmp_path):
    out = snakemake("-n", "--configfile", str(ROOT / "config" / "config.yaml"), "--config", f"results={tmp_path}/r")
    assert out.returncode == 0, out.stderr
    jobs = planned(out)
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    n_scans = cfg["demo_cohort"]["n_subjects"] - cfg["demo_cohort"]["n_without_scan"]
    assert jobs["demo_cohort"] == 1
    assert jobs["preprocess_t1"] == jobs["extract_patches"] == n_scans
    assert jobs["train"] == len(cfg["variants"]) * cfg["cohort"]["folds"]
    for rule in ("patch_grid", "proteins", "cohort", "pretrain_encoder", "embed_patches",
                 "evaluate", "export_attention", "summary"):
        assert jobs.get(rule, 0) >= 1, rule


@pytest.fixture
def user_bids(tmp_path):
    bids = tmp_path / "bids"
    for sub, ses in (("01", None), ("02", "bl"), ("03", None)):
        anat = bids / f"sub-{sub}" / (f"ses-{ses}" if ses else "") / "anat"
        anat.mkdir(parents=True)
        name = f"sub-{sub}_ses-{ses}_T1w.nii.gz" if ses else f"sub-{sub}_T1w.nii.gz"
        (anat / name).write_bytes(b"")
    (bids / "participants.tsv").write_text("participant_id\tdiagnosis\nsub-01\tCN\nsub-02\tAD\nsub-03\tAD\nsub-04\tCN\n")
    assay = tmp_path / "npx.csv"
    assay.write_text("SampleID;NPX\n")
    config = {"bids_dir": str(bids), "proteomics": [str(assay)], "results": str(tmp_path / "res"),
              "embedding": {"shard_size": 2}}
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_user_config_plans_the_right_jobs(user_bids):
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode == 0, out.stderr
    jobs = planned(out)
    assert "demo_cohort" not in jobs
    assert jobs["preprocess_t1"] == 3 and jobs["embed_patches"] == 2
    assert "sub-02_ses-bl_space-MNI152NLin2009aSym_res-2_desc-preproc_T1w.nii.gz" in out.stdout


def test_bad_config_names_the_key(user_bids):
    cfg = yaml.safe_load(user_bids.read_text())
    cfg["cohort"] = {"folds": 1}
    user_bids.write_text(yaml.safe_dump(cfg))
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode != 0
    assert "config: cohort.folds: 1 is less than the minimum of 2" in out.stdout + out.stderr


def test_bad_participant_id_is_one_line(user_bids, tmp_path):
    (tmp_path / "bids" / "participants.tsv").write_text("participant_id\tdiagnosis\nsub-0_1\tCN\n")
    out = snakemake("-n", "--configfile", str(user_bids))
    assert out.returncode != 0
    line = [l for l in (out.stdout + out.stderr).splitlines() if "participants.tsv row 2" in l]
    assert line and "participant_id" in line[0]
