"""Registration quality: overlap and similarity with the template, and a three-plane QC picture."""

from __future__ import annotations

import numpy as np


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two bool masks of the same shape (0 when both are empty)."""
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int(np.logical_and(a, b).sum()) / total if total else 0.0


def correlation(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of two images inside ``mask`` (0 when either is constant there)."""
    x = image[mask].astype(np.float64)
    y = reference[mask].astype(np.float64)
    if x.size < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _slices(mask: np.ndarray) -> tuple[int, int, int]:
    """Voxel indices of the planes through the centre of the template brain."""
    idx = np.argwhere(mask)
    return tuple(int(v) for v in np.round((idx.min(axis=0) + idx.max(axis=0)) / 2))


def _gray_on_black():
    import matplotlib

    return matplotlib.colormaps["gray"].with_extremes(bad="black")


def save_qc_png(path, image: np.ndarray, subject_mask: np.ndarray, template_mask: np.ndarray,
                title: str) -> None:
    """Sagittal, coronal and axial planes of ``image`` (template space, RAS) with outlines.

    Red: the template brain outline; yellow: the subject's registered brain mask.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ci, cj, ck = _slices(template_mask)
    planes = [
        ("sagittal", lambda a: a[ci, :, :]),
        ("coronal", lambda a: a[:, cj, :]),
        ("axial", lambda a: a[:, :, ck]),
    ]
    inside = image[subject_mask]
    lo, hi = (np.percentile(inside, [1, 99]) if inside.size else (0.0, 1.0))
    shown = np.where(subject_mask, image, np.nan)  # outside the brain: black background
    fig = Figure(figsize=(10.5, 4.0), dpi=100, facecolor="black")
    FigureCanvasAgg(fig)
    for n, (name, cut) in enumerate(planes):
        ax = fig.add_subplot(1, 3, n + 1)
        ax.imshow(cut(shown).T, cmap=_gray_on_black(), origin="lower", vmin=lo, vmax=hi, interpolation="nearest")
        ax.contour(cut(template_mask).T.astype(float), levels=[0.5], colors="red", linewidths=1.0)
        ax.contour(cut(subject_mask).T.astype(float), levels=[0.5], colors="yellow", linewidths=0.6)
        ax.set_title(name, color="white", fontsize=10)
        ax.set_axis_off()
    fig.suptitle(title, color="white", fontsize=11)
    fig.text(0.5, 0.02, "red: template brain outline   yellow: registered subject brain mask",
             color="white", ha="center", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.08, top=0.86, wspace=0.02)
    fig.savefig(str(path), format="png", facecolor="black", metadata={"Software": None})


def save_failure_png(path, subject: str, reason: str) -> None:
    """The QC picture of a scan that could not be preprocessed: the subject and the reason."""
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.5, 4.0), dpi=100, facecolor="black")
    FigureCanvasAgg(fig)
    fig.suptitle(f"{subject}   preprocessing FAILED: excluded from the MRI data", color="white", fontsize=11)
    fig.text(0.5, 0.5, "\n".join(textwrap.wrap(reason, 110)), color="white", ha="center", va="center",
             fontsize=9, family="monospace")
    fig.savefig(str(path), format="png", facecolor="black", metadata={"Software": None})
