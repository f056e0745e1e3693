"""Per-subject attention scores and their class summaries (pure functions over arrays).

Cross-attention arrives per layer as (docs/dev/CONTRACTS.md)

    mri_to_protein  [N, (H,) P, K]   MRI patch queries -> protein keys (rows sum to 1)
    protein_to_mri  [N, (H,) K, P]   protein queries  -> MRI patch keys

Protein importance = attention a protein *receives* from MRI tokens: mean over layers,
heads and MRI queries of mri_to_protein[..., k]. Patch importance = attention a patch
receives from protein tokens: the same over protein_to_mri[..., p]. Queries that were
masked (a missing patch or protein) are left out of the mean when masks are given.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def received_attention(layers: Sequence[np.ndarray], query_mask: np.ndarray | None = None) -> np.ndarray:
    """Mean attention each key receives, per subject -> [N, keys].

    layers: arrays [N, Q, S] or [N, H, Q, S] (one per cross layer);
    query_mask: [N, Q] bool, True = the query token was present.
    """
    total = None
    for weights in layers:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim == 4:
            w = w.mean(axis=1)  # heads -> [N, Q, S]
        if query_mask is None:
            per_key = w.mean(axis=1)  # [N, S]
        else:
            m = np.asarray(query_mask, dtype=np.float64)[:, :, None]  # [N, Q, 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                per_key = (w * m).sum(axis=1) / m.sum(axis=1)
        total = per_key if total is None else total + per_key
    return total / len(layers)


def difference_name(classes: Sequence[str]) -> str:
    """The class difference is last class minus first (e.g. AD - CN)."""
    return f"{classes[-1]}-{classes[0]}"


def class_summary(scores: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                  present: np.ndarray | None = None) -> pd.DataFrame:
    """Mean score over all subjects and per class, and last-minus-first class difference.

    scores [N, X], labels [N] class index, present [N, X] bool (False = leave out).
    Returns X rows with columns attention_all, attention_<class>..., difference.
    """
    values = np.where(present, scores, np.nan) if present is not None else scores
    out = {"attention_all": _nanmean(values)}
    for c, name in enumerate(classes):
        out[f"attention_{name}"] = _nanmean(values[labels == c])
    out["difference"] = out[f"attention_{classes[-1]}"] - out[f"attention_{classes[0]}"]
    return pd.DataFrame(out)


def _nanmean(values: np.ndarray) -> np.ndarray:
    if values.shape[0] == 0:
        return np.full(values.shape[1], np.nan)
    count = np.isfinite(values).sum(axis=0)
    total = np.nansum(values, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def rank_descending(values: np.ndarray) -> np.ndarray:
    """1 = largest; ties share the best rank; NaN ranks last."""
    v = np.where(np.isfinite(values), values, -np.inf)
    return (pd.Series(v).rank(method="min", ascending=False)).to_numpy().astype(np.int64)


def protein_importance(scores, labels, classes, catalog: pd.DataFrame, protein_ids: Sequence[str],
                       present=None) -> pd.DataFrame:
    """protein_importance.tsv: protein_id, gene, category, attention_*, difference, ranks.

    scores [N, K] from received_attention(mri_to_protein); rows ordered by rank.
    """
    table = class_summary(scores, labels, classes, present)
    info = catalog.set_index("protein_id")
    ids = list(protein_ids)
    table.insert(0, "protein_id", ids)
    table.insert(1, "gene", [info["gene"].get(p, "") if "gene" in info else "" for p in ids])
    table.insert(2, "category", [info["category"].get(p, "") if "category" in info else "" for p in ids])
    table["rank"] = rank_descending(table["attention_all"].to_numpy())
    table["rank_difference"] = rank_descending(np.abs(table["difference"].to_numpy()))
    return table.sort_values(["rank", "protein_id"], kind="stable").reset_index(drop=True)


def patch_importance(scores, labels, classes, grid: pd.DataFrame, patch_ids: Sequence[int],
                     present=None) -> pd.DataFrame:
    """patch_importance.parquet: patch_id, centre mm, attention_*, difference, rank."""
    table = class_summary(scores, labels, classes, present)
    coords = grid.set_index("patch_id").loc[list(patch_ids), ["x_mm", "y_mm", "z_mm"]].reset_index()
    table = pd.concat([coords, table], axis=1)
    table["patch_id"] = table["patch_id"].astype(np.int32)
    table["rank"] = rank_descending(table["attention_all"].to_numpy())
    return table
