import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.proteomics.detect import sniff


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_long_table_detected_with_its_separator(write_long, sep):
    s = sniff(write_long(f"npx{ord(sep)}.txt", sep=sep))
    assert (s.layout, s.delimiter, s.decimal) == ("olink_long", sep, ".")


def test_decimal_comma_detected_for_semicolon_files(write_long):
    s = sniff(write_long(sep=";", decimal=","))
    assert (s.delimiter, s.decimal) == (";", ",")


def test_layout_comes_from_content_not_extension(write_long, write_wide, tmp_path):
    assert sniff(write_long("export.dat")).layout == "olink_long"
    assert sniff(write_wide("wide.txt")).layout == "olink_wide"
    assert sniff(write_wide("wide.csv", sep=",", decimal=".")).delimiter == ","
    assert sniff(write_wide("wide.xlsx")).layout == "olink_wide"
    generic = tmp_path / "generic.tsv"
    generic.write_text("participant_id\tIL6\tNEFL\nsub-001\t1.5\t2\n")
    assert sniff(generic).layout == "generic_wide"
    side = tmp_path / "side.csv"
    side.write_text("column,uniprot,gene\nIL6,P05231,IL6\n")
    assert sniff(side).layout == "annotation"


def test_parquet_long_detected(tmp_path):
    path = tmp_path / "npx.bin"
    pq.write_table(pa.table({"SampleID": ["a"], "OlinkID": ["O1"], "UniProt": ["P1"], "Assay": ["X"],
                             "NPX": [1.0]}), path)
    assert sniff(path).layout == "olink_long"


def test_missing_and_empty_files_are_errors(tmp_path):
    with pytest.raises(NeurofusionError, match="not found"):
        sniff(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(NeurofusionError, match="empty"):
        sniff(tmp_path / "empty.csv")
