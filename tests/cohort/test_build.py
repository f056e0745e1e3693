import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.cohort import build_cohort
from neurofusion.errors import NeurofusionError


def write_matrix(path, values: dict[str, list[float]]):
    ids = list(values)
    k = len(next(iter(values.values())))
    flat = pa.array(np.array([values[i] for i in ids], dtype=np.float32).ravel())
    table = pa.table({
        "participant_id": ids,
        "values": pa.FixedSizeListArray.from_arrays(flat, k),
        "below_lod": pa.FixedSizeListArray.from_arrays(pa.array([False] * (k * len(ids))), k),
        "qc_warning": pa.FixedSizeListArray.from_arrays(pa.array([False] * (k * len(ids))), k),
    })
    pq.write_table(table, path)


def write_metrics(root, pid, qc_pass=True, reason=None, failed=False):
    d = root / pid / "anat"
    d.mkdir(parents=True, exist_ok=True)
    record = {"qc_pass": False, "qc_reason": reason, "failed": True} if failed else \
        {"qc_pass": qc_pass, "qc_reason": reason, "dice": 0.95}
    (d / f"{pid}_space-MNI152NLin2009aSym_res-2_desc-metrics.json").write_text(json.dumps(record))


@pytest.fixture
def cohort_files(tmp_path):
    n = 12
    ids = [f"sub-{i:02d}" for i in range(1, n + 1)]
    labels = ["CN", "AD"] * (n // 2)
    part = pd.DataFrame({"participant_id": ids, "diagnosis": labels, "age": range(60, 60 + n)})
    part.loc[len(part)] = ["sub-99", "MCI", 70]      # label outside classes
    part.loc[len(part)] = ["sub-98", "", 71]         # no label
    part.to_csv(tmp_path / "participants.tsv", sep="\t", index=False)
    metrics = tmp_path / "preprocess"
    for pid in ids[:-1]:                              # the last has no scan
        write_metrics(metrics, pid, qc_pass=pid != "sub-03", reason="dice 0.60 < 0.85" if pid == "sub-03" else None)
    write_metrics(metrics, "sub-77")                  # scan, but not in the table
    values = {pid: [1.0, 2.0] for pid in ids[1:]}     # sub-01 has no proteins
    values["sub-05"] = [float("nan")] * 2             # all missing
    write_matrix(tmp_path / "matrix.parquet", values)
    return tmp_path


def run(files, **kw):
    return build_cohort(files / "participants.tsv", files / "matrix.parquet", files / "preprocess",
                        classes=["CN", "AD"], folds=3, seed=1, **kw)


def test_modalities_and_reasons(cohort_files):
    cohort, excluded = run(cohort_files)
    row = cohort.set_index("participant_id")
    assert not row.loc["sub-01", "has_proteins"] and row.loc["sub-01", "has_mri"]
    assert not row.loc["sub-03", "has_mri"]
    assert not row.loc["sub-12", "has_mri"] and row.loc["sub-12", "has_proteins"]
    assert not row.loc["sub-05", "has_proteins"]
    reasons = excluded.groupby("participant_id")["reason"].apply(" | ".join)
    assert "QC failed: dice 0.60" in reasons["sub-03"]
    assert "not one of classes" in reasons["sub-99"]
    assert "no value" in reasons["sub-98"]
    assert "no row in the participants table" in reasons["sub-77"]
    assert "no T1w scan" in reasons["sub-12"]
    assert {"sub-99", "sub-98", "sub-77"}.isdisjoint(cohort["participant_id"])
    assert cohort["age"].tolist()[0] is not None  # passthrough columns kept


def test_a_failure_record_excludes_the_scan_with_its_reason(cohort_files):
    write_metrics(cohort_files / "preprocess", "sub-04", failed=True,
                  reason="bids/sub-04/anat/sub-04_T1w.nii.gz: not a readable NIfTI (truncated)")
    cohort, excluded = run(cohort_files)
    row = cohort.set_index("participant_id").loc["sub-04"]
    assert not row["has_mri"] and row["has_proteins"]
    mine = excluded[excluded["participant_id"] == "sub-04"]
    assert mine[["scope", "reason"]].values.tolist() == [
        ["mri", "preprocessing failed: bids/sub-04/anat/sub-04_T1w.nii.gz: not a readable NIfTI (truncated)"]]


def write_protein_qc(path, excluded: dict[str, str]):
    rows = [("summary", "participants", "10", "with at least one protein value")]
    rows += [("excluded_participant", pid, "1", reason) for pid, reason in excluded.items()]
    pd.DataFrame(rows, columns=["section", "item", "value", "detail"]).to_csv(path, sep="\t", index=False)


def test_proteins_left_out_for_a_bad_cell_are_excluded_with_the_cell(cohort_files):
    # the proteins step (on_error: exclude) wrote sub-06 to qc.tsv and left it out of the matrix
    values = {pid: [1.0, 2.0] for pid in [f"sub-{i:02d}" for i in range(2, 13)] if pid != "sub-06"}
    write_matrix(cohort_files / "matrix.parquet", values)
    cell = "npx.csv line 5, column NPX: 'abc' is not a number"
    write_protein_qc(cohort_files / "qc.tsv", {"sub-06": cell, "sub-50": cell})
    cohort, excluded = run(cohort_files, protein_qc=cohort_files / "qc.tsv")
    row = cohort.set_index("participant_id").loc["sub-06"]
    assert row["has_mri"] and not row["has_proteins"]
    mine = excluded[excluded["participant_id"] == "sub-06"]
    assert mine[["scope", "reason"]].values.tolist() == [["proteins", f"protein measurements excluded: {cell}"]]
    assert excluded.set_index("participant_id").loc["sub-01", "reason"] == "no protein measurements"
    assert excluded.set_index("participant_id").loc["sub-50", "reason"] == \
        "has protein measurements but no row in the participants table"


def test_a_bad_cell_reaches_excluded_tsv_through_both_steps(cohort_files):
    from neurofusion.cli import main

    repo = Path(__file__).resolve().parents[2]
    table = cohort_files / "simoa.csv"
    lines = ["sample,NfL,GFAP"] + [f"{i:02d},{10 + i},{i}.5" for i in range(2, 13)]
    lines[5] = "06,1.2.3,6.5"  # sub-06's NfL
    table.write_text("\n".join(lines) + "\n")
    out = cohort_files / "proteins"
    assert main(["proteins", "--table", str(table), "--categories", str(repo / "config" / "protein_categories.tsv"),
                 "--participants", str(cohort_files / "participants.tsv"), "--on-error", "exclude",
                 "--out", str(out)]) == 0
    assert main(["cohort", "--participants", str(cohort_files / "participants.tsv"),
                 "--proteins", str(out / "matrix.parquet"), "--protein-qc", str(out / "qc.tsv"),
                 "--metrics-dir", str(cohort_files / "preprocess"), "--classes", "CN", "AD", "--folds", "3",
                 "--out", str(cohort_files / "cohort.parquet"), "--excluded", str(cohort_files / "excluded.tsv")]) == 0
    excluded = pd.read_csv(cohort_files / "excluded.tsv", sep="\t")
    mine = excluded[excluded["participant_id"] == "sub-06"]
    assert mine[["scope", "reason"]].values.tolist() == [
        ["proteins", "protein measurements excluded: simoa.csv row 6, field 2, column NfL: '1.2.3' is not a number"]]


def test_an_unreadable_protein_qc_record_is_one_line_error(cohort_files):
    (cohort_files / "qc.tsv").write_text("not\ta qc record\n")
    with pytest.raises(NeurofusionError, match="not a protein QC record") as err:
        run(cohort_files, protein_qc=cohort_files / "qc.tsv")
    assert "qc.tsv" in str(err.value) and "\n" not in str(err.value)


def test_every_subject_in_exactly_one_balanced_test_fold(cohort_files):
    cohort, _ = run(cohort_files)
    assert cohort["participant_id"].is_unique
    assert set(cohort["fold"]) == {0, 1, 2}
    per_fold = cohort.groupby(["fold", "label"]).size().unstack()
    assert (per_fold.max() - per_fold.min()).max() <= 1


def test_folds_do_not_depend_on_row_order(cohort_files):
    first, _ = run(cohort_files)
    table = pd.read_csv(cohort_files / "participants.tsv", sep="\t")
    table.iloc[::-1].to_csv(cohort_files / "participants.tsv", sep="\t", index=False)
    second, _ = run(cohort_files)
    pd.testing.assert_frame_equal(first[["participant_id", "fold"]], second[["participant_id", "fold"]])


def test_id_without_prefix_is_normalised(cohort_files):
    table = pd.read_csv(cohort_files / "participants.tsv", sep="\t", dtype=str)
    table["participant_id"] = table["participant_id"].str.replace("sub-", "", regex=False)
    table.to_csv(cohort_files / "participants.tsv", sep="\t", index=False)
    cohort, _ = run(cohort_files)
    assert cohort["participant_id"].str.startswith("sub-").all()


@pytest.mark.parametrize("bad_id, message", [("sub-0_1", "characters BIDS"), ("../etc", "characters BIDS")])
def test_bad_participant_id_is_one_line_error(cohort_files, bad_id, message):
    table = pd.read_csv(cohort_files / "participants.tsv", sep="\t", dtype=str)
    table.loc[2, "participant_id"] = bad_id
    table.to_csv(cohort_files / "participants.tsv", sep="\t", index=False)
    with pytest.raises(NeurofusionError, match=message) as err:
        run(cohort_files)
    assert "\n" not in str(err.value) and "participants.tsv" in str(err.value) and "row 4" in str(err.value)


def test_missing_label_column_names_the_key(cohort_files):
    with pytest.raises(NeurofusionError, match="label_column"):
        run(cohort_files, label_column="dx")


def test_duplicate_ids_rejected(cohort_files):
    table = pd.read_csv(cohort_files / "participants.tsv", sep="\t", dtype=str)
    table.loc[1, "participant_id"] = table.loc[0, "participant_id"]
    table.to_csv(cohort_files / "participants.tsv", sep="\t", index=False)
    with pytest.raises(NeurofusionError, match="row 3: sub-01 is already listed in row 2"):
        run(cohort_files)


def test_too_few_subjects_per_fold(cohort_files):
    with pytest.raises(NeurofusionError, match="fewer than cohort.folds"):
        build_cohort(cohort_files / "participants.tsv", cohort_files / "matrix.parquet",
                     cohort_files / "preprocess", classes=["CN", "AD"], folds=10, seed=1)
