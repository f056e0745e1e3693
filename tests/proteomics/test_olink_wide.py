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


def test_non_numeric_cell_names_row_and_field(write_wide):
    from .npx_rows import WIDE_ROWS

    rows = [list(r) for r in WIDE_ROWS]
    rows[8][3] = "oops"
    with pytest.raises(NeurofusionError) as err:
        read_olink_wide(sniff(write_wide(rows=rows)))
    message = str(err.value)
    assert "row 9" in message and "NEFL (field 4)" in message and "'oops'" in message and "\n" not in message


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
