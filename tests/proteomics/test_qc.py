import numpy as np
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.detect import sniff
from neurofusion.proteomics.olink_long import read_olink_long
from neurofusion.proteomics.qc import apply_lod_policy, select_rows
from neurofusion.proteomics.qc_log import QcLog
from neurofusion.proteomics.samples import SampleMatcher, read_participants


def select(path, participants=None, warn="flag", lod="keep"):
    log = QcLog(quiet=True)
    matcher = SampleMatcher(read_participants(participants, "participant_id") if participants else None)
    rows = select_rows(read_olink_long(sniff(path)), matcher, warn, lod, log)
    return rows, log.frame()


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
