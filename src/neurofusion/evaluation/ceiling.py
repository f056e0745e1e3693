"""Truth-informed ceilings: what a readout that knows where the signal was planted reaches.

On a cohort with a truth.json (the demo), on the subjects every variant is scored on
(both modalities: ``training.data.available`` + ``eligible``) and their test folds:

    ceiling_mri      mean preprocessed intensity inside the planted spheres (template mm)
    ceiling_protein  sum of the planted proteins' z-scores, each signed by its planted
                     direction (z-scores and, where truth gives no direction, the sign of
                     the class difference: fitted on the training folds)
    ceiling_fusion   both readouts

For each test fold a logistic regression on the readout(s), fitted on the other folds,
turns them into probabilities (within a fold a single readout keeps its order), so the
ceilings get the same metrics, pooled over the test folds, and the same bootstrap CIs as
metrics.tsv. A variant's AUC minus its ceiling's is the share of the signal the model
missed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import NeurofusionError
from ..io import read_json
from .bootstrap import stream_seed
from .evaluate import METRIC_COLUMNS, metric_rows
from .predictions import arrays, probability_columns

CEILINGS = {"ceiling_mri": ("mri_readout",), "ceiling_protein": ("protein_readout",),
            "ceiling_fusion": ("mri_readout", "protein_readout")}
DIRECTIONS = {"up": 1.0, "down": -1.0, "+": 1.0, "-": -1.0, "increase": 1.0, "decrease": -1.0}
READOUT_COLUMNS = ["participant_id", "fold", "label", "label_index", "mri_readout", "protein_readout"]


@dataclass
class PlantedSignal:
    regions: list[tuple[np.ndarray, float]] = field(default_factory=list)   # (centre mm [3], radius mm)
    proteins: list[str] = field(default_factory=list)
    directions: dict[str, float] = field(default_factory=dict)            # lower-case name -> +1 / -1


def read_planted(path) -> PlantedSignal:
    """Regions and proteins (the attention check's reader) plus each protein's direction.

    Directions come from ``planted_protein_details`` (the demo writes ``direction``
    "up"/"down" per gene) or from dict items of the protein list.
    """
    from ..attention.planted import read_truth

    truth = read_truth(path)
    data = read_json(path)
    items = list(data.get("planted_protein_details") or []) + list(data.get("planted_proteins") or [])
    directions = {}
    for item in items:
        if not isinstance(item, dict) or "direction" not in item:
            continue
        sign = DIRECTIONS.get(str(item["direction"]).strip().lower())
        if sign is None:
            raise NeurofusionError(f"planted protein direction {item['direction']!r} is not up or down", path=path,
                                   fix='write "direction": "up" or "down"')
        for key in ("gene", "symbol", "protein_id", "uniprot", "olink_id", "name"):
            if isinstance(item.get(key), str):
                directions[item[key].strip().lower()] = sign
    return PlantedSignal(truth.regions, truth.proteins, directions)


# ---- MRI readout -------------------------------------------------------------------------------
def region_mask(shape, affine: np.ndarray, regions) -> np.ndarray:
    """bool [X, Y, Z]: voxels whose centre (through ``affine``) lies inside any planted sphere."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape[:3]], indexing="ij"), axis=-1).reshape(-1, 3)
    mm = ijk @ np.asarray(affine, np.float64)[:3, :3].T + np.asarray(affine, np.float64)[:3, 3]
    inside = np.zeros(len(mm), bool)
    for centre, radius in regions:
        inside |= ((mm - centre) ** 2).sum(axis=1) <= radius ** 2
    return inside.reshape(shape[:3])


def preprocessed_image(preprocess_dir, participant_id: str) -> Path:
    """The subject's template-space brain: <dir>/<id>/anat/<id>[_ses-*]_*desc-preproc_T1w.nii[.gz]."""
    folder = Path(preprocess_dir) / participant_id / "anat"
    found = sorted(folder.glob(f"{participant_id}_*desc-preproc_T1w.nii*"))
    if not found:
        raise NeurofusionError("no preprocessed image (…_desc-preproc_T1w.nii.gz)", path=folder,
                               subject=participant_id, fix="run preprocessing for this subject first")
    return found[0]


def mri_readouts(preprocess_dir, ids: Sequence[str], regions) -> np.ndarray:
    """[N] mean intensity inside the planted regions of each subject's preprocessed brain."""
    import nibabel as nib

    masks: dict[tuple, np.ndarray] = {}
    out = np.empty(len(ids), np.float64)
    for i, pid in enumerate(ids):
        path = preprocessed_image(preprocess_dir, pid)
        img = nib.load(path)
        key = (img.shape[:3], np.asarray(img.affine).tobytes())
        if key not in masks:
            masks[key] = region_mask(img.shape, img.affine, regions)
            if not masks[key].any():
                raise NeurofusionError("the planted region holds no voxel of this image", path=path,
                                       subject=pid, fix="check the region centres and radius in truth.json (template mm)")
        data = np.asarray(img.dataobj, dtype=np.float64)
        data = data.reshape(data.shape[:3]) if data.ndim == 4 and data.shape[3] == 1 else data
        out[i] = float(data[masks[key]].mean())
    return out


# ---- protein readout ---------------------------------------------------------------------------
def planted_columns(catalog: pd.DataFrame, matrix_ids: Sequence[str], planted: PlantedSignal):
    """([(name, matrix column, direction or None)], names not in the catalog)."""
    col = {str(q): j for j, q in enumerate(matrix_ids)}
    found, missing = [], []
    for name in planted.proteins:
        wanted = name.strip().lower()
        hit = catalog[np.logical_or.reduce([catalog[c].astype(str).str.lower() == wanted
                                            for c in ("gene", "protein_id", "uniprot") if c in catalog])]
        if hit.empty or str(hit["protein_id"].iloc[0]) not in col:
            missing.append(name)
            continue
        row = hit.iloc[0]
        direction = next((planted.directions[str(row[c]).lower()] for c in ("gene", "protein_id", "uniprot")
                          if c in row and str(row[c]).lower() in planted.directions), planted.directions.get(wanted))
        found.append((name, col[str(row["protein_id"])], direction))
    return found, missing


def protein_readout(values: np.ndarray, train: np.ndarray, positive: np.ndarray,
                    directions: Sequence[float | None]) -> np.ndarray:
    """[N] sum of signed z-scores; mean/sd (and missing directions) from the ``train`` rows only.

    values [N, k] of the planted proteins (NaN = missing -> 0, the training mean).
    """
    fit = values[train]
    mean = np.array([np.nanmean(c) if np.isfinite(c).any() else 0.0 for c in fit.T])
    sd = np.array([np.nanstd(c) if np.isfinite(c).sum() > 1 else 0.0 for c in fit.T])
    z = (values - mean) / np.where(sd > 1e-12, sd, 1.0)
    z = np.where(np.isfinite(z), z, 0.0)
    signs = []
    for j, d in enumerate(directions):
        if d is None:
            diff = z[train & positive, j].mean() - z[train & ~positive, j].mean() if (train & positive).any() \
                and (train & ~positive).any() else 0.0
            d = -1.0 if diff < 0 else 1.0
        signs.append(d)
    return z @ np.asarray(signs, np.float64)


# ---- the ceilings --------------------------------------------------------------------------------
def _fold_probabilities(x: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                        num_classes: int) -> np.ndarray:
    """Logistic regression on the readouts of the training folds -> test-fold probabilities."""
    from sklearn.linear_model import LogisticRegression

    mean, sd = x[train].mean(axis=0), x[train].std(axis=0)
    z = (x - mean) / np.where(sd > 1e-12, sd, 1.0)
    present = np.unique(labels[train])
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(z[train], labels[train])
    probs = np.zeros((int(test.sum()), num_classes))
    probs[:, present] = lr.predict_proba(z[test])
    return probs


def ceiling_readouts(src, preprocess_dir, planted: PlantedSignal, log=print) -> pd.DataFrame:
    """One row per scored subject: fold, label, MRI readout, protein readout (fold-specific z)."""
    from ..training.data import available, eligible

    used, _ = eligible(available(src), "mri", "paired")      # every paired variant's subjects
    if used.empty:
        raise NeurofusionError("no subject has both modalities", path=src.paths.get("cohort"),
                               fix="ceilings are scored on the subjects the variants are scored on")
    ids = used["participant_id"].tolist()
    folds = used["fold"].to_numpy(np.int64)
    labels = used["label_index"].to_numpy(np.int64)
    table = used[["participant_id", "fold", "label", "label_index"]].copy()
    table["mri_readout"] = mri_readouts(preprocess_dir, ids, planted.regions) if planted.regions else np.nan
    table["protein_readout"] = np.nan
    m = src.matrix
    matrix_ids = list(m.protein_ids) or [str(q) for q in src.catalog["protein_id"]]
    columns, missing = planted_columns(src.catalog, matrix_ids, planted)
    if missing:
        log(f"ceiling: planted protein(s) not in the protein catalog, left out: {', '.join(missing)}")
    if columns:
        row_of = {s: i for i, s in enumerate(m.participant_ids)}
        values = np.asarray(m.values, np.float64)[[row_of[s] for s in ids]][:, [c for _, c, _ in columns]]
        positive = labels == labels.max()
        readout = np.full(len(ids), np.nan)
        for k in np.unique(folds):
            train = folds != k
            readout[folds == k] = protein_readout(values, train, positive, [d for *_, d in columns])[folds == k]
        table["protein_readout"] = readout
    return table.reset_index(drop=True)


def ceiling_predictions(readouts: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Test-fold probabilities of every ceiling whose readouts exist (predictions.parquet layout)."""
    labels = readouts["label_index"].to_numpy(np.int64)
    folds = readouts["fold"].to_numpy(np.int64)
    frames = []
    for variant, needs in CEILINGS.items():
        x = readouts[list(needs)].to_numpy(np.float64)
        if not np.isfinite(x).all():
            continue
        probs = np.zeros((len(readouts), len(classes)))
        for k in np.unique(folds):
            train, test = folds != k, folds == k
            if len(np.unique(labels[train])) < 2:
                raise NeurofusionError(f"the folds other than {k} hold one class only",
                                       fix="use more subjects or fewer folds")
            probs[test] = _fold_probabilities(x, labels, train, test, len(classes))
        frame = readouts[["participant_id", "fold", "label", "label_index"]].assign(variant=variant)
        for j, column in enumerate(probability_columns(classes)):
            frame[column] = probs[:, j]
        frames.append(frame)
    if not frames:
        raise NeurofusionError("truth.json gives neither a planted region nor a planted protein of this catalog",
                               fix="check the planted region and protein names in truth.json")
    return pd.concat(frames, ignore_index=True)


def ceiling_metrics(predictions: pd.DataFrame, classes: Sequence[str], n_boot: int, seed: int) -> pd.DataFrame:
    """metrics.tsv rows (variant, metric, mean, ci_low, ci_high, n) of each ceiling, pooled over test folds."""
    rows = []
    for variant in dict.fromkeys(predictions["variant"]):
        labels, probs = arrays(predictions[predictions["variant"] == variant], classes)
        rows += [{"variant": variant, **r} for r in metric_rows(labels, probs, n_boot, stream_seed(seed, variant))]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def write_ceiling(src, preprocess_dir, truth_path, n_boot: int, seed: int, out: str | os.PathLike,
                  readouts_out: str | os.PathLike, log=print) -> pd.DataFrame:
    """ceiling.tsv and the per-subject readouts, all or nothing; returns the metric rows."""
    from ..io import all_or_nothing

    planted = read_planted(truth_path)
    readouts = ceiling_readouts(src, preprocess_dir, planted, log)
    metrics = ceiling_metrics(ceiling_predictions(readouts, src.classes), src.classes, n_boot, seed)
    fmt = dict(sep="\t", index=False, na_rep="NA", float_format="%.6g")
    with all_or_nothing(out, readouts_out) as (metrics_tmp, readouts_tmp):
        metrics.to_csv(metrics_tmp, **fmt)
        readouts[READOUT_COLUMNS].to_csv(readouts_tmp, **fmt)
    return metrics
