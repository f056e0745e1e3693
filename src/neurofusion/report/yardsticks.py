"""What each AUC stands beside on the summary page: the truth-informed ceilings (cohorts
with a truth.json) and the logistic-regression baselines on the same inputs.

    variant            ceiling
    fusion             ceiling_fusion      baseline_fusion  -> ceiling_fusion
    mri                ceiling_mri         baseline_mri     -> ceiling_mri
    protein            ceiling_protein     baseline_protein -> ceiling_protein
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import html
from .figures import ci_text

BASELINE_PREFIX = "baseline_"
READOUTS = {
    "ceiling_mri": "mean intensity in the planted region",
    "ceiling_protein": "signed sum of the planted proteins' z-scores",
    "ceiling_fusion": "both readouts, logistic regression",
}


def ceiling_of(variant: str) -> str:
    return "ceiling_" + variant.removeprefix(BASELINE_PREFIX)


def _auc(metrics: pd.DataFrame, variant: str):
    row = metrics[(metrics["variant"] == variant) & (metrics["metric"] == "auc")]
    return row.iloc[0] if len(row) else None


def ceiling_table(metrics: pd.DataFrame, ceiling: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    """One row per variant with a ceiling: its AUC, the readout's AUC and the gap."""
    rows = []
    for v in variants:
        mine, best = _auc(metrics, v), _auc(ceiling, ceiling_of(v))
        if mine is None or best is None:
            continue
        rows.append({"variant": v, "AUC": ci_text(mine["mean"], mine["ci_low"], mine["ci_high"]),
                     "truth-informed readout": READOUTS.get(ceiling_of(v), ceiling_of(v)),
                     "readout AUC": ci_text(best["mean"], best["ci_low"], best["ci_high"]),
                     "gap": f"{mine['mean'] - best['mean']:+.3f}" if np.isfinite(mine["mean"] - best["mean"]) else "n/a",
                     "n": int(mine["n"])})
    return pd.DataFrame(rows, columns=["variant", "AUC", "truth-informed readout", "readout AUC", "gap", "n"])


def ceiling_section(metrics: pd.DataFrame, ceiling: pd.DataFrame | None, variants: Sequence[str]) -> str:
    if ceiling is None:
        return ""
    table = ceiling_table(metrics, ceiling, variants)
    if table.empty:
        return ""
    return "".join([
        "<h3>What the data allows</h3>",
        "<p>Beside each AUC, a readout that knows where the signal was planted (truth.json), on the same "
        "test folds and subjects: the mean preprocessed intensity in the planted region (MRI), the sum of the "
        "planted proteins' z-scores with their planted direction (z-scores fitted on the training folds), and "
        "both combined by a logistic regression fitted on the training folds (fusion). The gap (variant minus "
        "readout) is the signal the model did not find; it is a point difference, and the readouts' own CIs "
        "are as wide as the models'.</p>",
        html.table(table, numeric=["AUC", "readout AUC", "gap", "n"]),
    ])


def baseline_choices(histories: dict[str, list[tuple[int, pd.DataFrame]]], variants: Sequence[str]) -> pd.DataFrame:
    """Per baseline and fold: the C the inner CV chose and its inner-CV AUC (history.tsv, best row)."""
    rows = []
    for v in variants:
        if not v.startswith(BASELINE_PREFIX):
            continue
        for fold, h in histories.get(v, []):
            if "C" not in h or "best" not in h:
                continue
            best = h[h["best"].astype(str).str.lower() == "true"]
            if len(best):
                rows.append({"variant": v, "fold": fold, "C": f"{float(best['C'].iloc[0]):.3g}",
                             "inner-CV AUC": best["val_auc"].iloc[0] if "val_auc" in best else float("nan")})
    return pd.DataFrame(rows, columns=["variant", "fold", "C", "inner-CV AUC"])


def baseline_section(histories, variants: Sequence[str]) -> str:
    choices = baseline_choices(histories, variants)
    if choices.empty:
        return ""
    return "".join([
        "<details><summary>Baselines: penalty chosen per fold</summary>",
        "<p class=\"note\">baseline_* variants are scikit-learn logistic regressions on the same inputs, "
        "subjects, folds and scalers as the transformer; C (the inverse penalty strength) is picked by a stratified "
        "inner CV on the training part only.</p>",
        html.table(choices, numeric=["fold", "C", "inner-CV AUC"]),
        "</details>",
    ])


def is_baseline(variant: str) -> bool:
    return variant.startswith(BASELINE_PREFIX)
