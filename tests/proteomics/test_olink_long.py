import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.detect import sniff
from neurofusion.proteomics.olink_long import read_olink_long


def rows_of(path):
    m = read_olink_long(sniff(path))
    return m, pa.Table.from_batches(list(m.batches)).to_pydict()


@pytest.mark.parametrize("sep,decimal", [(";", "."), (",", "."), (";", ",")])
def test_reads_explore_long_csv(write_long, sep, decimal):
    m, t = rows_of(write_long(sep=sep, decimal=decimal))
    assert m.scale == "log2"
    assert t["sample_id"][:3] == ["sub-001", "sub-001", "002"]  # leading zeros kept
    assert t["protein_id"][0] == "OID20001" and t["uniprot"][1] == "P07196"
    assert t["sample_type"][4] == "CONTROL" and t["qc_warning"][2] == "WARN"
    assert t["value"][:2] == [2.5, 0.25] and t["lod"][1] == 0.5
    assert t["value"][6] is None  # NA


def test_accepts_olink_column_aliases(tmp_path):
    path = tmp_path / "npxs.csv"
    path.write_text("SampleID;SampleType;OID;UniProt;Assay;Panel;PlateID;SampleQC;AssayQC;PlateLOD;Quantified_value\n"
                    "S1;SAMPLE;OID1;P05231;IL6;Inflammation;P1;WARN;PASS;0.3;12.5\n")
    m, t = rows_of(path)
    assert m.scale == "linear"  # Quantified values, not log2 NPX
    assert t["sample_type"] == ["SAMPLE"] and t["protein_id"] == ["OID1"]
    assert t["qc_warning"] == ["WARN"] and t["assay_warning"] == ["PASS"]
    assert t["lod"] == [0.3] and t["value"] == [12.5]


def test_maxlod_used_when_no_lod(tmp_path):
    path = tmp_path / "t96long.csv"
    path.write_text("SampleID,OlinkID,UniProt,Assay,Panel,PlateID,QC_Warning,MaxLOD,NPX\nS1,O1,P1,A,P,PL,Pass,1.5,2\n")
    _, t = rows_of(path)
    assert t["lod"] == [1.5]


def test_reads_parquet_export(tmp_path):
    path = tmp_path / "explore.parquet"
    pq.write_table(pa.table({"SampleID": ["001", "CONTROL_1"], "SampleType": ["SAMPLE", "CONTROL"],
                             "OlinkID": ["O1", "O1"], "UniProt": ["P05231", "P05231"], "Assay": ["IL6", "IL6"],
                             "Panel": ["Inflammation"] * 2, "PlateID": ["P"] * 2, "NPX": [1.5, 2.0],
                             "SampleQC": ["PASS", "PASS"], "AssayQC": ["WARN", "PASS"]}), path)
    _, t = rows_of(path)
    assert t["sample_id"] == ["001", "CONTROL_1"] and t["value"] == [1.5, 2.0]
    assert t["assay_warning"] == ["WARN", "PASS"] and t["lod"] == [None, None]


def test_reads_long_xlsx(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["SampleID", "OlinkID", "UniProt", "Assay", "Panel", "QC_Warning", "LOD", "NPX"])
    book.active.append(["001", "O1", "P05231", "IL6", "Inflammation", "Pass", 0.5, 3.25])
    path = tmp_path / "long.xlsx"
    book.save(path)
    _, t = rows_of(path)
    assert t["sample_id"] == ["001"] and t["value"] == [3.25]


def test_missing_required_column_is_one_line_error(tmp_path):
    path = tmp_path / "npx.csv"
    path.write_text("SampleID;OlinkID;Assay;NPX\nS1;O1;IL6;1\n")
    with pytest.raises(NeurofusionError) as err:
        read_olink_long(sniff(path))
    message = str(err.value)
    assert "\n" not in message and str(path) in message and "uniprot" in message and "UniProt" in message


def problems_of(table):
    return {i: text for i, text in enumerate(table["problem"]) if text is not None}


@pytest.mark.parametrize("container", ["csv", "parquet", "xlsx"])
def test_a_bad_cell_is_a_row_with_its_problem(write_long, container):
    from .npx_rows import LONG_ROWS, as_container

    rows = list(LONG_ROWS)
    rows[3] = rows[3][:-1] + ("high",)            # 002 NEFL: NPX not a number (file line 5)
    rows[7] = rows[7][:-2] + ("1.2.3", 4.0)        # 003 IL6: LOD not a number
    m, t = rows_of(as_container(write_long(rows=rows), container))
    assert problems_of(t) == {3: "column NPX: 'high' is not a number", 7: "column LOD: '1.2.3' is not a number"}
    assert math.isnan(t["value"][3]) and t["value"][7] == 4.0 and t["value"][2] == 3.5
    assert m.where(3) == {"csv": "line 5", "parquet": "row 4", "xlsx": "line 5"}[container]


def test_bad_cells_after_the_first_batch_keep_every_row(write_long):
    # ~3 MB: Arrow reads it in several blocks, and the first bad cell is in a later one
    n = 30_000
    rows = [(f"S{i % 300}", "SAMPLE", f"OID{i // 300:05d}", "P05231", "IL6", "Inflammation", "PASS", 1.0,
             float(i % 7)) for i in range(n)]
    rows[25_000] = rows[25_000][:-1] + ("abc",)
    rows[29_999] = rows[29_999][:-1] + ("< LLOQ",)  # a missing marker, not a problem
    rows[29_000] = rows[29_000][:-1] + ("1,5",)
    m = read_olink_long(sniff(write_long(rows=rows)))
    batches = list(m.batches)
    assert len(batches) > 1 and batches[0].column("problem").null_count == batches[0].num_rows
    t = pa.Table.from_batches(batches).to_pydict()
    assert len(t["value"]) == n and t["sample_id"][-1] == f"S{(n - 1) % 300}"
    assert problems_of(t) == {25_000: "column NPX: 'abc' is not a number", 29_000: "column NPX: '1,5' is not a number"}
    assert t["value"][24_999] == float(24_999 % 7) and t["value"][25_001] == float(25_001 % 7)
    assert math.isnan(t["value"][29_999]) and m.where(25_000) == "line 25002"


def test_a_decimal_comma_export_with_a_bad_cell(write_long):
    from .npx_rows import LONG_ROWS

    rows = list(LONG_ROWS)
    rows[1] = rows[1][:-1] + ("n.d.",)
    _, t = rows_of(write_long(rows=rows, decimal=","))
    assert problems_of(t) == {1: "column NPX: 'n.d.' is not a number"}
    assert t["value"][0] == 2.5 and t["value"][2] == 3.5 and t["lod"][1] == 0.5  # "2,5" -> 2.5 on the text path
    assert math.isnan(t["value"][1])
