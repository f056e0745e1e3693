"""report/figures.py and attention_figures.py: what a reader needs to see in each figure."""

import matplotlib

matplotlib.use("Agg")
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from nilearn.datasets import load_mni152_template  # noqa: E402

from neurofusion.report.attention_figures import colour_limits, protein_bars_figure  # noqa: E402
from neurofusion.report.figures import training_curves_figure  # noqa: E402


def importance(n=6):
    return pd.DataFrame({"protein_id": [f"OID{i}" for i in range(n)], "gene": [f"G{i}" for i in range(n)],
                         "category": ["amyloid_pathway", "tau_pathway", "inflammation"] * (n // 3),
                         "rank": np.arange(1, n + 1), "attention_CN": 0.021 - 1e-4 * np.arange(n),
                         "attention_AD": 0.0205 - 1e-4 * np.arange(n),
                         "difference": np.linspace(-6e-4, 4e-4, n), "attention_all": 0.0208})


def _texts(fig):
    return [t.get_text() for t in fig.texts]


def test_planted_footnote_only_when_a_bar_is_starred():
    shown = protein_bars_figure(importance(), ["CN", "AD"], top=3, planted=["G1"])
    hidden = protein_bars_figure(importance(), ["CN", "AD"], top=3, planted=["G5"])
    assert any("planted protein" in t for t in _texts(shown))
    assert not any("planted protein" in t for t in _texts(hidden))


def test_category_legend_sits_below_the_bars_and_small_values_are_scaled():
    fig = protein_bars_figure(importance(), ["CN", "AD"], top=6)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    for ax in fig.axes:
        assert legend.y1 < ax.get_window_extent().y0  # below every axes, over no bar
    ax_bars, ax_diff = fig.axes
    assert "× 10⁻²" in ax_bars.get_xlabel() and "× 10⁻⁴" in ax_diff.get_xlabel()
    ticks = [t.get_text() for t in ax_diff.get_xticklabels() if t.get_text()]
    assert ticks and max(len(t) for t in ticks) <= 5


def _map(values_inside):
    template = load_mni152_template(resolution=2)
    data = np.zeros(template.shape, np.float32)
    centre = np.array(template.shape) // 2
    cube = tuple(slice(c - 5, c + 5) for c in centre)
    data[cube] = values_inside
    return nib.Nifti1Image(data, template.affine)


def test_colour_limits_come_from_the_brain_values_not_one_outlier():
    rng = np.random.default_rng(0)
    values = rng.uniform(0.010, 0.012, size=(10, 10, 10)).astype(np.float32)
    values[0, 0, 0] = 0.5  # one outlier patch
    vmin, vmax, threshold = colour_limits(_map(values), diverging=False)
    assert 0.0105 < vmin == threshold < 0.0115 and vmax < 0.013
    diff = _map(rng.normal(0, 1e-3, size=(10, 10, 10)).astype(np.float32))
    low, high, cut = colour_limits(diff, diverging=True)
    assert low == -high and 0 < cut < high < 4e-3


def test_training_curves_one_colour_per_fold_and_a_note_on_small_validation_sets():
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.7, 0.6, 0.5], "val_loss": [0.7, 0.7, 0.6],
                            "val_auc": [0.0, 1.0, 0.5]})
    histories = {v: [(0, history), (1, history), (2, history)] for v in ("fusion", "mri")}
    sizes = {(v, k): 8 for v in ("fusion", "mri") for k in range(3)}
    fig = training_curves_figure(histories, ["fusion", "mri"], sizes)
    for ax in fig.axes:
        colours = [line.get_color() for line in ax.get_lines()]
        if colours:
            n_per_fold = len(colours) // 3
            assert len(set(colours)) == 3 and all(colours.count(c) == n_per_fold for c in set(colours))
    assert any("8-8 subjects" in t for t in _texts(fig))
    quiet = training_curves_figure(histories, ["fusion", "mri"], {k: 40 for k in sizes})
    assert not any("subjects" in t for t in _texts(quiet))
