"""Planning does not read files per job: the BIDS folder is listed once, at parse time.

Runs `snakemake -n` on placeholder cohorts of two sizes with a Python audit hook that
counts what touches the BIDS folder (open, glob, listdir, scandir). Per-job input
functions that opened or globbed files would make those counts grow with the number of
subjects; one listing pass may only grow by a few directory reads per subject.
(benchmarks/bench_dag.py times the same planning at 10,000 subjects.)
"""

import json
import subprocess
import sys

from .conftest import copy_workflow, snakemake_env

AUDITED = '''
import json, os, sys
root = os.path.realpath(os.environ["NF_AUDIT_DIR"])
counts = {"open": 0, "glob.glob": 0, "os.listdir": 0, "os.scandir": 0}

def under_root(path):
    try:
        return os.path.realpath(os.fsdecode(path)).startswith(root)
    except (TypeError, ValueError):
        return False

def hook(event, args):
    if event in counts and args and args[0] is not None and under_root(args[0]):
        counts[event] += 1

sys.addaudithook(hook)
from snakemake.cli import main
try:
    main(sys.argv[1:])
finally:
    with open(os.environ["NF_AUDIT_OUT"], "w") as f:
        json.dump(counts, f)
'''


def placeholder_cohort(root, n):
    bids = root / "bids"
    rows = ["participant_id\tdiagnosis"]
    for i in range(1, n + 1):
        anat = bids / f"sub-{i:04d}" / "anat"
        anat.mkdir(parents=True)
        (anat / f"sub-{i:04d}_T1w.nii.gz").touch()
        rows.append(f"sub-{i:04d}\t{'AD' if i % 2 else 'CN'}")
    (bids / "participants.tsv").write_text("\n".join(rows) + "\n")
    (root / "npx.csv").write_text("SampleID;NPX\n")
    config = root / "cfg.yaml"
    config.write_text(f"bids_dir: {bids}\nproteomics: [npx.csv]\nresults: results\n")
    return bids, config


def audited_dry_run(tmp_path, n):
    work = tmp_path / f"n{n}"
    copy_workflow(work)
    bids, config = placeholder_cohort(work, n)
    script = work / "audited_snakemake.py"
    script.write_text(AUDITED)
    env = dict(snakemake_env(), NF_AUDIT_DIR=str(bids), NF_AUDIT_OUT=str(work / "audit.json"))
    out = subprocess.run([sys.executable, str(script), "-n", "--cores", "1", "--quiet", "rules",
                          "--configfile", str(config)], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return json.loads((work / "audit.json").read_text())


def test_bids_folder_is_read_once_not_per_job(tmp_path):
    small, large = audited_dry_run(tmp_path, 10), audited_dry_run(tmp_path, 40)
    # files opened and globs run: the same for 10 and 40 subjects (participants.tsv, 2 patterns)
    assert small["open"] == large["open"] and small["glob.glob"] == large["glob.glob"], (small, large)
    assert large["glob.glob"] >= 1, "the BIDS folder was never listed: is the audit hook working?"
    # one listing pass: a bounded number of directory reads per extra subject
    listings = lambda c: c["os.listdir"] + c["os.scandir"]  # noqa: E731
    assert listings(large) - listings(small) <= 2.5 * 30, (small, large)
