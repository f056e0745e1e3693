from types import SimpleNamespace

import numpy as np

from neurofusion.training.train import permute_labels


def parts(seed=0):
    rng = np.random.default_rng(seed)
    return SimpleNamespace(labels=rng.integers(0, 2, 30)), SimpleNamespace(labels=rng.integers(0, 2, 8))


def test_training_and_validation_labels_are_permuted_together_with_a_seed():
    train, val = parts()
    before = np.concatenate([train.labels, val.labels])
    permute_labels(train, val, seed=3)
    after = np.concatenate([train.labels, val.labels])
    assert len(train.labels) == 30 and len(val.labels) == 8
    assert np.bincount(after).tolist() == np.bincount(before).tolist()  # same class counts
    assert (after != before).any()
    again_train, again_val = parts()
    permute_labels(again_train, again_val, seed=3)
    assert (np.concatenate([again_train.labels, again_val.labels]) == after).all()
    other_train, other_val = parts()
    permute_labels(other_train, other_val, seed=4)
    assert (np.concatenate([other_train.labels, other_val.labels]) != after).any()
