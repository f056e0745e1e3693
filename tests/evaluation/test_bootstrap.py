import numpy as np
import pandas as pd
import pytest

from neurofusion.evaluation.bootstrap import paired_p_value, resample_counts, stream_seed
from neurofusion.evaluation.evaluate import compare_variants, metric_rows


@pytest.fixture
def noisy_binary():
    rng = np.random.default_rng(11)
    labels = np.repeat([0, 1], [25, 15])
    p = 1 / (1 + np.exp(-(1.2 * (2 * labels - 1) + rng.normal(size=40))))
    return labels, np.column_stack([1 - p, p])


def paired_table(good: np.ndarray, poor: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    rows = []
    for variant, p in (("fusion", good), ("mri", poor)):
        for i, (y, q) in enumerate(zip(labels, p)):
            rows.append(dict(participant_id=f"sub-{i:03d}", fold=i % 2, variant=variant, label=["CN", "AD"][y],
                             label_index=y, prob_CN=1 - q, prob_AD=q))
    return pd.DataFrame(rows)


def test_resampling_keeps_class_sizes():
    labels = np.array([0] * 7 + [1] * 3)
    rng = np.random.default_rng(0)
    chunks = list(resample_counts(labels, 600, rng, chunk=250))
    counts = np.vstack(chunks)
    assert [len(c) for c in chunks] == [250, 250, 100]
    assert (counts[:, :7].sum(axis=1) == 7).all() and (counts[:, 7:].sum(axis=1) == 3).all()


def test_ci_contains_point_estimate_and_is_seeded(noisy_binary):
    labels, probs = noisy_binary
    a = metric_rows(labels, probs, 500, stream_seed(1, "fusion"))
    b = metric_rows(labels, probs, 500, stream_seed(1, "fusion"))
    c = metric_rows(labels, probs, 500, stream_seed(2, "fusion"))
    assert a == b
    assert a != c
    for row in a:
        assert row["ci_low"] <= row["mean"] <= row["ci_high"], row
        assert row["ci_low"] < row["ci_high"], row


def test_delta_auc_sign_on_constructed_case():
    rng = np.random.default_rng(5)
    labels = np.repeat([0, 1], 30)
    good = np.clip(0.25 + 0.5 * labels + rng.normal(0, 0.1, 60), 0.01, 0.99)  # separates the classes
    poor = rng.uniform(0.01, 0.99, 60)  # chance
    table = paired_table(good, poor, labels)
    rows = {r["metric"]: r for r in compare_variants(table, ["CN", "AD"], "fusion", "mri", 400, seed=0)}
    auc = rows["auc"]
    assert auc["delta"] > 0.3 and auc["ci_low"] > 0 and auc["p_value"] < 0.01
    flipped = paired_table(poor, good, labels)
    auc = {r["metric"]: r for r in compare_variants(flipped, ["CN", "AD"], "fusion", "mri", 400, seed=0)}["auc"]
    assert auc["delta"] < -0.3 and auc["ci_high"] < 0


def test_paired_comparison_uses_shared_subjects_only():
    labels = np.repeat([0, 1], 10)
    table = paired_table(np.linspace(0.1, 0.9, 20), np.linspace(0.2, 0.8, 20), labels)
    table = table[~((table["variant"] == "mri") & (table["participant_id"].isin(["sub-000", "sub-019"])))]
    rows = compare_variants(table, ["CN", "AD"], "fusion", "mri", 50, seed=0)
    assert {r["n"] for r in rows} == {18}


def test_p_value_is_two_sided():
    assert paired_p_value(np.full(99, 0.2)) == pytest.approx(0.02)
    assert paired_p_value(np.full(99, -0.2)) == pytest.approx(0.02)
    assert paired_p_value(np.r_[np.full(50, 0.1), np.full(50, -0.1)]) == 1.0
