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
  model sees them (MRI: the patch embedding; proteins: the value), per fold and combined over
  folds (FoldClassDifference). A class-difference map of a function that responds to its
  input, random weights included, is enriched where the inputs differ between the classes,
  so this norm's enrichment in the planted region (and the planted proteins' rank by it) is a
  yardstick for the controls: a randomised control above the ceiling but below this figure
  may owe its enrichment to the data rather than to anything learned. It is a yardstick, not a
  bound: the controls' headline is the larger of two signed-mean maps, not a norm.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

INPUT_COLUMN = "input_difference"  # the yardstick's column in the patch and protein tables


class FoldClassDifference:
    """The inputs' own class difference per token, fold by fold, combined as the pooled maps combine.

    ``add(x [N, X, F] or [N, X], present [N, X] bool, labels [N])`` once per fold (each fold's
    test subjects, as that fold's model sees them): the fold's d_k [X] is the norm over features
    of the last class's mean minus the first's (NaN for a token absent from either class).
    ``difference()`` gives sqrt(sum_k (n_k / n)^2 d_k^2): the pooled class-difference map is a
    weighted sum of the folds' maps, and for independent per-fold models (the randomised
    control draws each fold's weights afresh) their magnitudes add this way. The norm is taken
    inside each fold, because with ``embedding.pretrain.scope: fold`` every fold has an encoder
    of its own and feature j of one fold's embeddings is not feature j of another's. It is not
    corrected for sampling noise (a token with no true difference still has a positive norm),
    for the controls' maps carry the same noise of the same subjects.
    """

    def __init__(self, n_classes: int, first: int = 0, last: int = -1):
        self.n_classes, self.first, self.last = n_classes, first, last
        self.folds: list[tuple[int, np.ndarray]] = []  # (subjects in the fold, d_k [X])

    def add(self, x, present, labels) -> None:
        x = np.asarray(x, np.float32)
        if x.ndim == 2:
            x = x[:, :, None]
        present = np.ones(x.shape[:2], bool) if present is None else np.asarray(present, bool)
        labels = np.asarray(labels)
        means = []
        for c in (self.first, self.last):
            rows = labels == (c % self.n_classes)
            weight = present[rows].astype(np.float64)  # [n_c, X]
            with np.errstate(invalid="ignore", divide="ignore"):
                means.append(np.einsum("nx,nxf->xf", weight, x[rows], dtype=np.float64) / weight.sum(0)[:, None])
        self.folds.append((len(labels), np.sqrt(((means[1] - means[0]) ** 2).sum(axis=1))))

    def difference(self) -> np.ndarray | None:
        if not self.folds:
            return None
        total = sum(n for n, _ in self.folds)
        squares = np.stack([(n / total) ** 2 * d ** 2 for n, d in self.folds])  # [folds, X]
        seen = np.isfinite(squares).any(axis=0)
        return np.where(seen, np.sqrt(np.nansum(squares, axis=0)), np.nan)


def rank_similarity(trained, control, present=None, min_tokens: int = 3) -> dict | None:
    """Spearman's rho of |trained| and |control| per subject (rows of [N, X]), over the subject's
    present tokens -> {"median", "q25", "q75", "n_subjects"}; None when no subject has a map
    that varies in both models (e.g. relevance that is 0 everywhere)."""
    a, b = np.abs(np.asarray(trained, np.float64)), np.abs(np.asarray(control, np.float64))
    present = np.ones(a.shape, bool) if present is None else np.asarray(present, bool)
    rhos = []
    for row_a, row_b, keep in zip(a, b, present):
        keep = keep & np.isfinite(row_a) & np.isfinite(row_b)
        x, y = row_a[keep], row_b[keep]
        if len(x) < min_tokens or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        rhos.append(float(spearmanr(x, y).statistic))  # ties get their mean rank
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
            sims = {mod: sim for mod in control if mod in trained.get(m, {})
                    if (sim := rank_similarity(trained[m][mod], control[mod], presents.get(mod))) is not None}
            if sims:
                out.setdefault(m, {})[kind] = sims
    return out
