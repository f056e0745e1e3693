import pyarrow as pa
import pyarrow.parquet as pq
import pandas as pd
import numpy as np
import pytest

from neurofusion.cli import main
from neurofusion.proteomics import read_matrix
from neurofusion.proteomics.build import OUTPUT_NAMES

DICT = pa.dictionary(pa.int32(), pa.string())


def run(tables, categories, out, *extra):
    args = ["proteins", "--table", *map(str, tables), "--categories", str(categories), "--out", str(out), *extra]
    return main(args)


def test_outputs_and_schemas(write_long, write_wide, categories, participants, tmp_path):
    out = tmp_path / "out"
    assert run([write_long(), write_wide()], categories, out, "--participants", str(participants)) == 0
    long = pq.read_table(out / "proteins.parquet")
    assert long.schema.names == ["participant_id", "protein_id", "uniprot", "gene", "assay", "panel", "category",
                                 "value", "below_lod", "qc_warning", "source_file"]
    assert long.schema.field("value").type == pa.float64() and long.schema.field("participant_id").type == DICT
    assert long.schema.field("below_lod").type == pa.bool_()
    assert set(long.column("participant_id").to_pylist()) == {"sub-001", "sub-002"}
    catalog = pq.read_table(out / "catalog.parquet")
    assert catalog.schema.names == ["protein_index", "protein_id", "uniprot", "gene", "assay", "panel", "category",
                                    "category_id", "position_in_category"]
    for name in ("protein_index", "category_id", "position_in_category"):
        assert catalog.schema.field(name).type == pa.int32()
    cat = catalog.to_pandas()
    assert list(cat.protein_index) == list(range(len(cat)))
    assert cat.groupby("category").position_in_category.apply(lambda s: list(s) == list(range(len(s)))).all()
    m = read_matrix(out / "matrix.parquet")
    assert m.protein_ids == list(cat.protein_id) and m.participant_ids == ["sub-001", "sub-002"]
    assert m.values.shape == (2, len(cat))
    schema = pq.read_schema(out / "matrix.parquet")
    assert schema.field("values").type == pa.list_(pa.float32(), len(cat))
    qc = pd.read_csv(out / "qc.tsv", sep="\t")
    assert list(qc.columns) == ["section", "item", "value", "detail"]
    assert {"summary", "dropped", "missingness", "category"} <= set(qc.section)
    unmapped = pd.read_csv(out / "unmapped.tsv", sep="\t")
    assert list(unmapped.columns) == ["protein_id", "uniprot", "gene", "assay", "panel", "category", "reason"]
    assert unmapped.empty  # OID20003 was measured only in sample 003, who is not a participant


def test_files_merge_and_replicates_are_averaged(write_long, categories, tmp_path, capsys):
    second = write_long("plate2.csv", rows=[("sub-001", "SAMPLE", "OID20001", "P05231", "IL6", "Inflammation",
                                             "PASS", 1.0, 3.5)])
    out = tmp_path / "out"
    assert run([write_long(), second], categories, out) == 0
    long = pq.read_table(out / "proteins.parquet").to_pandas()
    cell = long[(long.participant_id == "sub-001") & (long.protein_id == "OID20001")]
    assert len(cell) == 1 and cell.value.iloc[0] == pytest.approx(3.0) and cell.source_file.iloc[0] == "npx.csv"
    sub2 = long[(long.participant_id == "sub-002") & (long.protein_id == "OID20001")]  # "002" and "sub-002" rows
    assert sub2.value.iloc[0] == pytest.approx(3.5) and bool(sub2.qc_warning.iloc[0])
    qc = pd.read_csv(out / "qc.tsv", sep="\t")
    assert set(qc[qc.section == "replicate"].item) == {"sub-001"}
    assert "replicate" in capsys.readouterr().err


def test_same_inputs_same_bytes(write_long, categories, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run([write_long()], categories, a) == 0 and run([write_long()], categories, b) == 0
    for name in OUTPUT_NAMES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def bad_inputs(tmp_path, write_long):
    from .npx_rows import LONG_ROWS

    two_uniprot = list(LONG_ROWS)
    two_uniprot[2] = two_uniprot[2][:3] + ("P99999",) + two_uniprot[2][4:]
    text = list(LONG_ROWS)
    text[1] = text[1][:-1] + ("high",)
    missing = tmp_path / "missing.csv"
    missing.write_text("SampleID;OlinkID;Assay;NPX\nS1;O1;IL6;1\n")
    return {
        "non_numeric": (write_long("text.csv", rows=text), "line 3, column NPX"),
        "missing_column": (missing, "lacks required column"),
        "two_uniprot": (write_long("two.csv", rows=two_uniprot), "column UniProt"),
        "no_samples": (write_long("ctl.csv", rows=[r for r in LONG_ROWS if "CONTROL" in r[1]]), "no real samples"),
    }


@pytest.mark.parametrize("case", ["non_numeric", "missing_column", "two_uniprot", "no_samples"])
def test_bad_input_one_line_error_and_no_outputs(write_long, categories, tmp_path, capsys, case):
    path, expected = bad_inputs(tmp_path, write_long)[case]
    out = tmp_path / "out"
    assert run([write_long("good.csv")], categories, out) == 0  # an earlier good run ...
    assert run([write_long("good.csv"), path], categories, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and path.name in err[0]
    assert not any((out / n).exists() for n in OUTPUT_NAMES)  # ... leaves nothing stale behind
    assert not list(out.glob(".*tmp*"))


def test_without_participants_every_real_sample_is_kept(write_long, categories, tmp_path):
    out = tmp_path / "out"
    assert run([write_long()], categories, out, "--lod-policy", "missing", "--warn-policy", "drop") == 0
    m = read_matrix(out / "matrix.parquet")
    assert m.participant_ids == ["sub-001", "sub-002", "sub-003"]
    assert np.isnan(m.values).sum() > 0
    unmapped = pd.read_csv(out / "unmapped.tsv", sep="\t")
    assert list(unmapped.protein_id) == ["OID20003"] and (unmapped.category == "other").all()
    catalog = pq.read_table(out / "catalog.parquet").to_pandas().set_index("protein_id")
    assert catalog.loc["OID20003", "category_id"] == 7


def test_generic_table_with_side_table_and_regex(categories, tmp_path):
    wide = tmp_path / "simoa.csv"
    wide.write_text("sample,pTau181,NfL,X1\nADNI_001_bl,2.5,10.0,1\nADNI_002_bl,3.5,,2\nCONTROL_1,1,1,1\n")
    side = tmp_path / "simoa_columns.tsv"
    side.write_text("column\tuniprot\tgene\tpanel\nNfL\tP07196\tNEFL\tSimoa\n")
    out = tmp_path / "out"
    assert run([wide, side], categories, out, "--sample-id-regex", r"^ADNI_(\d+)_") == 0
    long = pq.read_table(out / "proteins.parquet").to_pandas()
    assert sorted(long.participant_id.unique()) == ["sub-001", "sub-002"]
    cat = pq.read_table(out / "catalog.parquet").to_pandas().set_index("protein_id")
    assert cat.loc["NfL", "category"] == "neurodegeneration" and cat.loc["NfL", "panel"] == "Simoa"
    assert cat.loc["pTau181", "category"] == "tau_pathway"      # by alias
    assert cat.loc["X1", "category"] == "other"
    m = read_matrix(out / "matrix.parquet")
    assert np.isnan(m.values[1, m.protein_ids.index("NfL")])


def test_on_error_exclude_leaves_out_every_protein_of_a_participant_with_a_bad_cell(write_long, write_wide,
                                                                                   categories, tmp_path, capsys):
    from .npx_rows import LONG_ROWS

    rows = list(LONG_ROWS)
    rows[3] = rows[3][:-1] + ("abc",)  # 002 NEFL in npx.csv; 002 is measured in t96.csv too
    out = tmp_path / "out"
    assert run([write_long(rows=rows), write_wide()], categories, out, "--on-error", "exclude") == 0
    m = read_matrix(out / "matrix.parquet")
    assert "sub-002" not in m.participant_ids and {"sub-001", "sub-003"} <= set(m.participant_ids)
    long = pq.read_table(out / "proteins.parquet").to_pandas()
    assert "sub-002" not in set(long.participant_id)
    qc = pd.read_csv(out / "qc.tsv", sep="\t", dtype=str, keep_default_na=False)
    excluded = qc[qc.section == "excluded_participant"]
    assert excluded[["item", "value", "detail"]].values.tolist() == [
        ["sub-002", "1", "npx.csv line 5, column NPX: 'abc' is not a number"]]
    dropped = qc[qc.section == "dropped"].set_index("item").value
    assert dropped["bad_value:npx.csv"] == "1"
    assert dropped["excluded_participant:npx.csv"] == "1" and dropped["excluded_participant:t96.csv"] == "4"
    assert "sub-002: protein measurements excluded: npx.csv line 5" in capsys.readouterr().err

    again = tmp_path / "again"  # the same bad input gives the same bytes
    assert run([write_long(rows=rows), write_wide()], categories, again, "--on-error", "exclude") == 0
    for name in OUTPUT_NAMES:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_on_error_stop_is_the_strict_default(write_long, categories, tmp_path, capsys):
    from .npx_rows import LONG_ROWS

    rows = list(LONG_ROWS)
    rows[3] = rows[3][:-1] + ("abc",)
    path = write_long(rows=rows)
    for extra in ([], ["--on-error", "stop"]):
        assert run([path], categories, tmp_path / "out", *extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "npx.csv: line 5, column NPX: 'abc' is not a number" in err[0]
        assert not any((tmp_path / "out" / n).exists() for n in OUTPUT_NAMES)


def test_when_every_participant_has_a_bad_cell_the_step_stops(write_long, categories, tmp_path, capsys):
    from .npx_rows import LONG_ROWS

    # each file alone is sound, but sub-001 is bad in one and sub-002 in the other
    one = list(LONG_ROWS[:4])
    one[0] = one[0][:-1] + ("abc",)
    two = list(LONG_ROWS[:4])
    two[2] = two[2][:-1] + ("x",)
    out = tmp_path / "out"
    assert run([write_long("a.csv", rows=one), write_long("b.csv", rows=two)], categories, out,
               "--on-error", "exclude") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "every participant has a bad cell, e.g. sub-001: a.csv line 2, column NPX: 'abc'" in err[-1]
    assert not any((out / n).exists() for n in OUTPUT_NAMES)
