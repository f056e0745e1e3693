"""Classical baselines: penalised logistic regression on the transformer's own inputs.

    baseline_fusion | baseline_mri | baseline_protein
        = FoldRun of fusion | mri | protein (same subjects, same split, same fitted scalers)
          -> feature blocks of the normalised inputs
               mri      patch embeddings [N, P*E] (optionally PCA of the training part)
               protein  robust z-scores [N, K] + below-LOD / missing flags [N, 2K]
          -> each block scaled to unit total variance on the training part
          -> logistic regression, C picked by stratified inner CV on the training part
          -> (two classes, ``calibrate``) Platt scaling of its decision value, fitted on the
             inner CV's out-of-fold values at that C: a strong penalty ranks well but shrinks
             every logit towards 0, so uncalibrated probabilities all sit near 0.5

The training part is every subject outside the test fold (the transformer's training and
validation subjects); the test fold is touched once, for the predictions. Scalers are the
transformer's (fitted on its training subjects); the PCA and block scales are fitted on
the training part; nothing is fitted on the test fold.

Outputs, as for the transformer: model.pt (plain tensors and values: the scalers, the
reduction, the coefficients; ``baseline_probabilities`` replays it), history.tsv (one row
per candidate C, in ``epoch`` order; ``val_auc`` / ``val_loss`` are the inner-CV means,
``best`` marks the chosen one), predictions.parquet and subjects.tsv.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..io import all_or_nothing
from ..torchfile import save_torch
from .data import Batchable, Sources, fingerprint, grid_hash
from .settings import BaselineConfig, TrainConfig

FORMAT = "neurofusion.baseline/1"
BASELINES = {"baseline_fusion": "fusion", "baseline_mri": "mri", "baseline_protein": "protein"}
BLOCKS = {"fusion": ("mri", "protein"), "mri": ("mri",), "protein": ("protein",)}


def is_baseline(variant: str) -> bool:
    return variant in BASELINES


# ---- features ----------------------------------------------------------------------------------
def feature_blocks(data: Batchable, blocks) -> dict[str, np.ndarray]:
    """The normalised model inputs as flat feature blocks {name: [N, d]} (float64)."""
    out = {}
    n = len(data)
    if "mri" in blocks:
        out["mri"] = data.mri.numpy().reshape(n, -1).astype(np.float64)
    if "protein" in blocks:
        flags = data.prot_flags.numpy().reshape(n, -1)
        out["protein"] = np.concatenate([data.prot_values.numpy(), flags], axis=1).astype(np.float64)
    return out


def stacked_rows(data: dict[str, Batchable], parts, blocks) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(feature blocks, labels int64) of the ``parts`` of a fold's data, stacked in that order."""
    each = [feature_blocks(data[p], blocks) for p in parts]
    features = {name: np.concatenate([f[name] for f in each]) for name in blocks}
    labels = np.concatenate([data[p].labels.numpy() for p in parts]).astype(np.int64)
    return features, labels


@dataclass
class Block:
    """How one block becomes model columns: optional PCA, then one scale."""

    name: str
    mean: np.ndarray | None        # [d] centring before the PCA
    components: np.ndarray | None  # [k, d]
    scale: float

    def apply(self, x: np.ndarray) -> np.ndarray:
        if self.components is not None:
            x = (x - self.mean) @ self.components.T
        return x * self.scale


def fit_blocks(train: dict[str, np.ndarray], cfg: BaselineConfig, seed: int) -> list[Block]:
    """Reduction and scales fitted on the training rows given, nothing else."""
    from sklearn.decomposition import PCA

    fitted = []
    for name, x in train.items():
        mean = components = None
        if name == "mri" and cfg.mri_reduction == "pca":
            k = max(1, min(cfg.pca_components, x.shape[0] - 1, x.shape[1]))
            pca = PCA(n_components=k, svd_solver="full", random_state=seed).fit(x)
            mean, components = pca.mean_.copy(), pca.components_.copy()
        b = Block(name, mean, components, 1.0)
        total = float(b.apply(x).var(axis=0).sum())
        b.scale = float(1.0 / np.sqrt(total)) if total > 1e-12 else 1.0
        fitted.append(b)
    return fitted


def design(blocks: list[Block], features: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([b.apply(features[b.name]) for b in blocks], axis=1)


def _logistic(C: float, cfg: BaselineConfig, seed: int, class_weight):
    import sklearn
    from sklearn.linear_model import LogisticRegression

    common = dict(C=C, max_iter=cfg.max_iter, class_weight=class_weight, random_state=seed)
    if cfg.penalty == "elasticnet":
        # scikit-learn 1.8 reads the mix from l1_ratio alone and deprecates `penalty`
        new_api = tuple(int(x) for x in sklearn.__version__.split(".")[:2]) >= (1, 8)
        extra = {} if new_api else {"penalty": "elasticnet"}
        return LogisticRegression(l1_ratio=cfg.l1_ratio, solver="saga", **extra, **common)
    return LogisticRegression(solver="lbfgs", **common)     # the default penalty: L2


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Class probabilities [N, C] from decision values ([N] binary, [N, C] otherwise)."""
    if logits.ndim == 1:
        p1 = 1.0 / (1.0 + np.exp(-logits))
        return np.stack([1.0 - p1, p1], axis=1)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Fitted:
    blocks: list[Block]
    coef: np.ndarray        # [1, d] binary, [C, d] otherwise
    intercept: np.ndarray   # [1] or [C]
    C: float
    platt: tuple[float, float] = (1.0, 0.0)   # binary: calibrated logit = a * logit + b

    def logits(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """Decision values [N] (binary) or [N, C], calibrated."""
        logits = design(self.blocks, features) @ self.coef.T + self.intercept     # [N, 1 | C]
        if logits.shape[1] == 1:
            a, b = self.platt
            return a * logits[:, 0] + b
        return logits

    def predict(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return probabilities(self.logits(features))

    def calibrated(self) -> tuple[np.ndarray, np.ndarray]:
        """(coef, intercept) with the Platt scaling folded in: one linear map of the design."""
        a, b = self.platt if self.coef.shape[0] == 1 else (1.0, 0.0)
        return self.coef * a, self.intercept * a + b

    def on_features(self, widths: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(coef [1|C, sum of widths], intercept) of the calibrated regression on the feature
        blocks themselves (``widths``: each block's columns), in block order: each block's
        scale and, for a reduced block, its PCA (centring and projection) folded in."""
        coef, intercept = self.calibrated()
        parts, start, intercept = [], 0, intercept.copy()
        for block in self.blocks:
            k = block.components.shape[0] if block.components is not None else widths[block.name]
            part = coef[:, start:start + k] * block.scale                      # (1|C, k)
            if block.components is not None:
                part = part @ block.components                                 # (1|C, d) on the raw block
                intercept = intercept - part @ block.mean
            parts.append(part)
            start += k
        return np.concatenate(parts, axis=1), intercept


def fit(features: dict[str, np.ndarray], labels: np.ndarray, C: float, cfg: BaselineConfig, seed: int,
        class_weight) -> Fitted:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    blocks = fit_blocks(features, cfg, seed)
    lr = _logistic(C, cfg, seed, class_weight)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr.fit(design(blocks, features), labels)
    return Fitted(blocks, lr.coef_.astype(np.float64), lr.intercept_.astype(np.float64), float(C))


def _take(features: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in features.items()}


def _log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))


def select_c(features: dict[str, np.ndarray], labels: np.ndarray, num_classes: int, cfg: BaselineConfig,
             seed: int, class_weight) -> tuple[float, list[dict]]:
    """(chosen C, one history row per candidate): inner stratified CV on these rows only."""
    C, rows, _ = choose_c(features, labels, num_classes, cfg, seed, class_weight)
    return C, rows


def fit_key(features: dict[str, np.ndarray], labels: np.ndarray, num_classes: int, cfg: BaselineConfig,
            seed: int, class_weight) -> str:
    """sha256 of everything :func:`fit_selected` reads: equal keys, equal fits (it is deterministic).

    A baseline stores it in model.pt; the transformer's linear start, whose regression is
    that baseline's, takes the stored fit instead of refitting when its own key is equal.
    Beside the inputs, the key covers what computes the fit: this module's source, the
    numerical libraries' versions and the CPU-kernel mode (kernels.py), so a model.pt from
    other code or another environment is refitted rather than taken."""
    return fingerprint(FORMAT, __version__, _fit_environment(), sorted(features),
                       *[features[k] for k in sorted(features)], np.asarray(labels, np.int64), int(num_classes),
                       cfg.to_dict(), int(seed), class_weight)


def _fit_environment() -> dict:
    """What besides the inputs decides a fit's bits (read without importing scikit-learn)."""
    import hashlib
    from importlib import metadata

    from ..kernels import VARIABLE

    versions = {}
    for name in ("scikit-learn", "numpy", "scipy", "threadpoolctl"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    kernels = os.environ.get(VARIABLE, "portable").strip().lower() or "portable"
    if kernels != "portable":   # native kernels: the bits hold for this CPU family only
        from ..runtime import cpu_description

        kernels = f"{kernels}: {cpu_description()}"
    return {"code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(), "versions": versions,
            "kernels": kernels}


def fit_selected(features: dict[str, np.ndarray], labels: np.ndarray, num_classes: int, cfg: BaselineConfig,
                 seed: int, class_weight) -> tuple[Fitted, list[dict]]:
    """The regression with C chosen by the inner CV, fitted on every row given and (two
    classes, ``cfg.calibrate``) Platt-scaled on the inner CV's out-of-fold decision values."""
    C, rows, oof = choose_c(features, labels, num_classes, cfg, seed, class_weight)
    model = fit(features, labels, C, cfg, seed, class_weight)
    if cfg.calibrate and oof is not None:
        model.platt = platt(oof, labels, class_weight)
    return model, rows


def platt(scores: np.ndarray, labels: np.ndarray, class_weight) -> tuple[float, float]:
    """(a, b) of sigmoid(a * score + b) fitted to out-of-fold scores; (1, 0) when they do not
    rank the classes the right way round (a <= 0) or there is only one class."""
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(labels)) < 2:
        return 1.0, 0.0
    lr = LogisticRegression(C=1e6, class_weight=class_weight, max_iter=1000).fit(scores[:, None], labels)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return (a, b) if a > 0 and np.isfinite(a) and np.isfinite(b) else (1.0, 0.0)


def choose_c(features: dict[str, np.ndarray], labels: np.ndarray, num_classes: int, cfg: BaselineConfig,
             seed: int, class_weight) -> tuple[float, list[dict], np.ndarray | None]:
    """(chosen C, one history row per candidate, out-of-fold decision values [N] at that C or None).

    The largest mean inner-fold AUC wins; ties go to the stronger penalty (smaller C).
    With too few subjects of a class for two inner folds, the middle of the grid is taken
    (and there are no out-of-fold values). Out-of-fold values exist for two classes only.
    """
    from sklearn.model_selection import StratifiedKFold

    from .train import auc

    grid = np.logspace(np.log10(cfg.c_min), np.log10(cfg.c_max), cfg.c_steps)
    counts = np.bincount(labels, minlength=num_classes)
    n_splits = int(min(cfg.inner_folds, counts[counts > 0].min())) if (counts > 0).sum() >= 2 else 0
    splits = []
    if n_splits >= 2:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = list(splitter.split(np.zeros(len(labels)), labels))
    rows, oofs = [], []
    for step, C in enumerate(grid, start=1):
        aucs, losses = [], []
        oof = np.zeros(len(labels)) if num_classes == 2 and splits else None
        for fit_rows, val_rows in splits:
            model = fit(_take(features, fit_rows), labels[fit_rows], C, cfg, seed, class_weight)
            p = model.predict(_take(features, val_rows))
            if oof is not None:
                oof[val_rows] = model.logits(_take(features, val_rows))
            aucs.append(auc(p, labels[val_rows]))
            losses.append(_log_loss(p, labels[val_rows]))
        oofs.append(oof)
        whole = fit(features, labels, C, cfg, seed, class_weight)
        rows.append({"epoch": step, "C": float(C),
                     "train_loss": _log_loss(whole.predict(features), labels),
                     "val_loss": float(np.mean(losses)) if losses else float("nan"),
                     "val_auc": float(np.nanmean(aucs)) if aucs and np.isfinite(aucs).any() else float("nan"),
                     "lr": float("nan"), "best": False})
    if splits:
        scores = [r["val_auc"] if np.isfinite(r["val_auc"]) else -np.inf for r in rows]
        best = int(np.argmax(scores))        # first maximum: the smallest C among ties
    else:
        best = len(grid) // 2
    rows[best]["best"] = True
    return float(grid[best]), rows, oofs[best]


# ---- the run -----------------------------------------------------------------------------------
def train_baseline(src: Sources, model_settings: dict, tc: TrainConfig, cfg: BaselineConfig, variant: str,
                   fold: int, out_dir: str | os.PathLike) -> dict:
    """Fit one baseline on one fold; write model.pt, history.tsv, predictions.parquet, subjects.tsv."""
    from threadpoolctl import threadpool_limits

    from .train import FoldRun

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = FoldRun(src, model_settings, tc, BASELINES[variant], fold)
    blocks = BLOCKS[BASELINES[variant]]
    training, labels = stacked_rows(run.data, ("train", "val"), blocks)
    num_classes = len(src.classes)
    class_weight = "balanced" if tc.class_weights else None
    seed = tc.seed * 1000 + run.fold
    with threadpool_limits(limits=1):
        model, history = fit_selected(training, labels, num_classes, cfg, seed, class_weight)
        probs = model.predict(feature_blocks(run.data["test"], blocks))
    key = fit_key(training, labels, num_classes, cfg, seed, class_weight)
    _write(run, variant, cfg, model, history, probs, out_dir, key)
    return {"C": model.C, "platt": model.platt, "n_train": len(labels), "n_test": len(run.data["test"])}


def _payload(run, variant: str, cfg: BaselineConfig, model: Fitted, key: str) -> dict:
    import torch

    def tensor(a):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a, np.float64))

    src = run.src
    return {
        "format": FORMAT, "package_version": __version__, "variant": variant, "inputs_of": run.variant,
        "fold": run.fold, "classes": list(src.classes), "training_config": run.tc.to_dict(),
        "baseline_config": cfg.to_dict(), "normalisation": run.norm.to_dict(),
        "proteins": {"protein_ids": list(run.protein_ids)},
        "grid": {"sha256": grid_hash(src.grid, src.grid_meta), "patch_ids": run.patch_ids.tolist()},
        "encoder": json.loads(json.dumps(getattr(src.embeddings, "metadata", {}) or {}, default=str)),
        "blocks": [{"name": b.name, "mean": tensor(b.mean), "components": tensor(b.components), "scale": float(b.scale)}
                   for b in model.blocks],
        "coef": tensor(model.coef), "intercept": tensor(model.intercept), "C": model.C,
        "platt": [float(model.platt[0]), float(model.platt[1])],
        "subjects": {k: list(v) for k, v in run.split.items()},
        "fit_key": key,
    }


def load_baseline(path: str | os.PathLike) -> tuple[Fitted, dict]:
    """(the fitted baseline, the model.pt dict) of a baseline's model.pt."""
    from .checkpoint import load_format

    data = load_format(path, "cpu", FORMAT)

    def array(t):
        return None if t is None else t.numpy()

    blocks = [Block(b["name"], array(b["mean"]), array(b["components"]), float(b["scale"])) for b in data["blocks"]]
    platt_ab = tuple(float(x) for x in data.get("platt", (1.0, 0.0)))
    return Fitted(blocks, array(data["coef"]), array(data["intercept"]), float(data["C"]), platt_ab), data


def _write(run, variant: str, cfg: BaselineConfig, model: Fitted, history: list[dict], probs: np.ndarray,
           out_dir: Path, key: str) -> None:
    from .train import HISTORY_COLUMNS, fold_tables

    pred, subjects = fold_tables(run, variant, probs)
    columns = [c for c in HISTORY_COLUMNS if c in history[0]] + ["C"]
    hist = pd.DataFrame(history)[columns]
    names = ["model.pt", "history.tsv", "predictions.parquet", "subjects.tsv"]
    with all_or_nothing(*[out_dir / n for n in names]) as (ckpt_tmp, hist_tmp, pred_tmp, subj_tmp):
        save_torch(_payload(run, variant, cfg, model, key), ckpt_tmp)
        hist.to_csv(hist_tmp, sep="\t", index=False, float_format="%.6g")
        pred.to_parquet(pred_tmp, index=False)
        subjects.to_csv(subj_tmp, sep="\t", index=False)
