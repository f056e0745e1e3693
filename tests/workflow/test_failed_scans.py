"""preprocess.on_error: a scan that cannot be read or registered, in a real workflow run.

Two scans of a private copy of the tiny run are damaged (one truncated, one all zeros);
under the default `exclude` the run goes to the end and names both, with their reasons, in
excluded.tsv and in the summary's "At a glance"; under `stop` the damaged scan's job fails
and its log names the file. The same run has one NPX cell that is not a number
(proteins.on_error: exclude): its participant's proteins are named the same way.
"""

import html

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from .conftest import failure_report, planned_jobs

pytestmark = pytest.mark.slow

TRUNCATED, ZERO = "003", "005"


def _scan(run, subject):
    return run.results / "demo" / "bids" / f"sub-{subject}" / "anat" / f"sub-{subject}_T1w.nii.gz"


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _zero(path):
    img = nib.load(path)
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.int16), img.affine, img.header), path)


def _spoil_one_npx_cell(run) -> tuple[str, str]:
    """NPX 'abc' in the first row of a participant with a scan; -> (participant, expected reason)."""
    path = run.results / "demo" / "olink_explore_npx.csv"
    table = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    spared = {f"sub-{s}" for s in (TRUNCATED, ZERO)}
    i = next(i for i, sid in enumerate(table["SampleID"]) if sid.startswith("sub-") and sid not in spared
             and (run.results / "demo" / "bids" / sid).is_dir())
    table.loc[i, "NPX"] = "abc"
    table.to_csv(path, sep=";", index=False, lineterminator="\n")
    reason = f"protein measurements excluded: {path.name} line {i + 2}, column NPX: 'abc' is not a number"
    return table.loc[i, "SampleID"], reason


def test_damaged_scans_are_excluded_with_their_reasons_and_the_run_ends(tiny_copy):
    _truncate(_scan(tiny_copy, TRUNCATED))
    _zero(_scan(tiny_copy, ZERO))
    bad_proteins, protein_reason = _spoil_one_npx_cell(tiny_copy)
    plan = tiny_copy.dry_run()
    assert {j.subject for j in plan if j.rule == "preprocess_t1"} == {TRUNCATED, ZERO}  # only what changed

    out = tiny_copy.snakemake()
    assert out.returncode == 0, failure_report(out, tiny_copy.root)

    excluded = pd.read_csv(tiny_copy.results / "cohort" / "excluded.tsv", sep="\t")
    mri = excluded[excluded["scope"] == "mri"].set_index("participant_id")["reason"]
    truncated, zero = mri[f"sub-{TRUNCATED}"], mri[f"sub-{ZERO}"]
    scan_path = f"results/demo/bids/sub-{TRUNCATED}/anat/sub-{TRUNCATED}_T1w.nii.gz"
    assert truncated.startswith(f"preprocessing failed: {scan_path}: ") and "truncated" in truncated
    assert zero.startswith("preprocessing failed: ") and "no signal" in zero
    cohort = pd.read_parquet(tiny_copy.results / "cohort" / "participants.parquet").set_index("participant_id")
    # sub-005 keeps its proteins (sub-003 has none in this draw: it leaves the cohort, with that reason too)
    assert not cohort.loc[f"sub-{ZERO}", "has_mri"] and cohort.loc[f"sub-{ZERO}", "has_proteins"]
    proteins = excluded[excluded["scope"] == "proteins"].set_index("participant_id")["reason"]
    assert proteins[bad_proteins] == protein_reason  # the row's participant loses its proteins, keeps its scan
    assert cohort.loc[bad_proteins, "has_mri"] and not cohort.loc[bad_proteins, "has_proteins"]

    page = html.unescape((tiny_copy.results / "eval" / "summary.html").read_text())
    glance = page.split("At a glance", 1)[1].split("</ul>", 1)[0]
    assert "2 scan(s) could not be used" in glance
    assert f"sub-{TRUNCATED} ({truncated})" in glance and f"sub-{ZERO} ({zero})" in glance
    assert "the protein measurements of 1 participant(s) could not be used" in glance
    assert f"{bad_proteins} ({protein_reason})" in glance
    assert tiny_copy.dry_run() == []  # the failure records satisfy every rule: nothing left to do


def test_damaged_scan_stops_its_job_under_stop(tiny_copy):
    _truncate(_scan(tiny_copy, TRUNCATED))
    stop = tiny_copy.root / "stop.yaml"
    stop.write_text("preprocess:\n  on_error: stop\n")
    tiny_copy.configfiles.append(stop)
    metrics = next((tiny_copy.results / "preprocess" / f"sub-{TRUNCATED}" / "anat").glob("*_desc-metrics.json"))
    target = str(metrics.relative_to(tiny_copy.root))
    assert {j.rule for j in planned_jobs(tiny_copy.snakemake("-n", target).stdout)} == {"preprocess_t1"}

    out = tiny_copy.snakemake(target)
    assert out.returncode != 0
    log = (tiny_copy.results / "logs" / "preprocess" / f"sub-{TRUNCATED}.log").read_text().strip().splitlines()
    assert f"sub-{TRUNCATED}_T1w.nii.gz" in log[-1] and "truncated" in log[-1]
    assert not metrics.exists()  # Snakemake removes a failed job's outputs; the step writes none
