"""The summary step: read the evaluation, training and attention outputs, draw every
figure and write one self-contained HTML page.

Outputs (beside the HTML): figures/{roc,calibration,confusion,training_curves,ablation}.png
and figures/attention_<variant>_{map,proteins}.png for each attention folder.
"""

from __future__ import annotations

import io
import json
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .. import TEMPLATE_SPACE, __version__
from ..errors import NeurofusionError
from ..io import all_or_nothing
from . import html
from .figures import (ablation_figure, calibration_figure, ci_text, confusion_figure, roc_figure, save_png,
                      training_curves_figure)

FIGURES = ("roc", "calibration", "confusion", "training_curves", "ablation")
PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "torch", "nibabel", "nilearn",
            "SimpleITK", "monai", "matplotlib", "snakemake")
HEADLINE = ("auc", "balanced_accuracy", "sensitivity", "specificity", "f1", "brier", "ece")
CAPTIONS = {
    "roc": "ROC curves of every variant on the pooled test folds, with 95% bootstrap bands.",
    "calibration": "Calibration: observed frequency against mean predicted probability per bin (Wilson 95% intervals).",
    "confusion": "Confusion matrices on the pooled test folds (counts and share of each true class).",
    "training_curves": "Training and validation loss and validation AUC per epoch, one line per fold.",
    "ablation": "Pooled AUC per variant (95% CI) and the paired fusion-minus-ablation ΔAUC with p-values.",
}


@dataclass
class SummaryInputs:
    eval_dir: Path
    train_dir: Path
    attention_dirs: list[Path]
    cohort: Path
    excluded: Path
    model_configs: list[Path] = field(default_factory=list)
    settings: Path | None = None
    settings_text: str | None = None  # the workflow's merged config, as YAML


def _read_tsv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t")
    except FileNotFoundError:
        raise NeurofusionError("file not found", path=path, fix="run the step that writes it first")
    except pd.errors.EmptyDataError:
        raise NeurofusionError("file is empty", path=path, fix="rerun the step that writes it")


def _require(frame: pd.DataFrame, columns: Sequence[str], path) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NeurofusionError(f"missing column(s) {', '.join(missing)}", path=path, fix="rerun the step that writes it")
    return frame


def read_histories(train_dir: Path, variants: Sequence[str]) -> dict[str, list[tuple[int, pd.DataFrame]]]:
    out: dict[str, list[tuple[int, pd.DataFrame]]] = {}
    for v in variants:
        for path in sorted((train_dir / v).glob("fold-*/history.tsv")):
            fold = int(re.findall(r"fold-(\d+)", path.parent.name)[0])
            out.setdefault(v, []).append((fold, _require(_read_tsv(path), ["epoch"], path)))
        out.get(v, []).sort(key=lambda item: item[0])
    return out


def _classes(cohort: pd.DataFrame, curves: pd.DataFrame) -> list[str]:
    if {"label", "label_index"} <= set(cohort.columns) and len(cohort):
        pairs = cohort[["label_index", "label"]].drop_duplicates().sort_values("label_index")
        return [str(x) for x in pairs["label"]]
    conf = curves[curves["curve"] == "confusion"][["x", "class"]].drop_duplicates().sort_values("x")
    return [str(x) for x in conf["class"]]


def _png(fig, dpi: int) -> bytes:
    buffer = io.BytesIO()
    save_png(fig, buffer, dpi)
    return buffer.getvalue()


def software_versions() -> pd.DataFrame:
    rows = [("neurofusion", __version__), ("python", platform.python_version())]
    for name in PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"])


def headline_table(metrics: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    rows = []
    for v in variants:
        m = metrics[metrics["variant"] == v].set_index("metric")
        row = {"variant": v, "n": int(m["n"].max()) if len(m) else 0}
        for name in HEADLINE:
            row[name] = ci_text(*m.loc[name, ["mean", "ci_low", "ci_high"]]) if name in m.index else "n/a"
        rows.append(row)
    return pd.DataFrame(rows)


def _repeats(comparison: pd.DataFrame) -> str:
    if "n_boot" in comparison.columns and len(comparison):
        return f" ({int(comparison['n_boot'].iloc[0])} repeats)"
    return ""


def comparison_sentences(comparison: pd.DataFrame) -> str:
    auc = comparison[comparison["metric"] == "auc"]
    if auc.empty:
        return '<p class="note">No paired comparison (it needs the fusion variant and at least one ablation).</p>'
    items = []
    for r in auc.itertuples(index=False):
        verdict, cls = "no clear difference (CI includes 0)", ""
        if np.isfinite(r.ci_low) and r.ci_low > 0:
            verdict, cls = "fusion better", "good"
        elif np.isfinite(r.ci_high) and r.ci_high < 0:
            verdict, cls = f"{r.baseline} better", "bad"
        p = f"{r.p_value:.3f}" if np.isfinite(r.p_value) else "n/a"
        items.append(f"<li>{html.esc(r.reference)} − {html.esc(r.baseline)}: ΔAUC "
                     f"{html.esc(ci_text(r.delta, r.ci_low, r.ci_high))}, p = {p}, n = {r.n} paired subjects: "
                     f'<span class="{cls}">{html.esc(verdict)}</span></li>')
    return "<ul>" + "".join(items) + "</ul>"


def cohort_section(cohort: pd.DataFrame, excluded: pd.DataFrame, classes: Sequence[str]) -> str:
    parts = [f"<p>{len(cohort)} subjects included, {len(excluded)} excluded.</p>"]
    if {"fold", "label"} <= set(cohort.columns) and len(cohort):
        counts = pd.crosstab(cohort["fold"], cohort["label"]).reindex(columns=list(classes), fill_value=0)
        counts.index = [f"fold {k}" for k in counts.index]
        counts.loc["total"] = counts.sum()
        frame = counts.reset_index().rename(columns={"index": "test fold"})
        parts.append(html.table(frame, numeric=classes))
    for col in ("has_mri", "has_proteins"):
        if col in cohort.columns:
            parts.append(f"<p>{col}: {int(cohort[col].sum())} of {len(cohort)}</p>")
    if len(excluded) and "reason" in excluded.columns:
        reasons = excluded.groupby("reason").size().reset_index(name="subjects")
        parts.append("<h3>Exclusions by reason</h3>" + html.table(reasons, numeric=["subjects"]))
        parts.append("<details><summary>Every excluded subject</summary>" + html.table(excluded) + "</details>")
    return "".join(parts)


def planted_html(check: dict) -> str:
    if not check.get("available"):
        return ""
    parts = ["<h3>Planted-signal check</h3><ul>"]
    region = check.get("region")
    if region:
        order = ["all", *check.get("classes", [])]
        values = region["enrichment"]
        enrich = ", ".join(f"{k}: {values[k]:.2f}" if values.get(k) is not None else f"{k}: n/a"
                           for k in order if k in values)
        matched = "; ".join(r.get("patches", "") for r in region.get("regions", []))
        parts.append(f"<li>Attention enrichment inside the planted region ({region['n_patches_inside']} patches: "
                     f"{html.esc(matched)}; mean weight inside ÷ mean elsewhere, &gt; 1 = concentrated there): "
                     f"{html.esc(enrich)}</li>")
    n = check.get("n_proteins")
    for p in check.get("proteins", []):
        if p.get("found"):
            parts.append(f"<li>Planted protein {html.esc(p['name'])}: rank {p['rank']} of {n} by attention, "
                         f"rank {p['rank_difference']} by |class difference|</li>")
        else:
            parts.append(f"<li>Planted protein {html.esc(p['name'])}: not in the protein catalog</li>")
    return "".join(parts) + "</ul>"


def attention_section(folder: Path, classes, top: int, dpi: int, figures: dict[str, bytes]) -> str:
    """Draw the two attention figures of one variant (into ``figures``) and return its HTML."""
    import nibabel as nib

    from .attention_figures import attention_map_figure, protein_bars_figure

    variant = folder.name
    importance_path = folder / "protein_importance.tsv"
    importance = _require(_read_tsv(importance_path), ["protein_id", "gene", "category", "rank", "difference",
                                                       "attention_all"] + [f"attention_{c}" for c in classes],
                          importance_path)
    check_path = folder / "planted_check.json"
    check = json.loads(check_path.read_text()) if check_path.exists() else {"available": False}
    centres = [r["centre_mm"] for r in check.get("region", {}).get("regions", [])]
    planted = [p["name"] for p in check.get("proteins", [])]
    maps = {}
    for kind in [f"class-{classes[-1]}", "desc-difference"]:
        path = folder / f"attention_space-{TEMPLATE_SPACE}_{kind}.nii.gz"
        if not path.exists():
            raise NeurofusionError("attention map not found", path=path, fix="rerun export-attention")
        maps[kind] = nib.load(path)
    diff_label = f"{classes[-1]} - {classes[0]}"
    figures[f"attention_{variant}_map"] = _png(attention_map_figure(
        maps[f"class-{classes[-1]}"], maps["desc-difference"], classes[-1], diff_label, centres), dpi)
    figures[f"attention_{variant}_proteins"] = _png(protein_bars_figure(importance, classes, top, planted), dpi)
    top_table = importance.sort_values("rank").head(top)[
        ["rank", "protein_id", "gene", "category", "attention_all", "difference", "rank_difference"]
        if "rank_difference" in importance else ["rank", "protein_id", "gene", "category", "attention_all", "difference"]]
    return "".join([
        f"<h2>Where the {html.esc(variant)} model looks</h2>",
        planted_html(check),
        html.figure(figures[f"attention_{variant}_map"],
                    f"Mean cross-attention each MRI patch receives from protein tokens (test subjects, "
                    f"{classes[-1]}), and the class difference {diff_label}, over the MNI152 2009a template"
                    + ("; green marker: planted region centre." if centres else "."), f"attention map {variant}"),
        html.figure(figures[f"attention_{variant}_proteins"],
                    f"Top {top} proteins by mean attention received from MRI tokens.", f"top proteins {variant}"),
        "<details><summary>Top proteins table</summary>",
        html.table(top_table, numeric=["rank", "attention_all", "difference", "rank_difference"]),
        "</details>",
    ])


def _text_block(title: str, path: Path) -> str:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NeurofusionError("file not found", path=path, fix="check the path")
    return f"<h3>{html.esc(title)}: {html.esc(path)}</h3><pre>{html.esc(text)}</pre>"


def build_summary(inputs: SummaryInputs, dpi: int, top: int, out_html: Path) -> dict:
    eval_dir = inputs.eval_dir
    metrics = _require(_read_tsv(eval_dir / "metrics.tsv"), ["variant", "metric", "mean", "ci_low", "ci_high", "n"],
                       eval_dir / "metrics.tsv")
    per_fold = _read_tsv(eval_dir / "per_fold.tsv")
    comparison = _read_tsv(eval_dir / "comparison.tsv")
    try:
        curves = pd.read_parquet(eval_dir / "curves.parquet")
    except FileNotFoundError:
        raise NeurofusionError("file not found", path=eval_dir / "curves.parquet", fix="run the evaluate step first")
    cohort = pd.read_parquet(inputs.cohort)
    excluded = _read_tsv(inputs.excluded)
    classes = _classes(cohort, curves)
    variants = list(dict.fromkeys(metrics["variant"]))
    histories = read_histories(inputs.train_dir, variants)

    figures: dict[str, bytes] = {
        "roc": _png(roc_figure(curves, metrics, variants), dpi),
        "calibration": _png(calibration_figure(curves, variants), dpi),
        "confusion": _png(confusion_figure(curves, classes, variants), dpi),
        "training_curves": _png(training_curves_figure(histories, variants), dpi),
        "ablation": _png(ablation_figure(metrics, comparison, variants), dpi),
    }
    attention_html = [attention_section(Path(d), classes, top, dpi, figures) for d in inputs.attention_dirs]

    sections = [
        "<h2>At a glance</h2>",
        f"<p>Classes: {html.esc(', '.join(classes))} (positive: {html.esc(classes[-1])}). Metrics pooled over "
        f"test folds; brackets: 95% subject-level bootstrap CI{_repeats(comparison)}. Lower is better for Brier "
        f"and ECE.</p>",
        html.table(headline_table(metrics, variants), numeric=["n", *HEADLINE]),
        comparison_sentences(comparison),
        html.figure(figures["ablation"], CAPTIONS["ablation"], "ablation"),
        *attention_html,
        "<h2>Evaluation figures</h2>",
        *[html.figure(figures[name], CAPTIONS[name], name) for name in FIGURES if name != "ablation"],
        "<h2>Per-fold metrics</h2><details><summary>Show table</summary>",
        html.table(per_fold, numeric=["mean", "ci_low", "ci_high", "n"]), "</details>",
        "<h2>All paired comparisons</h2>",
        html.table(comparison, numeric=["delta", "ci_low", "ci_high", "p_value", "n", "n_boot"]),
        "<h2>Cohort</h2>", cohort_section(cohort, excluded, classes),
        "<h2>Configuration</h2>",
        *[_text_block("Model configuration", Path(p)) for p in inputs.model_configs],
        _text_block("Run settings", inputs.settings) if inputs.settings else "",
        (f"<h3>Workflow configuration (merged)</h3><pre>{html.esc(inputs.settings_text)}</pre>"
         if inputs.settings_text else ""),
        f"<p class=\"note\">Report settings: dpi {dpi}, top proteins {top}.</p>",
        "<h2>Software</h2>", html.table(software_versions()),
    ]
    figure_dir = out_html.parent / "figures"
    names = list(figures)
    with all_or_nothing(out_html, *(figure_dir / f"{n}.png" for n in names)) as tmps:
        Path(tmps[0]).write_text(html.page("neurofusion: evaluation summary", sections), encoding="utf-8")
        for tmp, name in zip(tmps[1:], names):
            Path(tmp).write_bytes(figures[name])
    return {"figures": [str(figure_dir / f"{n}.png") for n in names], "variants": variants, "classes": classes}
