import numpy as np

from neurofusion.cohort import assign_folds


def test_folds_are_seeded_and_stratified():
    ids = [f"sub-{i:03d}" for i in range(40)]
    labels = ["AD" if i % 4 == 0 else "CN" for i in range(40)]
    a = assign_folds(ids, labels, 5, seed=3)
    b = assign_folds(ids, labels, 5, seed=3)
    c = assign_folds(ids, labels, 5, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    for fold in range(5):
        in_fold = [lab for lab, f in zip(labels, a) if f == fold]
        assert in_fold.count("AD") == 2 and in_fold.count("CN") == 6
