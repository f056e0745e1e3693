"""What the sanity-check controls are read against (Adebayo et al. 2018, "Sanity checks for
saliency maps").

The planted check compares the trained model's maps with those of a model with randomised
weights and one trained on shuffled labels. Two measurements say what a control's number means:

- **Rank similarity** (Adebayo et al.'s own measure): per test subject, Spearman's rank
  correlation between the trained model's |attribution| over that subject's present tokens
  and the control's; the median and quartiles over subjects. Near 1, the map survives the
  randomisation: it shows the input, not what the model learned. Near 0 (or below), the map
  depends on the model's weights.
- **The inputs' own class difference**: per token, the Euclidean norm over features of
  (mean over the last class - mean over the first) of the model's inputs, normalised as the
  model sees them (MRI: the patch embedding; proteins: the value). A class-difference map of
  any function that responds to its input, random weights included, is largest where the
  inputs differ between the classes, so this norm's enrichment in the planted region (and the
  planted proteins' rank by it) is about what a control can reach without having learned
  anything: a randomised control above the ceiling but near this yardstick follows the data.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

INPUT_COLUMN = "input_difference"  # the yardstick's column in the patch and protein tables


class ClassMeans:
    """Per-class sums of token inputs, added fold by fold (a cohort never sits in memory whole).

    ``add(x [N, X, F] or [N, X], present [N, X] bool, labels [N])``; ``difference(first, last)``
    gives [X]: the norm over features of the last class's mean minus the first's, NaN for a
    token absent from either class.
    """

    def __init__(self, n_classes: int):
        self.n_classes = n_classes
        self.sums: np.ndarray | None = None    # [C, X, F] float64
        self.counts: np.ndarray | None = None  # [C, X]

    def add(self, x, present, labels) -> None:
        x = np.asarray(x, np.float64)
        if x.ndim == 2:
            x = x[:, :, None]
        present = np.ones(x.shape[:2], bool) if present is None else np.asarray(present, bool)
        labels = np.asarray(labels)
        if self.sums is None:
            self.sums = np.zeros((self.n_classes, *x.shape[1:]))
            self.counts = np.zeros((self.n_classes, x.shape[1]))
        kept = np.where(present[:, :, None], x, 0.0)
        for c in range(self.n_classes):
            rows = labels == c
            self.sums[c] += kept[rows].sum(axis=0)
            self.counts[c] += present[rows].sum(axis=0)

    def difference(self, first: int = 0, last: int = -1) -> np.ndarray | None:
        if self.sums is None:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self.sums / self.counts[:, :, None]  # [C, X, F]; 0 / 0 -> NaN
        return np.sqrt(((means[last] - means[first]) ** 2).sum(axis=1))


def rank_similarity(trained, control, present=None, min_tokens: int = 3) -> dict | None:
    """Spearman's rho of |trained| and |control| per subject (rows of [N, X]), over the subject's
    present tokens -> {"median", "q25", "q75", "n_subjects"}; None when no subject has a map
    that varies in both models (e.g. relevance that is 0 everywhere)."""
    a, b = np.abs(np.asarray(trained, np.float64)), np.abs(np.asarray(control, np.float64))
    present = np.ones(a.shape, bool) if present is None else np.asarray(present, bool)
    rhos = []
    for row_a, row_b, keep in zip(a, b, present):
        x, y = row_a[keep], row_b[keep]
        if len(x) < min_tokens or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        rhos.append(float(np.corrcoef(rankdata(x), rankdata(y))[0, 1]))  # ties get their mean rank
    if not rhos:
        return None
    q25, median, q75 = np.percentile(rhos, [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "n_subjects": len(rhos)}


def model_dependence(results: dict, presents: dict, methods, controls) -> dict:
    """{method: {control: {"mri": rank_similarity, "protein": ...}}} for the controls in ``results``
    (``results[kind][method][modality]``: [N, X] per subject, as attribution_tables takes them;
    ``presents``: {modality: [N, X] bool or None})."""
    trained = results.get("trained", {})
    out: dict = {}
    for m in methods:
        for kind in controls:
            control = results.get(kind, {}).get(m, {})
            sims = {mod: rank_similarity(trained[m][mod], control[mod], presents.get(mod))
                    for mod in control if mod in trained.get(m, {})}
            if sims:
                out.setdefault(m, {})[kind] = sims
    return out
