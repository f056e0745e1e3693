"""Patch values -> a NIfTI volume on the template grid.

Each patch covers a half-open voxel box ``[i0,i1) x [j0,j1) x [k0,k1)`` of the template
grid (grid.parquet). Its value fills the box; where boxes overlap (stride < size) the
voxel gets the mean of the overlapping patches; voxels in no patch are 0.

    grid (2D cut)      value map
    +---+---+          +---+---+
    | 0 | 1 |   ->     |.2 |.5 |      patch 0 = 0.2, patch 1 = 0.5
    +---+---+          +---+---+
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np
import pandas as pd

from .. import TEMPLATE_SPACE
from ..errors import NeurofusionError

NIFTI_MNI_CODE = 4  # NIfTI xform code "MNI_152"


def load_grid(path) -> tuple[pd.DataFrame, dict]:
    """grid.parquet and its metadata, via the imaging reader when that module is present."""
    try:
        from ..imaging.grid import read_grid
    except ImportError:
        read_grid = None
    if read_grid is not None:
        return read_grid(path)
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise NeurofusionError("grid file not found", path=path, fix="run the patch-grid step first")
    raw = (schema.metadata or {}).get(b"neurofusion.grid")
    if raw is None:
        raise NeurofusionError("no neurofusion.grid metadata", path=path, fix="rerun the patch-grid step")
    return frame, json.loads(raw)


def patch_volume(values: np.ndarray, patch_ids: Sequence[int], grid: pd.DataFrame,
                 shape: Sequence[int]) -> np.ndarray:
    """values [P] for patch_ids [P] -> float32 volume of ``shape`` (mean where boxes overlap)."""
    boxes = grid.set_index("patch_id").loc[list(patch_ids), ["i0", "j0", "k0", "i1", "j1", "k1"]].to_numpy()
    total = np.zeros(tuple(shape), dtype=np.float64)
    count = np.zeros(tuple(shape), dtype=np.int32)
    for value, (i0, j0, k0, i1, j1, k1) in zip(np.asarray(values, dtype=np.float64), boxes):
        if not np.isfinite(value):
            continue
        total[i0:i1, j0:j1, k0:k1] += value
        count[i0:i1, j0:j1, k0:k1] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(np.float32)


def volume_image(volume: np.ndarray, meta: dict, description: str = ""):
    """A NIfTI image on the grid's template affine, marked as MNI space."""
    import nibabel as nib

    shape = tuple(int(n) for n in meta["shape"])
    if volume.shape != shape:
        raise ValueError(f"volume shape {volume.shape} differs from grid shape {shape}")
    affine = np.asarray(meta["affine"], dtype=np.float64)
    image = nib.Nifti1Image(volume.astype(np.float32), affine)
    image.set_sform(affine, code=NIFTI_MNI_CODE)
    image.set_qform(affine, code=NIFTI_MNI_CODE)
    image.header["descrip"] = description[:79].encode()
    image.header.set_xyzt_units("mm")
    return image


def map_name(kind: str) -> str:
    """attention_space-<space>_class-<c>.nii.gz or ..._desc-difference.nii.gz."""
    return f"attention_space-{TEMPLATE_SPACE}_{kind}.nii.gz"


def attribution_map_name(method: str, kind: str, model: str = "trained") -> str:
    """attribution_space-<space>_method-<m>[_control-<c>]_class-<c>.nii.gz (or ..._desc-difference)."""
    control = "" if model == "trained" else f"_control-{model}"
    return f"attribution_space-{TEMPLATE_SPACE}_method-{method}{control}_{kind}.nii.gz"


def subject_map_name(participant_id: str, method: str, native: bool = False) -> str:
    """sub-X_space-<template|T1w>_method-<m>_attribution.nii.gz (T1w = the subject's own scan)."""
    space = "T1w" if native else TEMPLATE_SPACE
    return f"{participant_id}_space-{space}_method-{method}_attribution.nii.gz"
