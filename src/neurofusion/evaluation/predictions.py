"""Reading and checking the test-fold prediction tables written by training.

Layout (docs/dev/CONTRACTS.md): ``participant_id, fold, variant, label, label_index,
prob_<class>`` with one probability column per class, in config order.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import NeurofusionError

BASE_COLUMNS = ("participant_id", "fold", "variant", "label", "label_index")


def probability_columns(classes: Sequence[str]) -> list[str]:
    return [f"prob_{c}" for c in classes]


def read_predictions(paths: Sequence[str | os.PathLike], classes: Sequence[str]) -> pd.DataFrame:
    """All prediction files as one table, checked against ``classes``.

    A subject may appear once per variant only (each subject has one test fold).
    """
    if len(classes) < 2:
        raise NeurofusionError(f"--classes lists {len(classes)} class(es)", fix="give at least two classes, in config order")
    frames = [_read_one(p, classes) for p in paths]
    if not frames:
        raise NeurofusionError("no prediction files given", fix="pass --predictions with at least one file")
    table = pd.concat(frames, ignore_index=True)
    dup = table.duplicated(["variant", "participant_id"], keep=False)
    if dup.any():
        row = table[dup].iloc[0]
        raise NeurofusionError(
            f"variant {row['variant']!r} has more than one prediction for this subject (folds "
            f"{sorted(table[dup & (table['participant_id'] == row['participant_id'])]['fold'].tolist())})",
            subject=row["participant_id"], fix="each subject must be in exactly one test fold; rerun training",
        )
    return table.sort_values(["variant", "fold", "participant_id"], kind="stable").reset_index(drop=True)


def _read_one(path, classes) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise NeurofusionError("prediction file not found", path=path, fix="run the train step first")
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise NeurofusionError(f"cannot read as Parquet ({type(exc).__name__})", path=path,
                               fix="delete it and rerun the train step")
    wanted = list(BASE_COLUMNS) + probability_columns(classes)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise NeurofusionError(f"missing column(s) {', '.join(missing)}", path=path,
                               fix="check that --classes matches the classes the model was trained with")
    frame = frame[wanted].copy()
    frame["participant_id"] = frame["participant_id"].astype(str)
    frame["variant"] = frame["variant"].astype(str)
    frame["label"] = frame["label"].astype(str)
    frame["fold"] = frame["fold"].astype(np.int64)
    frame["label_index"] = frame["label_index"].astype(np.int64)
    known = {c: i for i, c in enumerate(classes)}
    for row in frame.itertuples(index=False):
        if row.label not in known or known[row.label] != row.label_index:
            raise NeurofusionError(
                f"label {row.label!r} with label_index {row.label_index} does not match --classes {' '.join(classes)}",
                path=path, subject=row.participant_id, fix="pass the classes in the order used for training",
            )
    probs = frame[probability_columns(classes)].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(probs).all(axis=1) | (probs < 0).any(axis=1) | (probs > 1).any(axis=1)
    if bad.any():
        raise NeurofusionError("probabilities are missing or outside [0, 1]", path=path,
                               subject=frame["participant_id"].iloc[int(np.argmax(bad))],
                               fix="rerun the train step")
    return frame


def arrays(table: pd.DataFrame, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(labels [n] int, probabilities [n, C] float64), rows renormalised to sum to 1."""
    probs = table[probability_columns(classes)].to_numpy(dtype=np.float64)  # [n, C]
    total = probs.sum(axis=1, keepdims=True)
    probs = np.divide(probs, total, out=np.full_like(probs, 1.0 / probs.shape[1]), where=total > 0)
    return table["label_index"].to_numpy(dtype=np.int64), probs
