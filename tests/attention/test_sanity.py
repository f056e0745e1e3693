"""What the controls are read against (attention/sanity.py): rank similarity and the inputs' own
class difference, and how the planted check carries them."""

import numpy as np
import pandas as pd
import pytest

from neurofusion.attention.attribution_summary import attribution_check, attribution_tables
from neurofusion.attention.planted import PlantedTruth
from neurofusion.attention.sanity import FoldClassDifference, model_dependence, rank_similarity

CLASSES = ["CN", "AD"]


def test_the_class_difference_is_the_norm_of_the_class_means_difference_per_token():
    x = np.zeros((4, 3, 2))
    x[[1, 3], 0] = [3.0, 4.0]          # AD subjects: token 0 moved by (3, 4)
    x[:, 2] = [[1.0, 1.0]]             # token 2: the same in both classes
    one = FoldClassDifference(2)
    one.add(x, None, [0, 1, 0, 1])
    assert np.allclose(one.difference(), [5.0, 0.0, 0.0])


def test_folds_combine_as_independent_maps_and_each_uses_its_own_features():
    """Fold k's d_k is taken in its own feature space (a rotated encoder gives the same d_k);
    the folds combine as sqrt(sum (n_k / n)^2 d_k^2)."""
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 5)
    x = rng.normal(size=(10, 4, 3))
    alone = FoldClassDifference(2)
    alone.add(x, None, labels)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotated = FoldClassDifference(2)
    rotated.add(x @ rotation, None, labels)
    assert np.allclose(alone.difference(), rotated.difference())
    two = FoldClassDifference(2)
    two.add(x, None, labels)
    two.add(x[:4] @ rotation, None, labels[:4])
    d1 = alone.difference()
    d2 = FoldClassDifference(2)
    d2.add(x[:4], None, labels[:4])
    assert np.allclose(two.difference(), np.sqrt((10 / 14) ** 2 * d1 ** 2 + (4 / 14) ** 2 * d2.difference() ** 2))


def test_absent_tokens_do_not_count_and_a_token_absent_from_a_class_has_no_difference():
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(10, 4, 3)), np.array([0, 1] * 5)
    present = rng.random((10, 4)) > 0.2
    present[:, 3] = labels == 1          # token 3 is never present in class 0
    whole = FoldClassDifference(2)
    whole.add(x, present, labels)
    assert np.isnan(whole.difference()[3]) and np.isfinite(whole.difference()[:3]).all()
    spoiled = FoldClassDifference(2)
    spoiled.add(np.where(present[:, :, None], x, 1e6), present, labels)
    assert np.allclose(spoiled.difference()[:3], whole.difference()[:3])
    # a fold where the token is present in both classes gives it a value again
    whole.add(x, None, labels)
    assert np.isfinite(whole.difference()).all()
    # a 2-D input (one value per token, e.g. protein values) is one feature
    flat, one = FoldClassDifference(2), FoldClassDifference(2)
    flat.add(x[:, :, 0], present, labels)
    one.add(x[:, :, :1], present, labels)
    assert np.allclose(flat.difference()[:3], one.difference()[:3])
    assert FoldClassDifference(2).difference() is None


def test_rank_similarity_is_spearman_of_magnitudes_per_subject():
    rng = np.random.default_rng(1)
    trained = rng.normal(size=(5, 20))
    assert rank_similarity(trained, trained)["median"] == pytest.approx(1.0)
    assert rank_similarity(trained, -trained)["median"] == pytest.approx(1.0)  # |.|: the sign does not count
    reversed_ranks = 1.0 / (np.abs(trained) + 0.1)
    assert rank_similarity(trained, reversed_ranks)["median"] == pytest.approx(-1.0)
    independent = rank_similarity(rng.normal(size=(400, 50)), rng.normal(size=(400, 50)))
    assert abs(independent["median"]) < 0.05 and independent["q25"] < 0 < independent["q75"]
    assert independent["n_subjects"] == 400


def test_rank_similarity_reads_present_tokens_only_and_skips_flat_maps():
    trained = np.tile(np.arange(1.0, 9.0), (3, 1))
    control = trained.copy()
    control[:, 6:] = [100.0, 200.0]       # two tokens that would swap the order, absent from the map
    control[:, :6] = control[:, :6][:, ::-1]
    present = np.ones_like(trained, bool)
    present[:, 6:] = False
    assert rank_similarity(trained, control, present)["median"] == pytest.approx(-1.0)
    flat = np.ones_like(trained)
    assert rank_similarity(trained, flat) is None                       # relevance 0 everywhere
    holed = control.copy()
    holed[:, 7] = np.nan                                                # a non-finite value is left out
    assert rank_similarity(trained[:, 6:], holed[:, 6:]) is None        # one finite token left
    assert np.isfinite(rank_similarity(trained, holed, present)["median"])
    assert rank_similarity(trained[:1, :2], control[:1, :2]) is None    # fewer than 3 tokens


def test_model_dependence_covers_each_control_and_modality():
    rng = np.random.default_rng(2)
    trained = {"occlusion": {"mri": rng.normal(size=(6, 10)), "protein": rng.normal(size=(6, 4))}}
    results = {"trained": trained, "randomised": trained, "shuffled": {"occlusion": {"mri": rng.normal(size=(6, 10))}}}
    got = model_dependence(results, {"mri": None, "protein": None}, ["occlusion"], ["randomised", "shuffled"])
    assert got["occlusion"]["randomised"]["mri"]["median"] == pytest.approx(1.0)
    assert got["occlusion"]["randomised"]["protein"]["median"] == pytest.approx(1.0)
    assert set(got["occlusion"]["shuffled"]) == {"mri"}
    zero = {"trained": trained, "randomised": {"occlusion": {"mri": np.zeros((6, 10)), "protein": trained["occlusion"]["protein"]}}}
    got = model_dependence(zero, {}, ["occlusion"], ["randomised"])
    assert set(got["occlusion"]["randomised"]) == {"protein"}           # a map 0 everywhere has no ranks


def test_planted_check_carries_the_inputs_yardstick_and_the_similarity():
    """Four patches (the region holds patch 1) and three proteins (NEFL planted): the inputs differ
    most at patch 1 and, among the proteins, at NEFL; a protein missing in one class ranks last."""
    grid = pd.DataFrame({"patch_id": [0, 1, 2, 3], "x_mm": [-30.0, -10.0, 10.0, 30.0], "y_mm": 0.0, "z_mm": 0.0})
    catalog = pd.DataFrame({"protein_id": ["OID1", "OID2", "OID3"], "gene": ["NEFL", "GFAP", "APOE"], "category": "x"})
    labels = np.array([0, 1, 0, 1])
    mri, protein = np.full((4, 4), 0.5), np.full((4, 3), 0.5)
    mri[[1, 3], 1], protein[[1, 3], 0], protein[:, 2] = 5.0, 2.0, 9.0   # APOE first by occlusion: the table is re-sorted
    results = {"trained": {"occlusion": {"mri": mri, "protein": protein}},
               "randomised": {"occlusion": {"mri": mri[:, ::-1].copy(), "protein": protein}}}
    inputs = {"mri": np.array([1.0, 6.0, 1.0, 1.0]), "protein": np.array([0.9, np.nan, 0.3])}
    patches, proteins = attribution_tables(results, labels, CLASSES, ["occlusion"], patch_ids=[0, 1, 2, 3], grid=grid,
                                           protein_ids=["OID1", "OID2", "OID3"], catalog=catalog,
                                           input_difference=inputs)
    assert np.allclose(patches["input_difference"], inputs["mri"])
    assert list(proteins["gene"]) == ["APOE", "NEFL", "GFAP"]
    got = proteins.set_index("protein_id")["input_difference"]
    assert got["OID1"] == 0.9 and got["OID3"] == 0.3 and np.isnan(got["OID2"])
    truth = PlantedTruth(regions=[(np.array([-10.0, 0.0, 0.0]), 5.0)], proteins=["NEFL", "GFAP"])
    dependence = model_dependence(results, {"mri": None, "protein": None}, ["occlusion"], ["randomised"])
    check = attribution_check(patches, proteins, truth, CLASSES, ["occlusion"], ["trained", "randomised"], dependence)
    assert check["inputs"]["region_enrichment"] == pytest.approx(6.0)
    assert check["inputs"]["protein_ranks"] == [1, 3] and check["inputs"]["protein_median_rank"] == 2.0
    randomised = check["methods"]["occlusion"]["randomised"]
    assert randomised["rank_similarity"]["protein"]["median"] == pytest.approx(1.0)
    assert "rank_similarity" not in check["methods"]["occlusion"]["trained"]
    # without the column (an export from before), no yardstick and the rest unchanged
    bare = attribution_check(patches.drop(columns="input_difference"), proteins.drop(columns="input_difference"),
                             truth, CLASSES, ["occlusion"], ["trained", "randomised"])
    assert "inputs" not in bare and bare["methods"]["occlusion"]["verdict"] == check["methods"]["occlusion"]["verdict"]
