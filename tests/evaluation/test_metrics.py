import numpy as np
import pytest
from sklearn import metrics as skm

from neurofusion.evaluation.metrics import all_metrics, confusion, ece, point_metrics


@pytest.fixture
def binary():
    """12 subjects, last class positive, with tied scores."""
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    p_pos = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.6, 0.9, 0.4, 0.65, 0.7, 0.55, 0.3])
    return labels, np.column_stack([1 - p_pos, p_pos])


@pytest.fixture
def three_class():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 10)
    logits = rng.normal(size=(30, 3)) + 1.5 * np.eye(3)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probs


def ece_reference(labels, probs, n_bins=10):
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    total = 0.0
    for b in range(n_bins):
        inside = (conf >= b / n_bins) & ((conf < (b + 1) / n_bins) | (b == n_bins - 1))
        if inside.any():
            total += inside.sum() / len(labels) * abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
    return total


def test_binary_metrics_match_scikit_learn(binary):
    labels, probs = binary
    got = point_metrics(labels, probs)
    pred = probs.argmax(axis=1)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(labels, probs[:, 1]))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, pred))
    assert got["sensitivity"] == pytest.approx(skm.recall_score(labels, pred, pos_label=1))
    assert got["specificity"] == pytest.approx(skm.recall_score(labels, pred, pos_label=0))
    assert got["f1"] == pytest.approx(skm.f1_score(labels, pred))
    assert got["brier"] == pytest.approx(skm.brier_score_loss(labels, probs[:, 1]))
    assert got["ece"] == pytest.approx(ece_reference(labels, probs))


def test_three_classes_match_scikit_learn(three_class):
    labels, probs = three_class
    got = point_metrics(labels, probs)
    pred = probs.argmax(axis=1)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(labels, probs, multi_class="ovr", average="macro"))
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, pred))
    assert got["sensitivity"] == pytest.approx(skm.recall_score(labels, pred, average="macro"))
    assert got["f1"] == pytest.approx(skm.f1_score(labels, pred, average="macro"))
    assert got["brier"] == pytest.approx(skm.brier_score_loss(labels, probs))
    assert got["ece"] == pytest.approx(ece_reference(labels, probs))
    cm = confusion(labels, probs, np.ones((1, len(labels))))[0]
    assert np.array_equal(cm, skm.confusion_matrix(labels, pred))
    specificity = [np.sum((labels != c) & (pred != c)) / np.sum(labels != c) for c in range(3)]
    assert got["specificity"] == pytest.approx(np.mean(specificity))


def test_weights_equal_repeating_subjects(binary, three_class):
    """A bootstrap row of counts scores the same as the resampled subjects themselves."""
    for labels, probs in (binary, three_class):
        counts = np.random.default_rng(0).integers(0, 3, size=len(labels))
        counts[[0, -1]] = 1  # keep every class present
        repeated = np.repeat(np.arange(len(labels)), counts)
        weighted = all_metrics(labels, probs, counts[None, :].astype(float))
        direct = point_metrics(labels[repeated], probs[repeated])
        for name, value in direct.items():
            assert weighted[name][0] == pytest.approx(value), name


def test_auc_is_nan_without_negatives():
    labels = np.ones(4, dtype=int)
    probs = np.column_stack([np.full(4, 0.3), np.full(4, 0.7)])
    assert np.isnan(point_metrics(labels, probs)["auc"])
    assert ece(labels, probs, np.ones((1, 4)))[0] == pytest.approx(0.3)
