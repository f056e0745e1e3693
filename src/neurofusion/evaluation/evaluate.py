"""From prediction tables to the evaluation tables: metrics, per fold, comparisons, curves.

    metrics.tsv      variant, metric, mean, ci_low, ci_high, n        pooled over test folds
    per_fold.tsv     variant, fold, metric, mean, ci_low, ci_high, n  each test fold alone
    comparison.tsv   comparison, reference, baseline, metric, delta, ci_low, ci_high, p_value, n, n_boot
    curves.parquet   see curves.py

``mean`` is the point estimate on all subjects; the CI is the 95% percentile interval of
the stratified subject-level bootstrap. Comparisons pair the reference variant (fusion)
with each single-modality variant on the subjects both predicted, drawing the same
subjects for both in every repeat; each variant X with a classical baseline
``baseline_X`` in the table is also paired with it (X - baseline_X).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .bootstrap import bootstrap_samples, paired_p_value, percentile_interval, stream_seed
from .curves import COLUMNS as CURVE_COLUMNS
from .curves import curve_table
from .metrics import METRICS, all_metrics, point_metrics
from .predictions import arrays

REFERENCE = "fusion"
BASELINE_PREFIX = "baseline_"
METRIC_COLUMNS = ["variant", "metric", "mean", "ci_low", "ci_high", "n"]
PER_FOLD_COLUMNS = ["variant", "fold", "metric", "mean", "ci_low", "ci_high", "n"]
COMPARISON_COLUMNS = ["comparison", "reference", "baseline", "metric", "delta", "ci_low", "ci_high",
                      "p_value", "n", "n_boot"]


@dataclass
class EvaluationTables:
    metrics: pd.DataFrame
    per_fold: pd.DataFrame
    comparison: pd.DataFrame
    curves: pd.DataFrame


def metric_rows(labels, probs, n_boot: int, seed: np.random.SeedSequence) -> list[dict]:
    """One row per metric: point estimate and bootstrap CI."""
    point = point_metrics(labels, probs)
    samples = bootstrap_samples(lambda w: all_metrics(labels, probs, w), labels, n_boot, seed)
    rows = []
    for name in METRICS:
        ci = percentile_interval(point[name], samples.get(name, np.array([])))
        rows.append({"metric": name, "mean": ci.estimate, "ci_low": ci.low, "ci_high": ci.high, "n": len(labels)})
    return rows


def compare_variants(table: pd.DataFrame, classes, reference: str, baseline: str,
                     n_boot: int, seed: int) -> list[dict]:
    """Paired bootstrap of reference - baseline for every metric, on shared subjects."""
    ref = table[table["variant"] == reference].set_index("participant_id")
    base = table[table["variant"] == baseline].set_index("participant_id")
    shared = sorted(set(ref.index) & set(base.index))
    if not shared:
        return []
    labels, p_ref = arrays(ref.loc[shared].reset_index(), classes)
    _, p_base = arrays(base.loc[shared].reset_index(), classes)

    def delta(w):
        a, b = all_metrics(labels, p_ref, w), all_metrics(labels, p_base, w)
        return {k: a[k] - b[k] for k in METRICS}

    point = delta(np.ones((1, len(shared))))
    samples = bootstrap_samples(delta, labels, n_boot, stream_seed(seed, f"{reference}-{baseline}"))
    rows = []
    for name in METRICS:
        ci = percentile_interval(float(point[name][0]), samples.get(name, np.array([])))
        rows.append({"comparison": f"{reference}-{baseline}", "reference": reference, "baseline": baseline,
                     "metric": name, "delta": ci.estimate, "ci_low": ci.low, "ci_high": ci.high,
                     "p_value": paired_p_value(samples[name]) if name in samples else float("nan"),
                     "n": len(shared), "n_boot": n_boot})
    return rows


def variant_order(variants) -> list[str]:
    """fusion, the other models, then the baselines in the same order."""
    return sorted(variants, key=lambda v: (v.startswith(BASELINE_PREFIX), v.removeprefix(BASELINE_PREFIX) != REFERENCE, v))


def comparison_pairs(variants: Sequence[str]) -> list[tuple[str, str]]:
    """(reference, baseline): fusion - each other model; each model - its logistic-regression baseline."""
    models = [v for v in variants if not v.startswith(BASELINE_PREFIX)]
    pairs = [(REFERENCE, v) for v in models if v != REFERENCE] if REFERENCE in models else []
    pairs += [(v, BASELINE_PREFIX + v) for v in models if BASELINE_PREFIX + v in variants]
    return pairs


def evaluate(table: pd.DataFrame, classes: Sequence[str], n_boot: int, seed: int) -> EvaluationTables:
    classes = list(classes)
    variants = variant_order(table["variant"].unique())
    metrics, per_fold, comparison, curves = [], [], [], []
    for variant in variants:
        rows = table[table["variant"] == variant]
        labels, probs = arrays(rows, classes)
        metrics += [{"variant": variant, **r} for r in metric_rows(labels, probs, n_boot, stream_seed(seed, variant))]
        for fold, fold_rows in rows.groupby("fold", sort=True):
            fl, fp = arrays(fold_rows, classes)
            fold_seed = stream_seed(seed, f"{variant}/fold-{fold}")
            per_fold += [{"variant": variant, "fold": int(fold), **r} for r in metric_rows(fl, fp, n_boot, fold_seed)]
        curve_rng = np.random.default_rng(stream_seed(seed, f"{variant}/curves"))
        curves.append(curve_table(variant, classes, labels, probs, n_boot, curve_rng))
    for reference, baseline in comparison_pairs(variants):
        comparison += compare_variants(table, classes, reference, baseline, n_boot, seed)
    return EvaluationTables(
        metrics=pd.DataFrame(metrics, columns=METRIC_COLUMNS),
        per_fold=pd.DataFrame(per_fold, columns=PER_FOLD_COLUMNS),
        comparison=pd.DataFrame(comparison, columns=COMPARISON_COLUMNS),
        curves=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=CURVE_COLUMNS),
    )


def write_tables(tables: EvaluationTables, metrics_path, per_fold_path, comparison_path, curves_path) -> None:
    """Write the four outputs (paths are the temporary names of all_or_nothing)."""
    fmt = dict(sep="\t", index=False, na_rep="NA", float_format="%.6g")
    tables.metrics.to_csv(metrics_path, **fmt)
    tables.per_fold.to_csv(per_fold_path, **fmt)
    tables.comparison.to_csv(comparison_path, **fmt)
    curves = tables.curves.astype({"x": "float64", "y": "float64", "y_low": "float64", "y_high": "float64",
                                   "count": "float64"})
    curves.to_parquet(curves_path, index=False)
