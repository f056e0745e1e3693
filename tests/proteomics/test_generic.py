import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.detect import sniff
from neurofusion.proteomics.generic import read_annotation, read_generic_wide


@pytest.fixture
def wide_frame():
    return {"participant_id": ["001", "sub-002"], "P05231": [1.5, None], "NfL": [10.0, 12.5],
            "Sample_Type": ["SAMPLE", "SAMPLE"]}


def write(tmp_path, frame, kind):
    if kind == "parquet":
        path = tmp_path / "wide.parquet"
        pq.write_table(pa.table(frame), path)
    elif kind == "xlsx":
        import openpyxl

        path = tmp_path / "wide.xlsx"
        book = openpyxl.Workbook()
        book.active.append(list(frame))
        for row in zip(*frame.values()):
            book.active.append(list(row))
        book.save(path)
    else:
        sep = {"csv": ",", "tsv": "\t"}[kind]
        path = tmp_path / f"wide.{kind}"
        lines = [sep.join(frame)] + [sep.join("" if v is None else str(v) for v in row) for row in zip(*frame.values())]
        path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "xlsx"])
def test_generic_wide_formats(tmp_path, wide_frame, kind):
    m = read_generic_wide(sniff(write(tmp_path, wide_frame, kind)), None)
    t = pa.Table.from_batches(list(m.batches)).to_pandas()
    assert len(t) == 4  # 2 samples x 2 protein columns; Sample_Type is metadata
    assert sorted(t.sample_id.unique()) == ["001", "sub-002"]
    by = t.set_index(["sample_id", "protein_id"])
    assert by.loc[("001", "P05231"), "uniprot"] == "P05231"      # UniProt-like column name
    assert by.loc[("001", "NfL"), "assay"] == "NfL" and by.loc[("sub-002", "NfL"), "value"] == 12.5
    assert np.isnan(by.loc[("sub-002", "P05231"), "value"])


def test_side_table_gives_uniprot_and_gene(tmp_path, wide_frame):
    side = tmp_path / "side.tsv"
    side.write_text("column\tuniprot\tgene\tpanel\nNfL\tP07196\tNEFL\tSimoa\n")
    annotation = read_annotation(sniff(side))
    m = read_generic_wide(sniff(write(tmp_path, wide_frame, "csv")), annotation)
    t = pa.Table.from_batches(list(m.batches)).to_pandas()
    nfl = t[t.protein_id == "NfL"].iloc[0]
    assert (nfl.uniprot, nfl.assay, nfl.panel) == ("P07196", "NEFL", "Simoa")


@pytest.mark.parametrize("kind", ["csv", "parquet", "xlsx"])
def test_a_bad_cell_is_a_row_with_its_problem(tmp_path, wide_frame, kind):
    wide_frame["NfL"] = ["10.0", "n.d."] if kind == "parquet" else [10.0, "n.d."]
    m = read_generic_wide(sniff(write(tmp_path, wide_frame, kind)), None)
    t = pa.Table.from_batches(list(m.batches)).to_pandas()
    bad = t[t.problem.notna()]
    assert list(bad.index) == [3] and bad.problem.iloc[0] == "column NfL: 'n.d.' is not a number"
    assert bad.sample_id.iloc[0] == "sub-002" and m.where(3) == "row 3, field 3"
    assert t.set_index(["sample_id", "protein_id"]).loc[("001", "NfL"), "value"] == 10.0


def test_a_bad_cell_in_a_decimal_comma_table(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("id;NfL;GFAP\n001;1,5;2,25\n002;abc;3,5\n003;2,5;4,0\n")
    t = pa.Table.from_batches(list(read_generic_wide(sniff(path), None).batches)).to_pandas()
    assert t.problem.dropna().tolist() == ["column NfL: 'abc' is not a number"]
    assert t.value.tolist()[:1] == [1.5] and t.value.tolist()[3:] == [2.25, 3.5, 4.0]
