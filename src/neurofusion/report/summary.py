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
from ..embeddings.store import read_shard_metadata
from .figures import (ablation_figure, calibration_figure, ci_text, confusion_figure, roc_figure, save_png,
                      training_curves_figure)
from .glance import glance_flags, predicted_classes
from .yardsticks import baseline_section, ceiling_section, is_baseline

FIGURES = ("roc", "calibration", "confusion", "training_curves", "ablation")
PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "torch", "nibabel", "nilearn",
            "SimpleITK", "monai", "matplotlib", "snakemake")
HEADLINE = ("auc", "balanced_accuracy", "sensitivity", "specificity", "f1", "brier", "ece")
CAPTIONS = {
    "roc": "ROC curves of every variant on the pooled test folds, with 95% bootstrap bands.",
    "calibration": "Calibration: observed frequency against mean predicted probability in equal-count bins "
                   "(10 or more subjects each, always at least 2 bins; Wilson 95% intervals).",
    "confusion": "Confusion matrices on the pooled test folds (counts and share of each true class).",
    "training_curves": "Training and validation loss and validation AUC per epoch; one colour per fold, the same "
                       "in every panel; n: validation subjects of each fold. Epoch 0, where drawn, is the logistic "
                       "regression the model starts from (training.linear_start); with linear_fit: training_part "
                       "that regression was fitted on the validation subjects too, so validation favours it "
                       "(AUC often 1.0 at every epoch) and a later epoch is kept only where it is clearly better.",
    "ablation": "Pooled AUC per variant (95% CI) and the paired ΔAUC on the same subjects (fusion minus each "
                "ablation, each model minus its baseline) with p-values.",
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
    # its metadata says how the builtin encoder's pretraining ended; a list: one shard per encoder
    # (embedding.pretrain.scope: fold)
    embedding_shard: Path | list[Path] | None = None
    ceiling: Path | None = None  # ceiling.tsv: truth-informed readouts (cohorts with a truth.json)


def encoder_sentence(pretrain: list, elsewhere: str | None = None) -> str:
    """What the builtin encoder was pretrained on (the shards' pretraining outcome, one per
    encoder): every scan, test folds' included, or per fold without that fold's subjects; or,
    ``elsewhere`` (the checkpoint ``embedding.encoder.builtin`` names), another run's scans.
    Empty for a user's TorchScript / MONAI encoder (its shards carry no pretraining outcome)."""
    outcomes = [o for o in pretrain if o]
    if elsewhere:
        return (f"<p>MRI embeddings: a builtin encoder pretrained elsewhere (<code>embedding.encoder.builtin: "
                f"{html.esc(elsewhere)}</code>), not by this run: its test folds' scans were in its pretraining "
                f"only if they were in that cohort. The shards record the file's sha256.</p>")
    if not outcomes:
        return ""
    if all(o.get("scope") == "fold" for o in outcomes):
        sizes = ", ".join(f"fold {o['left_out_fold']}: {o.get('pretrained_on', '?')}"
                          for o in sorted(outcomes, key=lambda o: o["left_out_fold"]))
        return (f"<p>MRI embeddings: one builtin encoder per fold, each pretrained without labels on the other "
                f"folds' scans only, so no model saw its test subjects' scans before testing (subjects per "
                f"encoder: {html.esc(sizes)}).</p>")
    return ("<p>MRI embeddings: the builtin encoder was pretrained without labels on every scan, the test "
            "folds' included (<code>embedding.pretrain.scope: cohort</code>; <code>fold</code> pretrains one "
            "encoder per fold without its subjects).</p>")


def _builtin_elsewhere(settings_text: str | None) -> str | None:
    """The checkpoint of a builtin encoder pretrained elsewhere, from the merged config, or None."""
    import yaml

    try:
        settings = yaml.safe_load(settings_text) if settings_text else None
    except yaml.YAMLError:
        return None
    embedding = settings.get("embedding") if isinstance(settings, dict) else None
    encoder = embedding.get("encoder") if isinstance(embedding, dict) else None
    return str(encoder["builtin"]) if isinstance(encoder, dict) and "builtin" in encoder else None


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


def read_validation_sizes(train_dir: Path, variants: Sequence[str]) -> dict[tuple[str, int], int]:
    """(variant, fold) -> validation subjects, from each fold's subjects.tsv (role == val)."""
    sizes = {}
    for v in variants:
        for path in sorted((train_dir / v).glob("fold-*/subjects.tsv")):
            roles = _read_tsv(path)
            if "role" in roles.columns:
                fold = int(re.findall(r"fold-(\d+)", path.parent.name)[0])
                sizes[(v, fold)] = int((roles["role"] == "val").sum())
    return sizes


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
            verdict, cls = f"{r.reference} better", "good"
        elif np.isfinite(r.ci_high) and r.ci_high < 0:
            verdict, cls = f"{r.baseline} better", "bad"
        p = f"{r.p_value:.3f}" if np.isfinite(r.p_value) else "n/a"
        items.append(f"<li>{html.esc(r.reference)} − {html.esc(r.baseline)}: ΔAUC "
                     f"{html.esc(ci_text(r.delta, r.ci_low, r.ci_high))}, p = {p}, n = {r.n} paired subjects: "
                     f'<span class="{cls}">{html.esc(verdict)}</span></li>')
    return "<ul>" + "".join(items) + "</ul>"


def _subjects(n: int) -> str:
    return f"{n} subject{'' if n == 1 else 's'}"


def cohort_section(cohort: pd.DataFrame, excluded: pd.DataFrame, classes: Sequence[str],
                   metrics: pd.DataFrame | None = None) -> str:
    """Who is in the cohort, who is scored and why the two numbers differ; folds; exclusions."""
    scope = excluded["scope"] if "scope" in excluded.columns else pd.Series("cohort", index=excluded.index)
    left_out = excluded.loc[scope == "cohort"]
    missing = excluded.loc[scope != "cohort"]
    parts = [f"<p><b>Cohort: {_subjects(len(cohort))}</b> with a label in {html.esc(', '.join(classes))} and at "
             f"least one usable modality; {_subjects(left_out['participant_id'].nunique())} left out of it."]
    if {"has_mri", "has_proteins"} <= set(cohort.columns) and len(cohort):
        both = int((cohort["has_mri"] & cohort["has_proteins"]).sum())
        mri_only = int((cohort["has_mri"] & ~cohort["has_proteins"]).sum())
        prot_only = int((~cohort["has_mri"] & cohort["has_proteins"]).sum())
        parts.append(f" Of the cohort, {both} have both MRI and proteins, {mri_only} MRI only, "
                     f"{prot_only} proteins only.")
        if metrics is not None and len(metrics):
            scored = metrics.groupby("variant", sort=False)["n"].max().astype(int)
            if scored.nunique() == 1:
                n = int(scored.iloc[0])
                why = (f" The other {len(cohort) - n} lack one modality: they are in the cohort and the fold table "
                       "(folds are drawn over the whole cohort), but no variant scores them, so that every variant "
                       "is compared on the same people." if n == both and n < len(cohort) else "")
                parts.append(f" <b>Scored: {_subjects(n)}</b> (the metrics' n), in every variant.{why}")
            else:
                listed = ", ".join(f"{html.esc(v)} {n}" for v, n in scored.items())
                parts.append(f" <b>Scored</b> (the metrics' n, per variant): {listed}; a variant scores the "
                             "subjects that have the modalities it needs.")
    parts.append("</p>")
    if {"fold", "label"} <= set(cohort.columns) and len(cohort):
        counts = pd.crosstab(cohort["fold"], cohort["label"]).reindex(columns=list(classes), fill_value=0)
        counts.index = [f"fold {k}" for k in counts.index]
        counts.loc["total"] = counts.sum()
        frame = counts.reset_index().rename(columns={"index": "test fold"})
        parts.append("<p>Test folds over the whole cohort (scored or not):</p>" + html.table(frame, numeric=classes))
    if len(excluded) and "reason" in excluded.columns:
        groups = ["scope"] if "scope" in excluded.columns else []
        reasons = excluded.groupby([*groups, "reason"]).size().reset_index(name="subjects")
        parts.append("<h3>Exclusions by reason</h3><p class=\"note\">scope cohort: left out of the cohort; "
                     "scope mri / proteins: that modality is missing or failed QC, the subject stays in the "
                     "cohort.</p>" + html.table(reasons, numeric=["subjects"]))
        parts.append("<details><summary>Every excluded subject</summary>" + html.table(excluded) + "</details>")
    return "".join(parts)


def _region_text(index: int, region: dict) -> str:
    """One planted region in words, e.g. 'region 1 at (-26, -22, -14) mm, radius 16 mm: 1 patch centre inside'."""
    centre = ", ".join(f"{v:g}" for v in region.get("centre_mm", []))
    radius = region.get("radius_mm")
    where = f"region {index} at ({centre}) mm" + (f", radius {radius:g} mm" if radius is not None else "")
    return f"{where}: {region.get('patches', '')}"


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
        regions = region.get("regions", [])
        listed = "".join(f"<li>{html.esc(_region_text(i, r))}</li>" for i, r in enumerate(regions, start=1))
        n_inside = region["n_patches_inside"]
        parts.append(f"<li>Planted region{'s' if len(regions) != 1 else ''}: {len(regions)}, counted together as "
                     f"{n_inside} patch{'es' if n_inside != 1 else ''}<ul>{listed}</ul></li>"
                     f"<li>Attention enrichment in those patches (mean weight inside ÷ mean elsewhere; &gt; 1 = "
                     f"concentrated there): {html.esc(enrich)}</li>")
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


def _fmt(value, digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# a method that gives every token 0: relevance when the selected epoch is the linear path alone
ZERO = "0 everywhere"


def attribution_check_table(check: dict) -> pd.DataFrame:
    """One row per method: planted-region enrichment and planted proteins' median rank, for the
    trained model and each control, and whether the check supports the method."""
    rows = []
    for method, entry in check.get("methods", {}).items():
        row = {"method": method}
        for kind in ("trained", "randomised", "shuffled"):
            if kind not in entry:
                continue
            one = entry[kind]
            if "region" in one:
                region = one["region"]
                row[f"region enrichment, {kind}"] = (f"{_fmt(region['headline'])} ({region['headline_map']})"
                                                     if region["headline"] is not None
                                                     else ZERO if region.get("all_zero") else "n/a")
            if "median_rank" in one:
                row[f"planted proteins' median rank, {kind}"] = ZERO if one.get("all_zero") \
                    else _fmt(one["median_rank"], 1)
        for kind in ("randomised", "shuffled"):
            similarity = entry.get(kind, {}).get("rank_similarity")
            if similarity:
                mods = [mod for mod in ("mri", "protein") if mod in similarity]
                label = " / ".join({"mri": "patches", "protein": "proteins"}[mod] for mod in mods)
                row[f"rank ρ with the trained map, {kind} ({label})"] = " / ".join(
                    _fmt(_rounded(similarity[mod]["median"])) for mod in mods)
        verdict = entry.get("verdict", {})
        row["supported"] = ", ".join(part for part in ("region", "proteins") if verdict.get(part)) or "no"
        rows.append(row)
    return pd.DataFrame(rows)


def _rounded(value, digits=2):
    """``value`` rounded for display, without a "-0.00"."""
    return None if value is None else round(value, digits) + 0.0


def controls_yardstick(attribution: dict, classes) -> str:
    """What the controls' numbers are read against: the inputs' own class difference and rank similarity."""
    inputs = attribution.get("inputs") or {}
    parts = []
    if inputs.get("region_enrichment") is not None or inputs.get("protein_median_rank") is not None:
        said = []
        if inputs.get("region_enrichment") is not None:
            said.append(f"is {_fmt(inputs['region_enrichment'])}× enriched in the planted region")
        if inputs.get("protein_median_rank") is not None:
            said.append(f"ranks the planted proteins at median {_fmt(inputs['protein_median_rank'], 1)}")
        parts.append(f"The inputs' own class difference ({html.esc(classes[-1])} − {html.esc(classes[0])} of the "
                     f"model's normalised inputs per token, per fold; column <code>input_difference</code>) "
                     f"{' and '.join(said)}. A class-difference map of a model that responds to its input, random "
                     "weights included, is enriched where the inputs differ, so a control above the ceiling but "
                     "below this figure may owe its enrichment to the data rather than to anything learned "
                     "(a yardstick, not a bound).")
    if any("rank_similarity" in entry.get(kind, {}) for entry in attribution.get("methods", {}).values()
           for kind in ("randomised", "shuffled")):
        parts.append("Rank similarity (Adebayo et al.'s measure): per test subject, Spearman's ρ between the "
                     "trained model's |attribution| over its tokens and the control's, median over subjects. Near 1 "
                     "the map survives the control, so it shows the input rather than what the model learned; "
                     "near 0 or below it depends on the model.")
    return f'<p class="note">{" ".join(parts)}</p>' if parts else ""


def attribution_section(folder: Path, classes, top: int, dpi: int, figures: dict[str, bytes]) -> str:
    """Faithful attribution of one variant beside its sanity-check controls (figure into ``figures``)."""
    import nibabel as nib

    from ..attention.maps import attribution_map_name
    from .attribution_figures import attribution_grid_figure

    variant = folder.name
    check_path = folder / "planted_check.json"
    if not check_path.exists():
        raise NeurofusionError("planted_check.json not found", path=check_path, fix="rerun export-attention")
    check = json.loads(check_path.read_text())
    attribution = check.get("attribution", {})
    table_path = folder / "patch_attribution.parquet"
    methods = [m for m in ("occlusion", "relevance", "integrated") if (folder / attribution_map_name(
        m, "desc-difference")).exists()]
    models = [k for k in ("trained", "randomised", "shuffled")
              if methods and (folder / attribution_map_name(methods[0], "desc-difference", k)).exists()]
    if not attribution and not methods:
        return ""  # an export from before attribution existed
    diff_label = f"{classes[-1]} - {classes[0]}"
    parts = [f"<h2>Attribution: what drives the {html.esc(variant)} model</h2>",
             "<p>Per test subject and token, the share of the positive-class log-odds each token carries: "
             "<b>occlusion</b> (the score lost when the token is masked through the model's own masks), "
             "<b>relevance</b> (gradient-weighted attention relevance through the self- and cross-attention "
             "layers, Chefer et al. 2021) and <b>integrated</b> gradients from the training-mean input (Captum). "
             "Sanity check (Adebayo et al. 2018): the same maps from the model with randomised weights"
             + (" and from a model trained on shuffled labels" if "shuffled" in models else "")
             + " must lose what the trained model finds.</p>"]
    if attribution.get("available"):
        targets = attribution.get("targets", {})
        region = attribution.get("region")
        if region:
            inside = "; ".join(f"region {i}: {how}" for i, how in enumerate(region["patches"], start=1))
            parts.append(f"<p>Planted regions: {region['n_patches_inside']} patches ({html.esc(inside)}). "
                         f"Enrichment = mean |map| inside ÷ mean |map| elsewhere, the larger of the {html.esc(classes[-1])} "
                         f"and the difference map; target ≥ {targets.get('region_enrichment')}× with the randomised "
                         f"model ≤ {targets.get('randomised_ceiling')}×. Planted proteins: median rank by mean |attribution| "
                         f"(target ≤ {targets.get('protein_median_rank')}) of {attribution.get('n_proteins', 'n/a')}.</p>")
        elif attribution.get("n_proteins"):
            parts.append(f"<p>Planted proteins: median rank by mean |attribution| of {attribution['n_proteins']} "
                         f"(target ≤ {targets.get('protein_median_rank')}).</p>")
        table = attribution_check_table(attribution)
        parts.append(html.table(table))
        parts.append(controls_yardstick(attribution, classes))
        supported = attribution.get("supported", {})
        named = [f"{part}: {', '.join(ms)}" for part, ms in supported.items() if ms]
        parts.append(f"<p>The planted check supports {html.esc('; '.join(named)) if named else 'no method'}"
                     f"{'' if named else ' (no map meets the target with its randomised control below the ceiling)'}.</p>")
        if attribution.get("integrated_max_abs_delta") is not None:
            parts.append(f'<p class="note">Integrated gradients: largest completeness error over the test subjects '
                         f"{attribution['integrated_max_abs_delta']:.3g} (log-odds).</p>")
    if methods and table_path.exists():
        maps = {(m, k): nib.load(folder / attribution_map_name(m, "desc-difference", k)) for m in methods for k in models}
        centres = attribution.get("region", {}).get("centres_mm", [])
        patches = pd.read_parquet(table_path)
        cut = centres[0] if centres else patches.loc[patches[f"{methods[0]}_rank"].idxmin(), ["x_mm", "y_mm", "z_mm"]].tolist()
        figures[f"attribution_{variant}_maps"] = _png(attribution_grid_figure(maps, methods, models, diff_label, cut, centres), dpi)
        parts.append(html.figure(figures[f"attribution_{variant}_maps"],
                                 f"Class difference {diff_label} of each method's attribution per MRI patch: trained model "
                                 f"(left) beside its controls" + ("; green marker: planted region centre." if centres else "."),
                                 f"attribution maps {variant}"))
    proteins_path = folder / "protein_attribution.tsv"
    if proteins_path.exists():
        proteins = _read_tsv(proteins_path)
        shown = ["protein_id", "gene", "category", *[c for c in ("attention",) if c in proteins.columns],
                 *[m for m in ("occlusion", "relevance", "integrated") if m in proteins.columns],
                 *[f"{m}_rank" for m in ("occlusion", "relevance", "integrated") if f"{m}_rank" in proteins.columns]]
        parts += ["<details><summary>Proteins by attribution (one score column per method: mean |attribution|)</summary>",
                  html.table(proteins[shown].head(top), numeric=[c for c in shown if c not in ("protein_id", "gene", "category")]),
                  "</details>"]
    return "".join(parts)


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
    val_sizes = read_validation_sizes(inputs.train_dir, variants)
    shards = inputs.embedding_shard
    shards = [] if not shards else list(shards) if isinstance(shards, (list, tuple)) else [shards]
    pretrain = [read_shard_metadata(p).get("pretrain") for p in shards]
    ceiling = _require(_read_tsv(inputs.ceiling), ["variant", "metric", "mean", "ci_low", "ci_high", "n"],
                       inputs.ceiling) if inputs.ceiling else None

    figures: dict[str, bytes] = {
        "roc": _png(roc_figure(curves, metrics, variants), dpi),
        "calibration": _png(calibration_figure(curves, variants), dpi),
        "confusion": _png(confusion_figure(curves, classes, variants), dpi),
        # a baseline's history is its penalty path, not epochs: not drawn as training curves
        "training_curves": _png(training_curves_figure(histories, [v for v in variants if not is_baseline(v)],
                                                       val_sizes), dpi),
        "ablation": _png(ablation_figure(metrics, comparison, variants), dpi),
    }
    attention_html = [attention_section(Path(d), classes, top, dpi, figures) for d in inputs.attention_dirs
                      if (Path(d) / "protein_importance.tsv").exists()]  # raw cross-attention: fusion only
    attention_html += [attribution_section(Path(d), classes, top, dpi, figures) for d in inputs.attention_dirs]

    sections = [
        "<h2>At a glance</h2>",
        glance_flags(metrics, comparison, predicted_classes(inputs.train_dir, variants, classes), cohort, excluded,
                     variants, pretrain, histories),
        f"<p>Classes: {html.esc(', '.join(classes))} (positive: {html.esc(classes[-1])}). Metrics pooled over "
        f"test folds; brackets: 95% subject-level bootstrap CI{_repeats(comparison)}. Lower is better for Brier "
        f"and ECE.</p>",
        encoder_sentence(pretrain, _builtin_elsewhere(inputs.settings_text)),
        html.table(headline_table(metrics, variants), numeric=["n", *HEADLINE]),
        comparison_sentences(comparison),
        ceiling_section(metrics, ceiling, variants),
        baseline_section(histories, variants),
        html.figure(figures["ablation"], CAPTIONS["ablation"], "ablation"),
        *attention_html,
        "<h2>Evaluation figures</h2>",
        *[html.figure(figures[name], CAPTIONS[name], name) for name in FIGURES if name != "ablation"],
        "<h2>Per-fold metrics</h2><details><summary>Show table</summary>",
        html.table(per_fold, numeric=["mean", "ci_low", "ci_high", "n"]), "</details>",
        "<h2>All paired comparisons</h2>",
        html.table(comparison, numeric=["delta", "ci_low", "ci_high", "p_value", "n", "n_boot"]),
        "<h2>Cohort</h2>", cohort_section(cohort, excluded, classes, metrics),
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
