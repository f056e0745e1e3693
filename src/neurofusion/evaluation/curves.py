"""Plot-ready curve tables: ROC (with a bootstrap band), calibration bins, confusion counts.

All curves go into one long table (``curves.parquet``) so the summary step can draw every
figure without the predictions:

    variant  curve        class  x                 y                   y_low / y_high      count
    fusion   roc          AD     false pos. rate   true pos. rate      -                   -
    fusion   roc_band     AD     FPR grid point    TPR (point)         bootstrap 95% band  -
    fusion   calibration  AD     mean predicted p  observed frequency  Wilson 95% interval subjects in bin
    fusion   confusion    CN     true index        predicted index     -                   subjects
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .bootstrap import resample_counts

COLUMNS = ["variant", "curve", "class", "x", "y", "y_low", "y_high", "count"]
FPR_GRID = np.linspace(0.0, 1.0, 101)
CALIBRATION_BINS = 10          # at most this many calibration bins ...
CALIBRATION_MIN_PER_BIN = 10   # ... with this many subjects in each (but at least 2 bins)


def roc_points(positive: np.ndarray, score: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) each [B, U+1] at every distinct threshold, from (0, 0), per weight row."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last index of each tie group
    w = weights[:, order]
    tp = np.cumsum(np.where(positive[order], w, 0.0), axis=1)[:, ends]
    fp = np.cumsum(np.where(positive[order], 0.0, w), axis=1)[:, ends]
    zero = np.zeros((w.shape[0], 1))
    tp, fp = np.hstack([zero, tp]), np.hstack([zero, fp])
    with np.errstate(invalid="ignore", divide="ignore"):
        return fp / fp[:, -1:], tp / tp[:, -1:]


def _tpr_on_grid(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """Interpolate each ROC row onto FPR_GRID -> [B, G] (upper envelope at vertical steps)."""
    return np.stack([np.interp(FPR_GRID, f, t) for f, t in zip(fpr, tpr)])


def roc_rows(variant, class_name, positive, score, n_boot, rng) -> list[dict]:
    fpr, tpr = roc_points(positive, score, np.ones((1, len(score))))
    rows = [dict(variant=variant, curve="roc", **{"class": class_name}, x=x, y=y) for x, y in zip(fpr[0], tpr[0])]
    point = _tpr_on_grid(fpr, tpr)[0]
    labels = positive.astype(np.int64)
    bands = []
    for counts in resample_counts(labels, n_boot, rng):
        bands.append(_tpr_on_grid(*roc_points(positive, score, counts)))
    if bands:
        low, high = np.percentile(np.vstack(bands), [2.5, 97.5], axis=0)
    else:
        low = high = np.full_like(point, np.nan)
    rows += [dict(variant=variant, curve="roc_band", **{"class": class_name}, x=x, y=y, y_low=lo, y_high=hi)
             for x, y, lo, hi in zip(FPR_GRID, point, low, high)]
    return rows


def wilson_interval(successes: np.ndarray, n: np.ndarray, z: float = 1.96):
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def calibration_bins(prob: np.ndarray) -> list[np.ndarray]:
    """Indices of each calibration bin: equal-count (quantile) bins of the sorted
    probabilities, as many as ``n / CALIBRATION_MIN_PER_BIN`` allows (2 to CALIBRATION_BINS;
    one bin when there are fewer than 2 subjects).

    Fixed-width bins leave a handful of subjects (or one) in most bins of a small cohort,
    which draws a zigzag with 0-1 error bars; 40 subjects give 4 bins of 10 here.
    """
    n_bins = min(len(prob), int(np.clip(len(prob) // CALIBRATION_MIN_PER_BIN, 2, CALIBRATION_BINS)))
    order = np.argsort(prob, kind="stable")
    return [b for b in np.array_split(order, n_bins) if len(b)]


def calibration_rows(variant, class_name, positive, prob) -> list[dict]:
    rows = []
    for inside in calibration_bins(prob):
        n = len(inside)
        hits = float(positive[inside].sum())
        low, high = wilson_interval(np.array(hits), np.array(float(n)))
        rows.append(dict(variant=variant, curve="calibration", **{"class": class_name},
                         x=float(prob[inside].mean()), y=hits / n, y_low=float(low), y_high=float(high), count=n))
    return rows


def confusion_rows(variant, classes, labels, probs) -> list[dict]:
    pred = probs.argmax(axis=1)
    rows = []
    for t, name in enumerate(classes):
        for p in range(len(classes)):
            rows.append(dict(variant=variant, curve="confusion", **{"class": name}, x=t, y=p,
                             count=int(np.count_nonzero((labels == t) & (pred == p)))))
    return rows


def curve_table(variant: str, classes: Sequence[str], labels: np.ndarray, probs: np.ndarray,
                n_boot: int, rng: np.random.Generator) -> pd.DataFrame:
    """All curves of one variant. Two classes: curves of the positive (last) class only;
    more: one-vs-rest curves per class."""
    targets = [len(classes) - 1] if len(classes) == 2 else list(range(len(classes)))
    rows: list[dict] = []
    for c in targets:
        positive = labels == c
        if positive.all() or not positive.any():
            continue  # a class absent from (or alone in) the test sets has no ROC
        rows += roc_rows(variant, classes[c], positive, probs[:, c], n_boot, rng)
        rows += calibration_rows(variant, classes[c], positive, probs[:, c])
    rows += confusion_rows(variant, classes, labels, probs)
    return pd.DataFrame(rows, columns=COLUMNS)
