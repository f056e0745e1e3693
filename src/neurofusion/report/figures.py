"""Evaluation figures from the evaluate step's tables (matplotlib, Agg backend).

Each function returns a Figure; ``save_png`` writes it without a timestamp or software
stamp, so the same tables give the same PNG bytes.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

VARIANT_COLOURS = {"fusion": "#1b6ca8", "mri": "#d1495b", "protein": "#66a182"}
FALLBACK_COLOURS = ["#8d6a9f", "#edae49", "#00798c", "#30638e"]


def colour(variant: str, order: Sequence[str] = ()) -> str:
    if variant in VARIANT_COLOURS:
        return VARIANT_COLOURS[variant]
    i = list(order).index(variant) if variant in order else 0
    return FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)]


def save_png(fig, path, dpi: int) -> None:
    fig.savefig(path, dpi=dpi, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def ci_text(mean, low, high, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _metric(metrics: pd.DataFrame, variant: str, name: str):
    row = metrics[(metrics["variant"] == variant) & (metrics["metric"] == name)]
    return row.iloc[0] if len(row) else None


def _class_panels(curves: pd.DataFrame, curve: str) -> list[str]:
    return list(dict.fromkeys(curves.loc[curves["curve"] == curve, "class"]))


def _no_data(ax, text="no data"):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def roc_figure(curves: pd.DataFrame, metrics: pd.DataFrame, variants: Sequence[str]):
    """ROC per variant on one plot (one panel per class when one-vs-rest), 95% bootstrap band."""
    panels = _class_panels(curves, "roc") or ["-"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, cls in zip(axes[0], panels):
        for v in variants:
            roc = curves[(curves["variant"] == v) & (curves["curve"] == "roc") & (curves["class"] == cls)]
            band = curves[(curves["variant"] == v) & (curves["curve"] == "roc_band") & (curves["class"] == cls)]
            if roc.empty:
                continue
            label = v
            m = _metric(metrics, v, "auc")
            if m is not None and len(panels) == 1:
                label = f"{v}  AUC {ci_text(m['mean'], m['ci_low'], m['ci_high'], 2)}"
            ax.plot(roc["x"], roc["y"], color=colour(v, variants), lw=2, label=label, drawstyle="default")
            if band["y_low"].notna().any():
                ax.fill_between(band["x"], band["y_low"], band["y_high"], color=colour(v, variants), alpha=0.15, lw=0)
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate (1 - specificity)",
               ylabel="True positive rate (sensitivity)", aspect="equal")
        ax.set_title(f"ROC, {cls} vs rest" if len(panels) > 1 else f"ROC ({cls} positive)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8, title="pooled test folds; band: 95% bootstrap", title_fontsize=7)
    fig.tight_layout()
    return fig


def calibration_figure(curves: pd.DataFrame, variants: Sequence[str]):
    """Observed frequency vs mean predicted probability per equal-count bin, Wilson 95% intervals."""
    panels = _class_panels(curves, "calibration") or ["-"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, cls in zip(axes[0], panels):
        for v in variants:
            cal = curves[(curves["variant"] == v) & (curves["curve"] == "calibration") & (curves["class"] == cls)]
            if cal.empty:
                continue
            err = np.clip(np.vstack([cal["y"] - cal["y_low"], cal["y_high"] - cal["y"]]), 0, None)
            counts = cal["count"].dropna().astype(int)
            per_bin = (f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}")
            ax.errorbar(cal["x"], cal["y"], yerr=err, color=colour(v, variants), marker="o", ms=4, lw=1.5,
                        capsize=2, label=f"{v} ({len(cal)} bin{'' if len(cal) == 1 else 's'} of {per_bin})")
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
        ax.set(xlim=(0, 1), ylim=(-0.02, 1.02), xlabel=f"Mean predicted probability of {cls}",
               ylabel=f"Observed fraction {cls}", aspect="equal", title=f"Calibration ({cls}, equal-count bins)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


def confusion_figure(curves: pd.DataFrame, classes: Sequence[str], variants: Sequence[str]):
    """One confusion matrix per variant: counts, shaded by the share of each true class."""
    fig, axes = plt.subplots(1, max(1, len(variants)), figsize=(3.6 * max(1, len(variants)), 3.6), squeeze=False)
    c = len(classes)
    for ax, v in zip(axes[0], variants):
        conf = curves[(curves["variant"] == v) & (curves["curve"] == "confusion")]
        if conf.empty:
            _no_data(ax)
            continue
        counts = np.zeros((c, c))
        for row in conf.itertuples(index=False):
            counts[int(row.x), int(row.y)] = row.count
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(c):
            for j in range(c):
                ax.text(j, i, f"{int(counts[i, j])}\n{share[i, j]:.0%}", ha="center", va="center", fontsize=9,
                        color="white" if share[i, j] > 0.6 else "black")
        ax.set_xticks(range(c), classes)
        ax.set_yticks(range(c), classes)
        ax.set(xlabel="Predicted", ylabel="True", title=v)
    fig.tight_layout()
    return fig


FOLD_COLOURS = ["#1b6ca8", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#00798c", "#30638e", "#9e9e9e"]
SMALL_VALIDATION = 20  # below this many validation subjects, validation AUC moves in big steps


def training_curves_figure(histories: dict[str, list[tuple[int, pd.DataFrame]]], variants: Sequence[str],
                           val_sizes: dict[tuple[str, int], int] | None = None):
    """One column per variant: loss per epoch (train solid, validation dashed) on top,
    validation AUC below; one colour per fold, the same in every panel.

    ``val_sizes`` ((variant, fold) -> validation subjects) adds how many subjects each
    validation AUC rests on, and a warning when that is too few to read its curve."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    val_sizes = val_sizes or {}
    shown = [v for v in variants if histories.get(v)] or list(variants[:1]) or ["-"]
    fig, axes = plt.subplots(2, len(shown), figsize=(3.8 * len(shown), 5.8), squeeze=False, sharex="col")
    folds = sorted({fold for v in shown for fold, _ in histories.get(v, [])})
    fold_colour = {fold: FOLD_COLOURS[i % len(FOLD_COLOURS)] for i, fold in enumerate(folds)}
    for col, v in enumerate(shown):
        ax_loss, ax_auc = axes[0, col], axes[1, col]
        runs = histories.get(v, [])
        if not runs:
            _no_data(ax_loss, "no history.tsv found")
            _no_data(ax_auc, "no history.tsv found")
            continue
        for fold, whole in runs:
            c = fold_colour[fold]
            # an ensemble's history has one run per member (column "member"): one line each, same colour
            parts = [g for _, g in whole.groupby("member", sort=True)] if "member" in whole else [whole]
            lw = 1.4 if len(parts) == 1 else 1.0
            for i, h in enumerate(parts):
                if "train_loss" in h:
                    ax_loss.plot(h["epoch"], h["train_loss"], color=c, lw=lw)
                if "val_loss" in h:
                    ax_loss.plot(h["epoch"], h["val_loss"], color=c, lw=lw, ls="--")
                if "val_auc" in h:
                    n_val = val_sizes.get((v, fold))
                    label = (f"fold {fold}" + (f" (n={n_val})" if n_val else "")
                             + (f", {len(parts)} members" if len(parts) > 1 else "")) if i == 0 else None
                    ax_auc.plot(h["epoch"], h["val_auc"], color=c, lw=lw, marker=".", ms=3, label=label)
        ax_loss.set(title=v, ylabel="Loss" if col == 0 else None)
        ax_auc.set(xlabel="Epoch", ylabel="Validation AUC" if col == 0 else None, ylim=(-0.02, 1.02))
        ax_auc.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in (ax_loss, ax_auc):
            ax.grid(alpha=0.3)
        ax_auc.legend(fontsize=6, loc="lower right", title="validation subjects", title_fontsize=6)
    handles = [Line2D([], [], color=fold_colour[f], lw=2) for f in folds]
    handles += [Line2D([], [], color="black", lw=1.4), Line2D([], [], color="black", lw=1.4, ls="--")]
    labels = [f"fold {f}" for f in folds] + ["train loss", "validation loss"]
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, 0.995))
    fig.suptitle("Training curves", fontsize=10, y=1.04)
    sizes = [n for (v, _), n in val_sizes.items() if v in shown and n]
    if sizes and min(sizes) < SMALL_VALIDATION:
        fig.text(0.5, -0.01, f"Validation sets of {min(sizes)}-{max(sizes)} subjects: one subject more or less "
                 "moves validation AUC in large steps (down to 0 or up to 1), so read the trend, not single epochs.",
                 ha="center", va="top", fontsize=7, color="#b42318", wrap=True)
    fig.tight_layout()
    return fig


def ablation_figure(metrics: pd.DataFrame, comparison: pd.DataFrame, variants: Sequence[str]):
    """Left: pooled AUC per variant with 95% CI. Right: paired ΔAUC (fusion - ablation), CI, p."""
    fig, (ax_auc, ax_delta) = plt.subplots(1, 2, figsize=(10, 3.6))
    ys = np.arange(len(variants))
    for y, v in zip(ys, variants):
        m = _metric(metrics, v, "auc")
        if m is None or not np.isfinite(m["mean"]):
            continue
        xerr = None
        if np.isfinite(m["ci_low"]):
            xerr = [[max(0.0, m["mean"] - m["ci_low"])], [max(0.0, m["ci_high"] - m["mean"])]]
        ax_auc.errorbar(m["mean"], y, xerr=xerr, fmt="o", color=colour(v, variants), capsize=4, ms=7)
        ax_auc.annotate(f"{m['mean']:.3f}", (m["mean"], y), textcoords="offset points", xytext=(0, 9),
                        ha="center", fontsize=8)
    ax_auc.set_yticks(ys, variants)
    ax_auc.axvline(0.5, ls="--", color="grey", lw=1)
    lows = [m["ci_low"] for v in variants if (m := _metric(metrics, v, "auc")) is not None and np.isfinite(m["ci_low"])]
    ax_auc.set(xlim=(min([0.3, *[lo - 0.03 for lo in lows]]), 1.02), ylim=(-0.6, len(variants) - 0.4), xlabel="ROC AUC (pooled test folds, 95% CI)",
               title="Each variant")
    ax_auc.grid(axis="x", alpha=0.3)
    auc = comparison[comparison["metric"] == "auc"] if not comparison.empty else comparison
    if auc is None or auc.empty:
        _no_data(ax_delta, "no paired comparison\n(needs the fusion variant and an ablation)")
        return fig
    yd = np.arange(len(auc))
    for y, row in zip(yd, auc.itertuples(index=False)):
        xerr = ([[max(0.0, row.delta - row.ci_low)], [max(0.0, row.ci_high - row.delta)]]
                if np.isfinite(row.ci_low) else None)
        ax_delta.errorbar(row.delta, y, xerr=xerr, fmt="s", color=colour(row.baseline, variants), capsize=4, ms=7)
        p = f"p={row.p_value:.3f}" if np.isfinite(row.p_value) else "p=n/a"
        ax_delta.annotate(f"{row.delta:+.3f}  {p}  (n={row.n})", (row.delta, y), textcoords="offset points",
                          xytext=(0, 9), ha="center", fontsize=8)
    ax_delta.set_yticks(yd, [f"{r.reference}\n- {r.baseline}" for r in auc.itertuples(index=False)])
    ax_delta.axvline(0, ls="--", color="grey", lw=1)
    ax_delta.set(ylim=(-0.6, len(auc) - 0.4), xlabel="ΔAUC, paired bootstrap 95% CI (same subjects)",
                 title="Paired differences (same subjects)")
    ax_delta.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
