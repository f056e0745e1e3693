from neurofusion.proteomics.samples import (CONTROL_ID, INVALID_ID, KEEP, UNMATCHED, SampleMatcher,
                                            is_control_type, read_participants)


def test_controls_by_id_and_type():
    status, _ = SampleMatcher().classify(["CONTROL_SAMPLE_AS 1", "NEGATIVE_CONTROL_2", "PLATE_CONTROL_1",
                                          "Neg Ctrl", "IPC", "controller7"])
    assert list(status[:5]) == [CONTROL_ID] * 5 and status[5] != CONTROL_ID
    assert is_control_type("PLATE_CONTROL") and is_control_type("NEGATIVE_CONTROL") and not is_control_type("SAMPLE")


def test_ids_with_or_without_sub_prefix_match(participants):
    matcher = SampleMatcher(read_participants(participants, "participant_id"))
    status, pid = matcher.classify(["001", "sub-002", "sub-003", "004"])
    assert list(status) == [KEEP, KEEP, UNMATCHED, KEEP]
    assert pid == ["sub-001", "sub-002", None, "sub-004"]


def test_regex_extracts_label():
    status, pid = SampleMatcher(regex=r"^ADNI_(\d+)_v\d$").classify(["ADNI_017_v1", "other"])
    assert pid[0] == "sub-017" and status[1] == UNMATCHED


def test_without_participants_invalid_labels_are_reported():
    status, pid = SampleMatcher().classify(["A_1", "007"])
    assert list(status) == [INVALID_ID, KEEP] and pid[1] == "sub-007"
