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


def _in_brain_values(image) -> np.ndarray:
    """The map's values inside the template brain mask (resampled onto the map's grid)."""
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.image import resample_to_img

    values = np.asarray(image.dataobj, dtype=np.float64)
    mask = resample_to_img(load_mni152_brain_mask(resolution=2), image, interpolation="nearest",
                           force_resample=True, copy_header=True)
    inside = np.asarray(mask.dataobj) > 0
    values = values[inside & (values != 0)]
    return values[np.isfinite(values)]


def colour_limits(image, diverging: bool) -> tuple[float, float, float]:
    """(vmin, vmax, threshold) from percentiles of the in-brain (non-zero) values.

    Sequential maps: the median is the threshold and the lower end of the scale, the 99th
    percentile the upper end, so the shown half of the patches spans the whole colour map
    (a max-based scale made one outlier patch the only colour). Diverging maps: centred at
    0, +-99th percentile of |value|, below the median |value| left transparent."""
    values = _in_brain_values(image)
    if values.size == 0:
        return (-1.0, 1.0, 0.0) if diverging else (0.0, 1.0, 0.0)
    if diverging:
        magnitude = np.abs(values)
        vmax = float(np.percentile(magnitude, 99)) or float(magnitude.max()) or 1.0
        return -vmax, vmax, float(np.percentile(magnitude, 50))
    low, high = (float(v) for v in np.percentile(values, [50, 99]))
    if high <= low:
        high = low + (abs(low) or 1.0) * 1e-3
    return low, high, low


def attention_map_figure(class_map, difference_map, class_name: str, difference_label: str,
                         planted_centres: Sequence[Sequence[float]] = ()):
    """Two rows over the template: mean attention from protein tokens in ``class_name``
    subjects, and the class-difference map; planted region centres marked when known."""
    import nibabel as nib
    from nilearn import plotting
    from nilearn.datasets import load_mni152_template

    background = load_mni152_template(resolution=2)
    fig = plt.figure(figsize=(10, 7.0))
    cut = tuple(planted_centres[0]) if len(planted_centres) else _peak_mm(class_map)
    rows = [
        (class_map, f"Attention from protein tokens, {class_name}: mean weight per patch "
         "(upper half of the brain's patches; scale: median to 99th percentile)", "inferno", False),
        (difference_map, f"Class difference {difference_label} (diverging, centred at 0; |difference| above its "
         "median; scale: 99th percentile)", "RdBu_r", True),
    ]
    for i, (image, title, cmap, diverging) in enumerate(rows):
        bottom = 0.5 - 0.5 * i + 0.01
        ax = fig.add_axes([0.0, bottom, 1.0, 0.42])
        vmin, vmax, threshold = colour_limits(image, diverging)
        # weights of ~1/P need 4+ digits to tell the ends of the scale apart: show them x 10^k
        factor, unit = _scale(np.array([vmin, vmax]))
        if factor != 1.0:
            image = nib.Nifti1Image(np.asarray(image.dataobj, dtype=np.float32) * factor, image.affine)
            vmin, vmax, threshold, title = vmin * factor, vmax * factor, threshold * factor, f"{title}, colour scale{unit}"
        # the title sits above the panel: nilearn's own title box covers the L/R labels
        fig.text(0.01, bottom + 0.435, title, fontsize=9, ha="left", va="bottom")
        display = plotting.plot_stat_map(
            image, bg_img=background, axes=ax, cut_coords=cut, display_mode="ortho", cmap=cmap,
            symmetric_cbar=diverging, vmax=vmax, vmin=vmin, threshold=threshold,
            colorbar=True, cbar_tick_format="%.3g", title=None, draw_cross=False, annotate=True, transparency=0.8,
            resampling_interpolation="nearest",
        )
        if len(planted_centres):
            display.add_markers([list(c) for c in planted_centres], marker_color="lime", marker_size=60)
    return fig


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _scale(values: np.ndarray) -> tuple[float, str]:
    """A factor and an axis-label suffix that make small numbers readable (x 10^-k)."""
    top = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    if not np.isfinite(top) or top == 0 or top >= 0.1:
        return 1.0, ""
    exponent = int(np.floor(np.log10(top)))
    return 10.0 ** (-exponent), f" (× 10{str(exponent).translate(SUPERSCRIPT)})"


def protein_bars_figure(importance: pd.DataFrame, classes: Sequence[str], top: int,
                        planted: Sequence[str] = ()):
    """Top proteins by mean attention received from MRI tokens: per-class bars (left) and
    the class difference (right); bars coloured by pathway category, planted proteins starred."""
    from matplotlib.ticker import MaxNLocator

    rows = importance.sort_values("rank", kind="stable").head(top).iloc[::-1]
    planted_lower = {p.lower() for p in planted}
    labels, starred = [], False
    for r in rows.itertuples(index=False):
        name = str(r.gene) if isinstance(r.gene, str) and r.gene else str(r.protein_id)
        star = " *" if {str(r.gene).lower(), str(r.protein_id).lower()} & planted_lower else ""
        starred |= bool(star)
        labels.append(f"{name}{star}")
    height = max(3.0, 0.32 * len(rows) + 1.6)
    fig, (ax, ax_diff) = plt.subplots(1, 2, figsize=(10, height), sharey=True,
                                      gridspec_kw={"width_ratios": [3, 2]})
    y = np.arange(len(rows))
    width = 0.8 / len(classes)
    shades = np.linspace(0.35, 1.0, len(classes))
    colours = [CATEGORY_COLOURS.get(str(c), CATEGORY_COLOURS["other"]) for c in rows["category"]]
    factor, unit = _scale(rows[[f"attention_{c}" for c in classes]].to_numpy(dtype=float))
    for i, cls in enumerate(classes):
        ax.barh(y - 0.4 + width * (i + 0.5), factor * rows[f"attention_{cls}"].to_numpy(dtype=float), height=width, color=colours,
                alpha=float(shades[i]), label=cls, edgecolor="black", linewidth=0.3)
    ax.set_yticks(y, labels)
    ax.set(xlabel=f"Mean attention received from MRI tokens{unit}", title=f"Top {len(rows)} proteins (light to dark: "
           f"{', '.join(classes)})")
    ax.grid(axis="x", alpha=0.3)
    diff = rows["difference"].to_numpy(dtype=float)
    diff_factor, diff_unit = _scale(diff)
    diff = diff_factor * diff
    ax_diff.barh(y, diff, color=["#d1495b" if d > 0 else "#1b6ca8" for d in diff])
    ax_diff.axvline(0, color="black", lw=0.8)
    ax_diff.set(xlabel=f"Difference {classes[-1]} - {classes[0]}{diff_unit}", title="Class difference")
    ax_diff.grid(axis="x", alpha=0.3)
    for a in (ax, ax_diff):
        a.xaxis.set_major_locator(MaxNLocator(nbins=5))
    cats = list(dict.fromkeys(str(c) for c in rows["category"]))
    handles = [plt.Rectangle((0, 0), 1, 1, color=CATEGORY_COLOURS.get(c, CATEGORY_COLOURS["other"])) for c in cats]
    # below the axes, never over the bars
    fig.legend(handles, cats, fontsize=7, loc="lower center", ncol=min(len(cats), 4), title="category",
               title_fontsize=7, bbox_to_anchor=(0.5, 0.0), frameon=False)
    rows_of_legend = int(np.ceil(len(cats) / 4))
    bottom = min(0.4, (0.3 + 0.2 * rows_of_legend) / height)
    if starred:
        fig.text(0.01, 0.005, "* planted protein (truth.json)", fontsize=8)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig
