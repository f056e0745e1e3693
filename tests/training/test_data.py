import numpy as np
import pandas as pd
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.training.data import available, eligible, protein_codes, split_fold
from neurofusion.training.settings import TrainConfig
from neurofusion.training.train import FoldRun

from .conftest import SMALL_MODEL, make_sources


@pytest.mark.parametrize("fold", [0, 1, 2])
def test_no_participant_in_both_training_and_test(sources, fold):
    split = split_fold(sources.cohort, fold, 0.2, seed=0)
    train, val, test = map(set, (split["train"], split["val"], split["test"]))
    assert not (train & test) and not (val & test) and not (train & val)
    assert train | val | test == set(sources.cohort["participant_id"])
    assert test == set(sources.cohort.loc[sources.cohort["fold"] == fold, "participant_id"])
    labels = sources.cohort.set_index("participant_id").loc[sorted(val), "label_index"]
    assert set(labels) == {0, 1}          # stratified: both classes in validation


def test_unknown_fold_is_a_user_error(sources):
    with pytest.raises(NeurofusionError, match="fold 7"):
        split_fold(sources.cohort, 7, 0.2, seed=0)


def test_paired_subjects_need_both_modalities_and_exclusions_are_written_down(sources):
    sources.cohort.loc[0, "has_mri"] = False
    sources.cohort.loc[1, "has_proteins"] = False
    pool = available(sources)
    for variant in ("fusion", "mri", "protein"):
        used, left = eligible(pool, variant, "paired")
        assert set(left["participant_id"]) == {"sub-001", "sub-002"}
        assert left["reason"].str.contains("paired").all()
        assert len(used) == len(sources.cohort) - 2
    used, left = eligible(pool, "fusion", "all")
    assert len(used) == len(sources.cohort) and left.empty
    assert len(eligible(pool, "mri", "all")[0]) == len(sources.cohort) - 2


def test_categorical_position_is_the_index_within_the_category():
    catalog = pd.DataFrame({
        "protein_index": range(6), "protein_id": list("ABCDEF"),
        "category_id": [0, 1, 0, 0, 1, 2], "position_in_category": [0, 0, 1, 2, 1, 0]})
    ids, category, position = protein_codes(catalog)
    assert ids == list("ABCDEF")
    for k in range(6):   # position k = number of earlier proteins of the same category
        assert position[k] == int((category[:k] == category[k]).sum())
    prototype = np.arange(6) // 3          # the prototype's index // num_categories
    assert not np.array_equal(position, prototype)


def test_scaler_ignores_test_fold_values():
    src = make_sources()
    tc = TrainConfig(epochs=1)
    before = FoldRun(src, SMALL_MODEL, tc, "fusion", 0)
    test = src.cohort["fold"].to_numpy() == 0
    src.matrix.values[test] = 1e6
    src.embeddings.values[test] = -1e3
    after = FoldRun(src, SMALL_MODEL, tc, "fusion", 0)
    for a, b in [(before.norm.proteins.median, after.norm.proteins.median),
                 (before.norm.proteins.iqr, after.norm.proteins.iqr),
                 (before.norm.embeddings.mean, after.norm.embeddings.mean),
                 (before.norm.embeddings.std, after.norm.embeddings.std)]:
        np.testing.assert_array_equal(a, b)
    assert before.fingerprint != after.fingerprint      # but the inputs did change
    assert (after.data["test"].prot_values.abs() <= tc.clip_z).all()


def test_scaler_does_see_training_values():
    src = make_sources()
    before = FoldRun(src, SMALL_MODEL, TrainConfig(epochs=1), "fusion", 0)
    src.matrix.values[src.cohort["fold"].to_numpy() == 1] += 100.0
    after = FoldRun(src, SMALL_MODEL, TrainConfig(epochs=1), "fusion", 0)
    assert not np.array_equal(before.norm.proteins.median, after.norm.proteins.median)


@pytest.mark.parametrize("policy", ["mask", "impute"])
def test_tensors_are_finite_and_missing_proteins_are_masked_or_flagged(policy):
    src = make_sources()
    run = FoldRun(src, SMALL_MODEL, TrainConfig(epochs=1, protein_missing=policy), "fusion", 0)
    data = run.data["train"]
    missing = ~np.isfinite(src.matrix.values[[src.matrix.participant_ids.index(s) for s in data.participant_ids]])
    assert missing.any()
    assert np.isfinite(data.prot_values.numpy()).all() and np.isfinite(data.mri.numpy()).all()
    np.testing.assert_array_equal(data.prot_flags[..., 1].numpy().astype(bool), missing)
    if policy == "mask":
        np.testing.assert_array_equal(data.prot_mask.numpy(), ~missing)
    else:
        assert data.prot_mask.all()
        assert (data.prot_values.numpy()[missing] == 0).all()


def test_missing_protein_ids_in_the_matrix_are_an_error():
    src = make_sources()
    src.matrix.protein_ids = ["X"] * len(src.matrix.protein_ids)
    with pytest.raises(NeurofusionError, match="protein P0"):
        FoldRun(src, SMALL_MODEL, TrainConfig(epochs=1), "fusion", 0)
