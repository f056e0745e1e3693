import numpy as np
import pytest

from neurofusion.embeddings.patchfiles import (check_unique_participants, find_patch_files, open_patch_array,
                                               participant_id_from_path, read_grid_patch_ids)
from neurofusion.errors import NeurofusionError


def test_participant_id_is_the_sub_part_of_the_name():
    assert participant_id_from_path("x/sub-001_ses-bl_space-A_desc-patches.npy") == "sub-001"
    assert participant_id_from_path("sub-ab12_space-A_desc-patches.npy") == "sub-ab12"
    with pytest.raises(NeurofusionError, match="001_space.npy: file name does not start with sub-"):
        participant_id_from_path("001_space.npy")


def test_find_and_open(patch_cohort):
    files = find_patch_files(patch_cohort["dir"])
    assert files == sorted(patch_cohort["files"])
    assert check_unique_participants(files) == [f"sub-{i:03d}" for i in range(1, 6)]
    ids, meta = read_grid_patch_ids(patch_cohort["grid"])
    assert ids.tolist() == list(range(16)) and meta["resolution"] == 2.0
    arr = open_patch_array(files[0], len(ids))
    assert arr.shape == (16, 12, 12, 12) and arr.dtype == np.float16 and isinstance(arr, np.memmap)


def test_patch_count_must_match_the_grid(patch_cohort):
    with pytest.raises(NeurofusionError, match="subject sub-001: has 16 patches but the grid has 20"):
        open_patch_array(patch_cohort["files"][0], 20)


def test_corrupt_array_and_duplicates_are_named(patch_cohort, tmp_path):
    bad = tmp_path / "sub-009_space-A_desc-patches.npy"
    bad.write_bytes(b"\x93NUMPY broken")
    with pytest.raises(NeurofusionError, match="sub-009_space-A_desc-patches.npy: subject sub-009: not a readable"):
        open_patch_array(bad)
    twin = tmp_path / "sub-001_ses-2_space-A_desc-patches.npy"
    with pytest.raises(NeurofusionError, match="second patch array for this participant"):
        check_unique_participants([patch_cohort["files"][0], twin])


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(NeurofusionError, match="no sub-"):
        find_patch_files(tmp_path)
