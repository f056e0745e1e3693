"""Training data: the stage inputs gathered into aligned arrays, the fold split, tensors.

    Sources       everything read from the stage inputs (cohort, embeddings, grid, proteins, catalog)
    gather()      raw arrays for a list of subjects, aligned to given patch and protein orders
    split_fold()  test fold | inner stratified validation | training part
    to_tensors()  normalised, NaN-free model inputs (pre-materialised once per run)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import NeurofusionError
from .normalise import EmbeddingScaler, ProteinScaler

NUM_FLAGS = 2  # below LOD, missing


@dataclass
class Sources:
    cohort: pd.DataFrame            # participants.parquet
    classes: list[str]              # by label_index
    embeddings: object | None       # EmbeddingSet: participant_ids, patch_ids [P], values [N,P,E], metadata
    grid: pd.DataFrame              # grid.parquet (patch_id, x_mm, y_mm, z_mm, ...)
    grid_meta: dict
    matrix: object | None           # ProteinMatrix: participant_ids, values [N,K], below_lod [N,K], protein_ids
    catalog: pd.DataFrame           # catalog.parquet (protein_index order)
    paths: dict = field(default_factory=dict)


@dataclass
class Raw:
    """Unnormalised inputs of N subjects; NaN marks what is absent."""

    participant_ids: list[str]
    labels: np.ndarray          # [N] int64 label_index
    folds: np.ndarray           # [N] int64
    mri: np.ndarray             # [N, P, E] float32
    mri_mask: np.ndarray        # [N, P] bool
    prot_values: np.ndarray     # [N, K] float32, NaN = missing
    below_lod: np.ndarray       # [N, K] bool


def read_cohort(path) -> tuple[pd.DataFrame, list[str]]:
    """participants.parquet and its classes in label_index order."""
    try:
        cohort = pd.read_parquet(path)
    except FileNotFoundError:
        raise NeurofusionError("cohort table not found", path=path, fix="run the cohort step first")
    need = ["participant_id", "label", "label_index", "fold", "has_mri", "has_proteins"]
    missing = [c for c in need if c not in cohort.columns]
    if missing:
        raise NeurofusionError(f"missing column(s) {', '.join(missing)}", path=path, fix="rerun the cohort step")
    cohort = cohort.assign(participant_id=cohort["participant_id"].astype(str)).reset_index(drop=True)
    pairs = cohort[["label_index", "label"]].drop_duplicates().sort_values("label_index")
    if pairs["label_index"].duplicated().any() or pairs["label"].duplicated().any() \
            or pairs["label_index"].tolist() != list(range(len(pairs))):
        raise NeurofusionError("label and label_index do not map one to one onto 0..C-1", path=path,
                               fix="rerun the cohort step")
    if len(pairs) < 2:
        raise NeurofusionError(f"only {len(pairs)} class present", path=path, fix="a classifier needs two classes")
    return cohort, [str(c) for c in pairs["label"]]


def load_sources(cohort, embeddings: Sequence, grid, proteins, catalog) -> Sources:
    """Read every stage input (readers of the other stages imported here, lazily)."""
    from ..embeddings.store import read_embeddings
    from ..imaging.grid import read_grid
    from ..proteomics.matrix import read_matrix

    table, classes = read_cohort(cohort)
    grid_df, grid_meta = read_grid(grid)
    try:
        cat = pd.read_parquet(catalog)
    except FileNotFoundError:
        raise NeurofusionError("protein catalog not found", path=catalog, fix="run the proteins step first")
    for col in ("protein_index", "protein_id", "category_id", "position_in_category"):
        if col not in cat.columns:
            raise NeurofusionError(f"missing column {col!r}", path=catalog, fix="rerun the proteins step")
    return Sources(cohort=table, classes=classes, embeddings=read_embeddings(list(embeddings)),
                   grid=grid_df, grid_meta=grid_meta, matrix=read_matrix(proteins),
                   catalog=cat.sort_values("protein_index").reset_index(drop=True),
                   paths={"cohort": cohort, "embeddings": list(embeddings), "grid": grid,
                          "proteins": proteins, "catalog": catalog})


# ---- what the model sees of the catalog and the grid -------------------------------------
def protein_codes(catalog: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(protein ids, category ids [K], position within category [K]) in matrix column order."""
    return ([str(p) for p in catalog["protein_id"]], catalog["category_id"].to_numpy(np.int64),
            catalog["position_in_category"].to_numpy(np.int64))


def patch_coords(grid: pd.DataFrame, patch_ids: np.ndarray, where="grid") -> np.ndarray:
    """Template mm centres [P, 3] of ``patch_ids``."""
    by_id = grid.set_index("patch_id")[["x_mm", "y_mm", "z_mm"]]
    unknown = [int(p) for p in patch_ids if int(p) not in by_id.index]
    if unknown:
        raise NeurofusionError(f"patch_id {unknown[0]} of the embeddings is not in the grid", path=where,
                               fix="embed the patches again from this grid")
    return by_id.loc[np.asarray(patch_ids, dtype=np.int64)].to_numpy(np.float32)


def grid_hash(grid: pd.DataFrame, meta: dict) -> str:
    """sha256 of what a patch token means: patch ids, their centres and the template space."""
    h = hashlib.sha256()
    g = grid.sort_values("patch_id")
    h.update(g["patch_id"].to_numpy(np.int64).tobytes())
    h.update(g[["x_mm", "y_mm", "z_mm"]].to_numpy(np.float64).tobytes())
    h.update(str(meta.get("space", "")).encode())
    return h.hexdigest()


# ---- subjects ------------------------------------------------------------------------------
def available(src: Sources) -> pd.DataFrame:
    """Cohort with has_mri / has_proteins narrowed to what the inputs really hold."""
    emb_ids = set(src.embeddings.participant_ids) if src.embeddings is not None else set()
    prot_ids = set(src.matrix.participant_ids) if src.matrix is not None else set()
    c = src.cohort.copy()
    c["has_mri"] = c["has_mri"].astype(bool) & c["participant_id"].isin(emb_ids)
    c["has_proteins"] = c["has_proteins"].astype(bool) & c["participant_id"].isin(prot_ids)
    return c


def eligible(cohort: pd.DataFrame, variant: str, subjects: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(subjects used, subjects left out with a reason) for a variant.

    paired: every variant uses the subjects with both modalities, so variants compare on
    the same people; all: fusion uses everyone with at least one modality.
    """
    both = cohort["has_mri"] & cohort["has_proteins"]
    if subjects == "all" and variant == "fusion":
        keep = cohort["has_mri"] | cohort["has_proteins"]
    else:
        keep = both
    reason = np.where(~cohort["has_mri"] & ~cohort["has_proteins"], "no MRI embeddings and no protein values",
                      np.where(~cohort["has_mri"], "no MRI embeddings (paired comparison needs both)",
                               "no protein values (paired comparison needs both)"))
    left = cohort.loc[~keep, ["participant_id"]].assign(reason=reason[~keep.to_numpy()])
    return cohort[keep].reset_index(drop=True), left.reset_index(drop=True)


def split_fold(cohort: pd.DataFrame, fold: int, val_fraction: float, seed: int) -> dict[str, list[str]]:
    """{"train", "val", "test"} participant ids: test = the fold; val = stratified draw from the rest."""
    folds = sorted(int(f) for f in cohort["fold"].unique())
    if fold not in folds:
        raise NeurofusionError(f"fold {fold} has no subjects (folds present: {folds})",
                               fix="pick a fold the cohort step made")
    test = cohort[cohort["fold"] == fold]
    rest = cohort[cohort["fold"] != fold]
    rng = np.random.default_rng([seed, fold])
    val = []
    for label in sorted(rest["label_index"].unique()):
        ids = sorted(rest.loc[rest["label_index"] == label, "participant_id"])
        n_val = int(round(val_fraction * len(ids)))
        n_val = min(max(n_val, 1 if len(ids) >= 2 else 0), len(ids) - 1) if ids else 0
        val += [ids[i] for i in rng.permutation(len(ids))[:n_val]]
    val_set = set(val)
    train = sorted(p for p in rest["participant_id"] if p not in val_set)
    if not train:
        raise NeurofusionError(f"fold {fold} leaves no training subjects", fix="use more subjects or fewer folds")
    return {"train": train, "val": sorted(val), "test": sorted(test["participant_id"])}


# ---- arrays --------------------------------------------------------------------------------
def gather(src: Sources, cohort: pd.DataFrame, ids: Sequence[str], patch_ids: np.ndarray,
           protein_ids: Sequence[str], width: int) -> Raw:
    """Raw inputs of ``ids`` with patches in ``patch_ids`` order and proteins in ``protein_ids`` order."""
    rows = cohort.set_index("participant_id").loc[list(ids)]
    n, p, k = len(ids), len(patch_ids), len(protein_ids)
    mri = np.zeros((n, p, width), np.float32)
    mri_mask = np.zeros((n, p), bool)
    if src.embeddings is not None and p:
        emb = src.embeddings
        col = {int(q): j for j, q in enumerate(emb.patch_ids)}
        cols = np.array([col.get(int(q), -1) for q in patch_ids])
        row_of = {s: i for i, s in enumerate(emb.participant_ids)}
        for i, s in enumerate(ids):
            if s in row_of and bool(rows.loc[s, "has_mri"]):
                got = emb.values[row_of[s]][np.maximum(cols, 0)]                 # [P, E]
                ok = (cols >= 0) & np.isfinite(got).all(axis=1)
                mri[i] = np.where(ok[:, None], got, 0.0)
                mri_mask[i] = ok
    values = np.full((n, k), np.nan, np.float32)
    below = np.zeros((n, k), bool)
    if src.matrix is not None and k:
        m = src.matrix
        # column k of the matrix is catalog protein_index k; its ids (schema metadata) when given
        order = list(m.protein_ids) or [str(q) for q in src.catalog["protein_id"]]
        col = {str(q): j for j, q in enumerate(order)}
        absent = [q for q in protein_ids if q not in col]
        if absent:
            raise NeurofusionError(f"protein {absent[0]} is not in the protein matrix",
                                   path=src.paths.get("proteins"), fix="use the matrix and catalog of the same proteins run")
        cols = np.array([col[q] for q in protein_ids])
        row_of = {s: i for i, s in enumerate(m.participant_ids)}
        for i, s in enumerate(ids):
            if s in row_of and bool(rows.loc[s, "has_proteins"]):
                values[i] = np.asarray(m.values[row_of[s]], np.float32)[cols]
                below[i] = np.asarray(m.below_lod[row_of[s]], bool)[cols]
    return Raw(list(ids), rows["label_index"].to_numpy(np.int64), rows["fold"].to_numpy(np.int64),
               mri, mri_mask, values, below)


@dataclass
class Normaliser:
    proteins: ProteinScaler
    embeddings: EmbeddingScaler
    clip_z: float
    protein_missing: str         # mask | impute

    @classmethod
    def fit(cls, raw: Raw, normalise_embeddings: bool, clip_z: float, protein_missing: str) -> "Normaliser":
        emb = EmbeddingScaler.fit(raw.mri, raw.mri_mask) if normalise_embeddings \
            else EmbeddingScaler.identity(raw.mri.shape[-1])
        return cls(ProteinScaler.fit(raw.prot_values), emb, float(clip_z), protein_missing)

    def to_dict(self) -> dict:
        return {"proteins": self.proteins.to_dict(), "embeddings": self.embeddings.to_dict(),
                "clip_z": self.clip_z, "protein_missing": self.protein_missing}

    @classmethod
    def from_dict(cls, d: dict) -> "Normaliser":
        return cls(ProteinScaler.from_dict(d["proteins"]), EmbeddingScaler.from_dict(d["embeddings"]),
                   float(d["clip_z"]), str(d["protein_missing"]))


@dataclass
class Batchable:
    """Model inputs of N subjects as tensors; ``coords``, ``category``, ``position`` are shared."""

    participant_ids: list[str]
    labels: torch.Tensor        # (N,) long
    mri: torch.Tensor           # (N, P, E)
    mri_mask: torch.Tensor      # (N, P) bool
    prot_values: torch.Tensor   # (N, K)
    prot_flags: torch.Tensor    # (N, K, F)
    prot_mask: torch.Tensor     # (N, K) bool
    coords: torch.Tensor        # (P, 3)
    category: torch.Tensor      # (K,) long
    position: torch.Tensor      # (K,) long

    def __len__(self) -> int:
        return len(self.participant_ids)

    def batch(self, index: torch.Tensor, device) -> dict:
        """Forward arguments for rows ``index`` on ``device``."""
        nb = device.type == "cuda"
        take = lambda t: t[index].to(device, non_blocking=nb)  # noqa: E731
        b = len(index)
        return {"mri": take(self.mri), "mri_coords": self.coords.to(device).expand(b, -1, -1),
                "mri_mask": take(self.mri_mask), "prot_values": take(self.prot_values),
                "prot_flags": take(self.prot_flags), "prot_category": self.category.to(device),
                "prot_position": self.position.to(device), "prot_mask": take(self.prot_mask)}

    def pin(self) -> "Batchable":
        for name in ("mri", "mri_mask", "prot_values", "prot_flags", "prot_mask"):
            setattr(self, name, getattr(self, name).pin_memory())
        return self


def to_tensors(raw: Raw, norm: Normaliser, coords: np.ndarray, category: np.ndarray,
               position: np.ndarray) -> Batchable:
    """Normalise and make NaN-free: absent values become 0 and are masked (or imputed + flagged)."""
    mri = np.where(raw.mri_mask[..., None], norm.embeddings.transform(raw.mri), 0.0).astype(np.float32)
    z = norm.proteins.transform(raw.prot_values, norm.clip_z)          # [N, K], NaN = missing
    missing = ~np.isfinite(z)
    has_proteins = (~missing).any(axis=1, keepdims=True)                # [N, 1]
    if norm.protein_missing == "impute":
        # training median is 0 after the robust z-score; subjects without any protein stay masked
        prot_mask = np.broadcast_to(has_proteins, z.shape).copy()
    else:
        prot_mask = ~missing
    z = np.where(missing, 0.0, z).astype(np.float32)
    flags = np.stack([raw.below_lod & ~missing, missing], axis=-1).astype(np.float32)   # [N, K, 2]
    return Batchable(
        participant_ids=list(raw.participant_ids), labels=torch.from_numpy(np.array(raw.labels)),
        mri=torch.from_numpy(mri), mri_mask=torch.from_numpy(raw.mri_mask.copy()),
        prot_values=torch.from_numpy(z), prot_flags=torch.from_numpy(flags),
        prot_mask=torch.from_numpy(prot_mask), coords=torch.from_numpy(np.array(coords, np.float32)),
        category=torch.from_numpy(np.array(category, np.int64)),  # np.array copies: pandas 3 arrays are read-only
        position=torch.from_numpy(np.array(position, np.int64)))


def fingerprint(*parts) -> str:
    """sha256 of JSON-able settings and numpy arrays, in order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.dtype, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
