"""Attribution maps beside their sanity-check controls: one row per method, one column per
model (trained, randomised weights, shuffled labels), the class-difference map over the template."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MODEL_TITLES = {"trained": "trained model", "randomised": "randomised weights", "shuffled": "shuffled labels"}


def attribution_grid_figure(maps: dict, methods: Sequence[str], models: Sequence[str], difference_label: str,
                            cut_mm: Sequence[float], planted_centres: Sequence[Sequence[float]] = ()):
    """maps[(method, model)] = NIfTI image of the class difference; axial + coronal cut at ``cut_mm``.

    Each panel has its own diverging colour scale centred at 0, up to the 99th percentile
    of |value| in the brain (one outlier patch does not wash out the rest): what matters is
    where a map is strong, not how large attributions of different models are."""
    from nilearn import plotting
    from nilearn.datasets import load_mni152_template

    background = load_mni152_template(resolution=2)
    fig = plt.figure(figsize=(5.6 * len(models), 2.6 * len(methods) + 0.4))
    for r, method in enumerate(methods):
        for c, model in enumerate(models):
            image = maps.get((method, model))
            ax = fig.add_axes([c / len(models), 1 - (r + 1) / len(methods) + 0.02, 1 / len(models), 1 / len(methods) - 0.04])
            if image is None:
                ax.axis("off")
                continue
            values = np.abs(np.asarray(image.dataobj, dtype=np.float64))
            values = values[values > 0]
            vmax = float(np.percentile(values, 99)) if values.size else 1.0
            display = plotting.plot_stat_map(
                image, bg_img=background, axes=ax, cut_coords=tuple(cut_mm), display_mode="ortho", cmap="RdBu_r",
                symmetric_cbar=True, vmax=vmax or 1.0, threshold=0.2 * vmax, colorbar=True, draw_cross=False,
                cbar_tick_format="%.2g",
                annotate=False, title=f"{method}, {MODEL_TITLES.get(model, model)}", resampling_interpolation="nearest")
            if len(planted_centres):
                display.add_markers([list(p) for p in planted_centres], marker_color="lime", marker_size=40)
    fig.text(0.01, 0.005, f"class difference {difference_label} of the positive-class log-odds attribution; "
             f"red: {difference_label} > 0, blue: < 0; colour scale to each panel's 99th percentile of |value|, "
             "|value| below 20% of it hidden", fontsize=8)
    return fig
