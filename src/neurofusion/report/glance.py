"""The warnings at the top of the summary page: what a reviewer should see before any number.

Each check returns plain-text findings (one sentence each); ``glance_flags`` puts them
together as one HTML list. Checked:

- degenerate folds: a variant predicts one class for every test subject of a fold;
- AUCs whose 95% CI includes chance (0.5);
- a fusion that does not beat its ablations, or its classical baseline (``baseline_fusion``);
- a transformer variant that kept its linear start (epoch 0) in every fold: it is its baseline;
- a truncated run: encoder pretraining stopped by its time limit;
- subjects left out of the cohort, scans and protein measurements that could not be used, and
  cohort subjects who are not scored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import html
from .figures import ci_text

BASELINE = "baseline_fusion"


def predicted_classes(train_dir: Path, variants: Sequence[str], classes: Sequence[str]) -> pd.DataFrame:
    """One row per variant x fold: test subjects, true classes present, classes predicted."""
    rows = []
    prob_columns = [f"prob_{c}" for c in classes]
    for v in variants:
        for path in sorted((train_dir / v).glob("fold-*/predictions.parquet")):
            pred = pd.read_parquet(path)
            if pred.empty or not set(prob_columns) <= set(pred.columns):
                continue
            fold = int(re.findall(r"fold-(\d+)", path.parent.name)[0])
            predicted = pred[prob_columns].to_numpy().argmax(axis=1)
            rows.append({"variant": v, "fold": fold, "n": len(pred),
                         "true_classes": int(pred["label_index"].nunique()),
                         "predicted": sorted({classes[i] for i in predicted})})
    return pd.DataFrame(rows, columns=["variant", "fold", "n", "true_classes", "predicted"])


def degenerate_folds(predictions: pd.DataFrame) -> list[str]:
    one_class = predictions[(predictions["predicted"].map(len) == 1) & (predictions["true_classes"] > 1)]
    findings = []
    for fold, group in one_class.groupby("fold", sort=True):
        by_class: dict[str, list[str]] = {}
        for r in group.itertuples(index=False):
            by_class.setdefault(r.predicted[0], []).append(f"{r.variant} (n = {r.n})")
        what = "; ".join(f"{', '.join(vs)} predict{'s' if len(vs) == 1 else ''} {c} for everyone"
                         for c, vs in by_class.items())
        findings.append(f"fold {fold}: {what}. There the sensitivity or specificity is 0 by construction, "
                        "and the pooled metrics include a model that did not separate the classes.")
    return findings


def _auc(metrics: pd.DataFrame, variant: str):
    row = metrics[(metrics["variant"] == variant) & (metrics["metric"] == "auc")]
    return row.iloc[0] if len(row) else None


def chance_cis(metrics: pd.DataFrame, variants: Sequence[str]) -> list[str]:
    findings = []
    for v in variants:
        m = _auc(metrics, v)
        if m is None or not np.isfinite(m["ci_low"]) or m["ci_low"] > 0.5:
            continue
        below = " (below chance)" if m["mean"] < 0.5 else ""
        findings.append(f"{v}: AUC {ci_text(m['mean'], m['ci_low'], m['ci_high'])}{below}; the 95% CI includes "
                        f"chance (0.5), so this variant is not shown to classify better than a coin.")
    return findings


def fusion_verdicts(metrics: pd.DataFrame, comparison: pd.DataFrame, variants: Sequence[str]) -> list[str]:
    """Fusion against each paired comparison, and against ``baseline_fusion`` when present."""
    findings, compared = [], set()
    auc = comparison[(comparison["metric"] == "auc") & (comparison["reference"] == "fusion")] \
        if {"metric", "reference"} <= set(comparison.columns) else comparison.iloc[0:0]
    for r in auc.itertuples(index=False):
        compared.add(r.baseline)
        delta = ci_text(r.delta, r.ci_low, r.ci_high)
        p = f", p = {r.p_value:.3f}" if np.isfinite(r.p_value) else ""
        if not np.isfinite(r.delta):
            continue
        if r.delta <= 0:
            findings.append(f"does not beat {r.baseline}: paired ΔAUC {delta}{p} on {r.n} subjects.")
        elif not (np.isfinite(r.ci_low) and r.ci_low > 0):
            findings.append(f"ahead of {r.baseline} by ΔAUC {delta}{p}, but the CI includes 0: "
                            f"not shown to be better on these {r.n} subjects.")
    if "fusion" in variants and BASELINE in variants and BASELINE not in compared:
        fusion, baseline = _auc(metrics, "fusion"), _auc(metrics, BASELINE)
        if fusion is not None and baseline is not None and fusion["mean"] <= baseline["mean"]:
            findings.append(f"does not beat its classical baseline: AUC "
                            f"{ci_text(fusion['mean'], fusion['ci_low'], fusion['ci_high'])} against {BASELINE} "
                            f"{ci_text(baseline['mean'], baseline['ci_low'], baseline['ci_high'])} (pooled, not paired).")
    return findings


def truncated_pretraining(pretrain: dict | list | None) -> list[str]:
    """A flag per encoder whose pretraining its time limit stopped (``pretrain``: the shards'
    pretraining outcome, or one per encoder: a fold's own with ``embedding.pretrain.scope: fold``)."""
    outcomes = pretrain if isinstance(pretrain, (list, tuple)) else [pretrain]
    flags = []
    for outcome in outcomes:
        if not outcome or not outcome.get("stopped_by_max_seconds"):
            continue
        cap, planned = outcome.get("max_seconds"), outcome.get("epochs_planned")
        ran = outcome.get("epochs_run")
        epochs = f" in epoch {ran} of {planned}" if ran and planned else ""
        limit = f" (max_seconds {cap:g})" if isinstance(cap, (int, float)) else ""
        which = (f"pretraining of fold {outcome['left_out_fold']}'s encoder (without that fold's subjects)"
                 if outcome.get("scope") == "fold" else "encoder pretraining")
        flags.append(f"{which} was stopped by its time limit{limit}{epochs}. The embeddings, and "
                     "every result after them, depend on this machine's speed and load; rerun without the time "
                     "limit for a reproducible encoder.")
    return flags


UNUSABLE_SCAN = ("preprocessing failed: ", "preprocessing QC failed: ")
UNUSABLE_PROTEINS = ("protein measurements excluded: ",)
LISTED = 10


def _unusable(excluded: pd.DataFrame, scope: str, prefixes: tuple[str, ...]) -> list[str]:
    """``participant (reason)`` for each exclusion of ``scope`` whose reason starts with one of ``prefixes``."""
    if not len(excluded) or not {"scope", "reason"} <= set(excluded.columns):
        return []
    reasons = excluded["reason"].astype(str)
    hit = excluded[(excluded["scope"] == scope) & reasons.str.startswith(prefixes)]
    return [f"{pid} ({reason})" for pid, reason in zip(hit["participant_id"], hit["reason"])]


def _listing(named: list[str]) -> str:
    more = f"; and {len(named) - LISTED} more (see Cohort)" if len(named) > LISTED else ""
    return "; ".join(named[:LISTED]) + more + "."


def unusable_scans(excluded: pd.DataFrame) -> list[str]:
    """One finding naming each scan that preprocessing could not use, with its reason."""
    named = _unusable(excluded, "mri", UNUSABLE_SCAN)
    if not named:
        return []
    return [f"{len(named)} scan(s) could not be used and are left out of the MRI data: " + _listing(named)]


def unusable_proteins(excluded: pd.DataFrame) -> list[str]:
    """One finding naming each participant whose proteins were left out for a bad cell, with the cell."""
    named = _unusable(excluded, "proteins", UNUSABLE_PROTEINS)
    if not named:
        return []
    return [f"the protein measurements of {len(named)} participant(s) could not be used and are left out of "
            "the protein data: " + _listing(named)]


def cohort_gaps(cohort: pd.DataFrame, excluded: pd.DataFrame, metrics: pd.DataFrame) -> list[str]:
    findings = []
    scope = excluded["scope"] if "scope" in excluded.columns else pd.Series(["cohort"] * len(excluded))
    left_out = excluded.loc[scope == "cohort", "participant_id"].nunique() if len(excluded) else 0
    if left_out:
        findings.append(f"{left_out} subject(s) left out of the cohort (reasons under Cohort).")
    findings += unusable_scans(excluded) + unusable_proteins(excluded)
    scored = int(metrics["n"].max()) if len(metrics) else 0
    not_scored = len(cohort) - scored
    if not_scored > 0:
        findings.append(f"{not_scored} of the {len(cohort)} cohort subjects are not scored (they lack one modality; "
                        f"the metrics use the {scored} with what the variants need, see Cohort).")
    return findings


def kept_the_start(histories: dict | None, variants: Sequence[str]) -> list[str]:
    """Transformer variants whose every fold kept epoch 0, the linear start (training.linear_start):
    then the variant is its logistic regression, and its attention path added nothing."""
    findings = []
    for v in variants:
        runs = (histories or {}).get(v, [])
        if not runs or any("best" not in h or 0 not in set(h["epoch"]) for _, h in runs):
            continue  # a baseline's history (no epoch 0), or no linear start
        if all(int(h.loc[h["best"].astype(bool), "epoch"].iloc[-1]) == 0 for _, h in runs):
            findings.append(f"{v}: every fold kept epoch 0, the logistic regression it starts from; no epoch of "
                            f"the transformer beat it on validation, so {v} predicts what its baseline predicts.")
    return findings


def glance_flags(metrics: pd.DataFrame, comparison: pd.DataFrame, predictions: pd.DataFrame,
                 cohort: pd.DataFrame, excluded: pd.DataFrame, variants: Sequence[str],
                 pretrain: dict | list | None = None, histories: dict | None = None) -> str:
    groups = [
        ("Degenerate fold", degenerate_folds(predictions)),
        ("CI includes chance", chance_cis(metrics, variants)),
        ("Fusion", fusion_verdicts(metrics, comparison, variants)),
        ("Linear start kept", kept_the_start(histories, variants)),
        ("Truncated run", truncated_pretraining(pretrain)),
        ("Exclusions", cohort_gaps(cohort, excluded, metrics)),
    ]
    items = [f'<li><span class="bad">{html.esc(title)}</span>: {html.esc(text)}</li>'
             for title, findings in groups for text in findings]
    if not items:
        return ('<p class="good">No warnings: every fold predicts both classes, every AUC CI excludes chance, '
                'fusion beats each comparison, the run was not truncated and everyone is scored.</p>')
    return '<ul class="flags">' + "".join(items) + "</ul>"
