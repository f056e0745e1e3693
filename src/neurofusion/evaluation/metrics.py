"""Classification metrics over weighted subject sets, vectorised over bootstrap repeats.

Every metric takes ``labels [n]`` (int class index), ``probs [n, C]`` and ``weights [B, n]``:
row b of ``weights`` says how many times each subject was drawn in repeat b (all ones for
the point estimate). One implementation therefore gives the point estimate (B = 1) and
every bootstrap repeat at once, as matrix products instead of a Python loop.

Conventions (they match scikit-learn on unweighted data):
- prediction = the class with the highest probability;
- two classes: the last class is positive; sensitivity, specificity and F1 are those of
  the positive class, AUC uses its probability, Brier = mean (p_pos - y)^2;
- three or more classes: macro one-vs-rest AUC, macro recall (sensitivity), macro
  per-class specificity, macro F1, Brier = mean over subjects of sum_c (p_c - y_c)^2;
- ECE: top-label expected calibration error over 10 equal-width confidence bins.
"""

from __future__ import annotations

import numpy as np

METRICS = ("auc", "balanced_accuracy", "sensitivity", "specificity", "f1", "brier", "ece")
ECE_BINS = 10


def binary_auc(positive: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` for ``positive`` [n] bool, per weight row -> [B].

    Mann-Whitney form: the weighted share of (positive, negative) pairs ranked correctly,
    ties counting one half. Scores are sorted once and grouped by distinct value:

        sorted scores   s1 < s2 = s2 < s3 ...   -> groups u = 0..U-1
        neg_u, pos_u    weighted counts per group           [B, U]
        AUC = sum_u pos_u * (neg below u + neg_u / 2) / (total pos * total neg)
    """
    order = np.argsort(score, kind="stable")
    s = score[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first index of each group [U]
    w = weights[:, order]  # [B, n]
    pos_w = np.where(positive[order], w, 0.0)
    neg_w = w - pos_w
    pos_u = np.add.reduceat(pos_w, starts, axis=1)  # [B, U]
    neg_u = np.add.reduceat(neg_w, starts, axis=1)  # [B, U]
    neg_below = np.cumsum(neg_u, axis=1) - neg_u
    correct = (pos_u * (neg_below + 0.5 * neg_u)).sum(axis=1)
    pairs = pos_u.sum(axis=1) * neg_u.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, correct / np.where(pairs > 0, pairs, 1.0), np.nan)


def roc_auc(labels, probs, weights) -> np.ndarray:
    n_classes = probs.shape[1]
    if n_classes == 2:
        return binary_auc(labels == 1, probs[:, 1], weights)
    per_class = [binary_auc(labels == c, probs[:, c], weights) for c in range(n_classes)]
    return np.mean(per_class, axis=0)


def confusion(labels, probs, weights) -> np.ndarray:
    """Weighted confusion matrices [B, C, C] (rows = true class, columns = predicted)."""
    n_classes = probs.shape[1]
    pred = probs.argmax(axis=1)
    pair = labels * n_classes + pred  # [n]
    onehot = np.zeros((len(labels), n_classes * n_classes))
    onehot[np.arange(len(labels)), pair] = 1.0
    return (weights @ onehot).reshape(-1, n_classes, n_classes)


def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _per_class(cm):
    """(recall, specificity, f1) per class [B, C] from confusion matrices [B, C, C]."""
    tp = np.diagonal(cm, axis1=1, axis2=2)
    true_n = cm.sum(axis=2)
    pred_n = cm.sum(axis=1)
    total = cm.sum(axis=(1, 2))[:, None]
    fn = true_n - tp
    fp = pred_n - tp
    tn = total - tp - fn - fp
    return _ratio(tp, true_n), _ratio(tn, tn + fp), _ratio(2 * tp, 2 * tp + fp + fn)


def threshold_metrics(labels, probs, weights) -> dict[str, np.ndarray]:
    """balanced_accuracy, sensitivity, specificity, f1 -> each [B]."""
    recall, spec, f1 = _per_class(confusion(labels, probs, weights))
    if probs.shape[1] == 2:
        sens, spec_, f1_ = recall[:, 1], spec[:, 1], f1[:, 1]
    else:
        sens, spec_, f1_ = recall.mean(axis=1), spec.mean(axis=1), f1.mean(axis=1)
    return {"balanced_accuracy": recall.mean(axis=1), "sensitivity": sens, "specificity": spec_, "f1": f1_}


def brier(labels, probs, weights) -> np.ndarray:
    onehot = np.eye(probs.shape[1])[labels]  # [n, C]
    if probs.shape[1] == 2:
        per_subject = (probs[:, 1] - onehot[:, 1]) ** 2
    else:
        per_subject = ((probs - onehot) ** 2).sum(axis=1)
    return _ratio(weights @ per_subject, weights.sum(axis=1))


def ece(labels, probs, weights, n_bins: int = ECE_BINS) -> np.ndarray:
    """sum over bins of |sum_i w_i (correct_i - confidence_i)| / sum_i w_i."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)  # [n], 1.0 -> last bin
    gap = np.zeros((len(labels), n_bins))
    gap[np.arange(len(labels)), bins] = correct - confidence
    return _ratio(np.abs(weights @ gap).sum(axis=1), weights.sum(axis=1))


def all_metrics(labels, probs, weights) -> dict[str, np.ndarray]:
    """Every metric in METRICS -> [B]."""
    out = {"auc": roc_auc(labels, probs, weights)}
    out.update(threshold_metrics(labels, probs, weights))
    out["brier"] = brier(labels, probs, weights)
    out["ece"] = ece(labels, probs, weights)
    return {name: out[name] for name in METRICS}


def point_metrics(labels, probs) -> dict[str, float]:
    ones = np.ones((1, len(labels)))
    return {k: float(v[0]) for k, v in all_metrics(labels, probs, ones).items()}
