"""cohort/participants.py: every bad row of a participants table, found in one pass."""

import pytest

from neurofusion.cohort import participants_problems, read_participants
from neurofusion.errors import NeurofusionError


def write(tmp_path, text, name="participants.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_bad_row_is_one_line_naming_file_row_and_fix(tmp_path):
    path = write(tmp_path, "participant_id\tdiagnosis\n"
                           "01\tCN\n"        # row 2
                           "sub-02\tAD\n"    # row 3
                           "sub-01\tAD\n"    # row 4: 01 again, with another label
                           "\tCN\n"          # row 5: empty ID
                           "sub-0_3\tCN\n"   # row 6: not a BIDS label
                           "sub-02\tAD\n")   # row 7: 02 again, same label
    lines = participants_problems(path)
    assert len(lines) == 4, lines
    assert all(line.startswith(f"{path} row ") and "\n" not in line for line in lines)
    by_row = {int(line.split(" row ")[1].split(":")[0]): line for line in lines}
    assert set(by_row) == {4, 5, 6, 7}
    assert "sub-01 is already listed in row 2" in by_row[4] and "'01' there, 'sub-01' here" in by_row[4]
    assert "different diagnosis ('CN' there, 'AD' here)" in by_row[4] and "keep one row per participant" in by_row[4]
    assert "empty participant_id" in by_row[5]
    assert "'sub-0_3' has characters BIDS labels do not allow" in by_row[6]
    assert "already listed in row 3" in by_row[7] and "different diagnosis" not in by_row[7]


def test_the_cohort_step_refuses_the_same_rows_in_one_message(tmp_path):
    path = write(tmp_path, "participant_id\tdiagnosis\n01\tCN\nsub-01\tAD\nsub-0_2\tCN\n")
    with pytest.raises(NeurofusionError) as err:
        read_participants(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: 2 problem(s)")
    for line in participants_problems(path):
        assert line.removeprefix(str(path)).strip() in text


def test_missing_columns_are_named_with_the_config_key(tmp_path):
    path = write(tmp_path, "id\tdx\nsub-01\tCN\n", name="p.tsv")
    lines = participants_problems(path)
    assert len(lines) == 2
    assert "no column 'participant_id'" in lines[0] and "cohort.id_column" in lines[0]
    assert "no column 'diagnosis'" in lines[1] and "label_column" in lines[1]
    assert participants_problems(path, id_column="id", label_column="dx") == []


def test_a_sound_table_reads_with_normalised_ids(tmp_path):
    path = write(tmp_path, "participant_id,diagnosis\n01,CN\nsub-02,AD\n", name="participants.csv")
    assert participants_problems(path) == []
    assert read_participants(path)["participant_id"].tolist() == ["sub-01", "sub-02"]


def test_unreadable_file_raises_one_line(tmp_path):
    path = tmp_path / "participants.tsv"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(NeurofusionError, match="cannot parse the participants table"):
        participants_problems(path)
