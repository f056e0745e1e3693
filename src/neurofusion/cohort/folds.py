"""Subject-level, label-stratified k-fold assignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ..errors import NeurofusionError


def assign_folds(participant_ids, labels, k: int, seed: int, *, source=None) -> np.ndarray:
    """Each subject gets exactly one test fold in ``0..k-1``, stratified by label.

    The assignment depends only on the sorted (participant, label) pairs and the seed,
    so the input order does not matter and reruns give the same folds.
    """
    frame = pd.DataFrame({"participant_id": list(participant_ids), "label": list(labels)})
    counts = frame["label"].value_counts()
    small = counts[counts < k]
    if len(small):
        name, n = small.index[0], int(small.iloc[0])
        raise NeurofusionError(
            f"class {name!r} has {n} included subject(s), fewer than cohort.folds={k}",
            path=source, fix="lower cohort.folds in your config or add subjects",
        )
    order = np.argsort(frame["participant_id"].to_numpy(), kind="stable")
    sorted_labels = frame["label"].to_numpy()[order]
    folds_sorted = np.empty(len(frame), dtype=np.int32)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(frame)), sorted_labels)):
        folds_sorted[test] = fold
    folds = np.empty(len(frame), dtype=np.int32)
    folds[order] = folds_sorted
    return folds
