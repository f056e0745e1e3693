import numpy as np
import pandas as pd
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.detect import sniff
from neurofusion.proteomics.qc import apply_lod_policy, drop_participants, select_rows
from neurofusion.proteomics.qc_log import QcLog
from neurofusion.proteomics.readers import read_measurements
from neurofusion.proteomics.samples import SampleMatcher, read_participants

from .npx_rows import LONG_ROWS, WIDE_ROWS, as_container


def select(path, participants=None, warn="flag", lod="keep", on_error="stop"):
    log = QcLog(quiet=True)
    matcher = SampleMatcher(read_participants(participants, "participant_id") if participants else None)
    rows = select_rows(read_measurements(sniff(path), None), matcher, warn, lod, log, on_error)
    return rows, log.frame()


def one_bad_cell(kind, tmp_path, write_long, write_wide):
    """An export of `kind` in which participant 002 has one cell 'oops'; -> (path, where and what)."""
    if kind.startswith("long"):
        rows = list(LONG_ROWS)
        rows[3] = rows[3][:-1] + ("oops",)  # 002 NEFL
        path = as_container(write_long(rows=rows), kind.split("_")[1])
        where = "row 4" if kind == "long_parquet" else "line 5"
        return path, f"{where}, column NPX: 'oops' is not a number"
    if kind.startswith("wide"):
        rows = [list(r) for r in WIDE_ROWS]
        rows[8][3] = "oops"  # 002 NEFL
        return write_wide(f"t96.{kind.split('_')[1]}", rows=rows), "row 9, field 4, column NEFL: 'oops' is not a number"
    frame = pd.DataFrame({"sample": ["001", "002", "003"], "NfL": ["10", "oops", "12"], "GFAP": ["1", "2", "3"]})
    container = kind.split("_")[1]
    path = tmp_path / f"wide.{container}"
    if container == "csv":
        frame.to_csv(path, index=False)
    elif container == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.assign(GFAP=[1.0, 2.0, 3.0]).to_excel(path, index=False)
    return path, "row 3, field 2, column NfL: 'oops' is not a number"


KINDS = ["long_csv", "long_parquet", "long_xlsx", "wide_csv", "wide_xlsx", "generic_csv", "generic_parquet",
         "generic_xlsx"]


@pytest.mark.parametrize("kind", KINDS)
def test_on_error_stop_names_the_first_bad_cell(kind, tmp_path, write_long, write_wide):
    path, problem = one_bad_cell(kind, tmp_path, write_long, write_wide)
    with pytest.raises(NeurofusionError) as err:
        select(path, on_error="stop")
    assert str(err.value) == f"{path}: {problem} (correct the cell, or leave it empty (or NA) for a missing value)"


@pytest.mark.parametrize("kind", KINDS)
def test_on_error_exclude_drops_the_row_and_names_the_participant(kind, tmp_path, write_long, write_wide):
    path, problem = one_bad_cell(kind, tmp_path, write_long, write_wide)
    rows, log = select(path, on_error="exclude")
    assert rows.failed == {"sub-002": (problem, 1)}
    assert log.set_index("item").value[f"bad_value:{path.name}"] == 1
    assert "sub-001" in rows.participants and not np.isnan(rows.value).all()
    assert "dropped_sample" not in set(log.section)  # the bad row is not a QC-warning drop


def test_a_bad_cell_of_a_control_is_dropped_with_the_control(write_long):
    rows = list(LONG_ROWS)
    rows[4] = rows[4][:-1] + ("oops",)  # CONTROL_SAMPLE_1
    kept, log = select(write_long(rows=rows), on_error="exclude")
    assert kept.failed == {} and "bad_value:npx.csv" not in set(log.item)
    with pytest.raises(NeurofusionError, match="line 6, column NPX: 'oops'"):
        select(write_long(rows=rows), on_error="stop")


def test_every_participant_with_a_bad_cell_stops_the_file_under_exclude(write_long):
    rows = [r[:-1] + ("1.2",) if r[1] == "SAMPLE" else r for r in LONG_ROWS]
    rows = [r[:-1] + ("1,2",) if r[0] in ("sub-001", "002", "003") and r[2] == "OID20001" else r for r in rows]
    with pytest.raises(NeurofusionError) as err:
        select(write_long(rows=rows), on_error="exclude")
    message = str(err.value)
    assert "line 2, column NPX: '1,2' is not a number, and every sample of the file has such a cell" in message
    assert "decimal mark" in message and "\n" not in message


def test_drop_participants_removes_their_rows_and_renumbers(write_long):
    rows, _ = select(write_long())
    before = len(rows.value)
    mine = int((np.asarray(rows.participants)[rows.participant] == "sub-002").sum())
    assert drop_participants(rows, {"sub-002"}) == mine
    assert rows.participants == ["sub-001", "sub-003"] and len(rows.value) == before - mine
    assert set(rows.participant.tolist()) == {0, 1} and "sub-002" not in rows.sample_ids
    assert drop_participants(rows, {"sub-999"}) == 0


def test_controls_dropped_and_counted(write_long):
    rows, log = select(write_long())
    assert rows.participants == ["sub-001", "sub-002", "sub-003"]
    dropped = log[log.section == "dropped"].set_index("item").value
    assert dropped["control_sample_type:npx.csv"] == 2
    assert set(log[log.section == "control_sample"].item) == {"CONTROL_SAMPLE_1", "NEG_1"}
    assert len(rows.value) == 6


def test_control_ids_dropped_without_sample_type(tmp_path):
    path = tmp_path / "npx.csv"
    path.write_text("SampleID,OlinkID,UniProt,Assay,NPX\nCONTROL_SAMPLE_AS 1,O1,P1,A,1\nS1,O1,P1,A,2\n")
    rows, log = select(path)
    assert rows.participants == ["sub-S1"]
    assert log.set_index("item").value["control_sample_id:npx.csv"] == 1


def test_unmatched_samples_are_reported(write_long, participants):
    rows, log = select(write_long(), participants=participants)
    assert rows.participants == ["sub-001", "sub-002"]
    assert list(log[log.section == "unmatched_sample"].item) == ["003"]


@pytest.mark.parametrize("policy,kept,flagged", [("flag", 6, 1), ("drop", 5, 0)])
def test_warn_policy(write_long, policy, kept, flagged):
    rows, _ = select(write_long(), warn=policy)
    assert len(rows.value) == kept and int(rows.qc_warning.sum()) == flagged


@pytest.mark.parametrize("policy,expected", [("keep", 0.25), ("lod", 0.5), ("half_lod", -0.5), ("missing", np.nan)])
def test_lod_policy_on_log2_npx(write_long, policy, expected):
    rows, _ = select(write_long(), lod=policy)
    # sub-001 NEFL: NPX 0.25 < LOD 0.5 (half LOD on the log2 scale is LOD - 1)
    i = int(np.flatnonzero(rows.below_lod)[0])
    np.testing.assert_equal(rows.value[i], expected)
    assert int(rows.below_lod.sum()) == 1


def test_half_lod_on_linear_values_halves():
    out = apply_lod_policy(np.array([1.0, 5.0]), np.array([4.0, 4.0]), np.array([True, False]), "half_lod", "linear")
    np.testing.assert_array_equal(out, [2.0, 5.0])


def test_assay_with_two_uniprot_ids_is_an_error(write_long):
    from .npx_rows import LONG_ROWS

    rows = list(LONG_ROWS)
    rows[2] = rows[2][:3] + ("P99999",) + rows[2][4:]
    with pytest.raises(NeurofusionError) as err:
        select(write_long(rows=rows))
    message = str(err.value)
    assert "line 4" in message and "OID20001" in message and "P99999" in message and "line 2" in message


def test_file_without_real_samples_is_an_error(write_long, participants):
    from .npx_rows import LONG_ROWS

    with pytest.raises(NeurofusionError, match="no real samples left"):
        select(write_long(rows=[r for r in LONG_ROWS if r[0] in ("003", "CONTROL_SAMPLE_1")]),
               participants=participants)
