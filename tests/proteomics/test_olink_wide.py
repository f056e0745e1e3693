import numpy as np
import pyarrow as pa
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.detect import sniff
from neurofusion.proteomics.olink_wide import read_olink_wide


def table_of(path):
    m = read_olink_wide(sniff(path))
    return m, pa.Table.from_batches(list(m.batches)).to_pandas()


@pytest.mark.parametrize("name,sep,decimal", [("t96.csv", ";", ","), ("t96c.csv", ",", "."), ("t96.xlsx", None, None)])
def test_reads_target96_wide_export(write_wide, name, sep, decimal):
    path = write_wide(name, sep=sep, decimal=decimal) if sep else write_wide(name)
    m, t = table_of(path)
    assert m.kind == "olink_wide" and m.scale == "log2"
    assert len(t) == 3 * 4  # 3 sample rows x 4 assays (controls are dropped later, by QC)
    il6 = t[t.protein_id == "OID00001"].set_index("sample_id")
    assert il6.loc["002", "value"] == 3.5 and il6.loc["002", "lod"] == 3.0
    assert il6.loc["002", "uniprot"] == "P05231" and il6.loc["002", "assay"] == "IL6"
    assert il6.loc["002", "panel"] == "Olink Target 96 Inflammation(v.3012)"
    assert il6.loc["002", "qc_warning"] == "Warning" and il6.loc["002", "plate_id"] == "PLATE1"
    nrgn = t[t.protein_id == "OID00102"].set_index("sample_id")
    assert np.isnan(nrgn.loc["002", "value"])                # "NaN" cell -> missing
    assert nrgn.loc["002", "qc_warning"] == "Pass"           # second panel's QC Warning column


@pytest.mark.parametrize("name", ["t96.csv", "t96.xlsx"])
def test_a_bad_cell_is_a_row_with_its_problem(write_wide, name):
    from .npx_rows import WIDE_ROWS

    rows = [list(r) for r in WIDE_ROWS]
    rows[8][3] = "oops"                                        # sample 002, NEFL
    m, t = table_of(write_wide(name, rows=rows))
    bad = t[t.problem.notna()]
    assert list(bad.index) == [7] and bad.problem.iloc[0] == "column NEFL: 'oops' is not a number"
    assert (bad.sample_id.iloc[0], bad.assay.iloc[0]) == ("002", "NEFL") and np.isnan(bad.value.iloc[0])
    assert m.where(7) == "row 9, field 4"
    assert t.value.notna().sum() == 12 - 2                     # the bad cell and the "NaN" cell


def test_a_bad_lod_cell_stops_the_file(write_wide):
    from .npx_rows import WIDE_ROWS

    rows = [list(r) for r in WIDE_ROWS]
    rows[11][2] = "x"  # the LOD row holds one value per assay: no participant to leave out
    with pytest.raises(NeurofusionError) as err:
        read_olink_wide(sniff(write_wide(rows=rows)))
    assert "row 12" in str(err.value) and "'x'" in str(err.value) and "\n" not in str(err.value)


def test_qc_columns_must_match_panels(write_wide):
    from .npx_rows import WIDE_ROWS

    rows = [list(r) for r in WIDE_ROWS]
    rows[3] = rows[3][:5] + ["QC Warning", "QC Warning", "QC Warning", "Plate ID"]  # 3 QC columns, 2 panels
    with pytest.raises(NeurofusionError, match="QC Warning"):
        read_olink_wide(sniff(write_wide(rows=rows)))


def test_quantified_export_with_unit_row_and_plate_lods(write_wide):
    rows = [
        ["Olink Target 96 export"], ["Quantified data"],
        ["Panel", "Olink Target 96 Inflammation(v.3012)", ""],
        ["Assay", "IL6", "Plate ID"],
        ["Uniprot ID", "P05231", ""],
        ["OlinkID", "OID00001", ""],
        ["Unit", "pg/mL", ""],
        [],
        ["S1", 2.0, "PLATE1"],
        ["S2", 8.0, "PLATE2"],
        [],
        ["Plate LOD", 1.0, ""],
        ["Plate LOD", 4.0, ""],
    ]
    m, t = table_of(write_wide(rows=rows, sep=",", decimal="."))
    assert m.scale == "linear"
    assert list(t.lod) == [1.0, 4.0] and list(t.value) == [2.0, 8.0]
