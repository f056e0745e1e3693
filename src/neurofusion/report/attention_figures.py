"""Attention figures: NIfTI maps over the MNI template (nilearn) and the top-protein bars."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CATEGORY_COLOURS = {
    "amyloid_pathway": "#1b6ca8", "tau_pathway": "#d1495b", "inflammation": "#edae49",
    "neurodegeneration": "#66a182", "synaptic": "#8d6a9f", "vascular": "#00798c",
    "metabolic": "#30638e", "other": "#9e9e9e",
}


def _peak_mm(image) -> tuple[float, float, float]:
    data = np.abs(np.asarray(image.dataobj, dtype=np.float64))
    ijk = np.unravel_index(int(np.argmax(data)), data.shape)
    return tuple(float(v) for v in (image.affine @ np.r_[ijk, 1.0])[:3])


def attention_map_figure(class_map, difference_map, class_name: str, difference_label: str,
                         planted_centres: Sequence[Sequence[float]] = ()):
    """Two rows over the template: mean attention from protein tokens in ``class_name``
    subjects, and the class-difference map; planted region centres marked when known."""
    from nilearn import plotting
    from nilearn.datasets import load_mni152_template

    background = load_mni152_template(resolution=2)
    fig = plt.figure(figsize=(10, 6.4))
    cut = tuple(planted_centres[0]) if len(planted_centres) else _peak_mm(class_map)
    rows = [
        (class_map, f"Attention from protein tokens, {class_name} (mean weight per patch; above-median patches)",
         "inferno", False),
        (difference_map, f"Class difference {difference_label} (|difference| above 20% of its maximum)",
         "cold_hot", True),
    ]
    for i, (image, title, cmap, symmetric) in enumerate(rows):
        ax = fig.add_axes([0.0, 0.5 - 0.5 * i + 0.02, 1.0, 0.46])
        values = np.asarray(image.dataobj, dtype=np.float64)
        nonzero = np.abs(values[values != 0])
        vmax = float(nonzero.max()) if nonzero.size else 1.0
        # show the patches that stand out, so the anatomy stays visible around them
        threshold = 0.2 * vmax if symmetric else float(np.median(nonzero)) if nonzero.size else 0.0
        display = plotting.plot_stat_map(
            image, bg_img=background, axes=ax, cut_coords=cut, display_mode="ortho", cmap=cmap,
            symmetric_cbar=symmetric, vmax=vmax, vmin=-vmax if symmetric else 0.0, threshold=threshold,
            colorbar=True, title=title, draw_cross=False, annotate=True, transparency=0.75,
            resampling_interpolation="nearest",
        )
        if len(planted_centres):
            display.add_markers([list(c) for c in planted_centres], marker_color="lime", marker_size=60)
    return fig


def protein_bars_figure(importance: pd.DataFrame, classes: Sequence[str], top: int,
                        planted: Sequence[str] = ()):
    """Top proteins by mean attention received from MRI tokens: per-class bars (left) and
    the class difference (right); bars coloured by pathway category, planted proteins starred."""
    rows = importance.sort_values("rank", kind="stable").head(top).iloc[::-1]
    planted_lower = {p.lower() for p in planted}
    labels = []
    for r in rows.itertuples(index=False):
        name = str(r.gene) if isinstance(r.gene, str) and r.gene else str(r.protein_id)
        star = " *" if {str(r.gene).lower(), str(r.protein_id).lower()} & planted_lower else ""
        labels.append(f"{name}{star}")
    height = max(3.0, 0.32 * len(rows) + 1.2)
    fig, (ax, ax_diff) = plt.subplots(1, 2, figsize=(10, height), sharey=True,
                                      gridspec_kw={"width_ratios": [3, 2]})
    y = np.arange(len(rows))
    width = 0.8 / len(classes)
    shades = np.linspace(0.35, 1.0, len(classes))
    colours = [CATEGORY_COLOURS.get(str(c), CATEGORY_COLOURS["other"]) for c in rows["category"]]
    for i, cls in enumerate(classes):
        ax.barh(y - 0.4 + width * (i + 0.5), rows[f"attention_{cls}"], height=width, color=colours,
                alpha=float(shades[i]), label=cls, edgecolor="black", linewidth=0.3)
    ax.set_yticks(y, labels)
    ax.set(xlabel="Mean attention received from MRI tokens", title=f"Top {len(rows)} proteins (light to dark: "
           f"{', '.join(classes)})")
    ax.grid(axis="x", alpha=0.3)
    diff = rows["difference"].to_numpy()
    ax_diff.barh(y, diff, color=["#d1495b" if d > 0 else "#1b6ca8" for d in diff])
    ax_diff.axvline(0, color="black", lw=0.8)
    ax_diff.set(xlabel=f"Difference {classes[-1]} - {classes[0]}", title="Class difference")
    ax_diff.grid(axis="x", alpha=0.3)
    cats = list(dict.fromkeys(str(c) for c in rows["category"]))
    handles = [plt.Rectangle((0, 0), 1, 1, color=CATEGORY_COLOURS.get(c, CATEGORY_COLOURS["other"])) for c in cats]
    ax.legend(handles, cats, fontsize=7, loc="lower right", title="category", title_fontsize=7)
    if planted_lower:
        fig.text(0.01, 0.005, "* planted protein (truth.json)", fontsize=8)
    fig.tight_layout()
    return fig
