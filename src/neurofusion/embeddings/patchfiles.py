"""Finding and opening the per-subject patch arrays that the imaging stage writes.

A patch array is ``results/patches/sub-XXX/sub-XXX[_ses-Y]_space-..._desc-patches.npy``:
float16 ``[P, S, S, S]`` in grid order (row p = patch_id p), z-scored brain intensities,
zero outside the brain. The participant id is the ``sub-XXX`` part of the file name.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import NeurofusionError
from ..failure import failure_reason

_SUBJECT = re.compile(r"^(sub-[A-Za-z0-9]+)(_|\.|$)")
PATCH_SUFFIX = "_desc-patches.npy"


def participant_id_from_path(path: str | os.PathLike) -> str:
    m = _SUBJECT.match(Path(path).name)
    if not m:
        raise NeurofusionError("file name does not start with sub-<label>", path=path,
                               fix="name patch arrays sub-XXX[_ses-Y]_..._desc-patches.npy")
    return m.group(1)


def find_patch_files(patches_dir: str | os.PathLike) -> list[Path]:
    """Every ``sub-*/*_desc-patches.npy`` under ``patches_dir``, sorted by path."""
    root = Path(patches_dir)
    if not root.is_dir():
        raise NeurofusionError("patches folder not found", path=root, fix="run the patches step first")
    files = sorted(root.glob(f"sub-*/sub-*{PATCH_SUFFIX}"))
    if not files:
        raise NeurofusionError(f"no sub-*/*{PATCH_SUFFIX} files in this folder", path=root,
                               fix="run the patches step first")
    return files


def read_grid_patch_ids(grid_path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """``patch_id`` column (checked to be 0..P-1) and the grid metadata of grid.parquet."""
    fix = "rerun the patch-grid step"
    try:
        table = pq.read_table(grid_path, columns=["patch_id"])
        meta_raw = (pq.read_schema(grid_path).metadata or {}).get(b"neurofusion.grid")
    except FileNotFoundError:
        raise NeurofusionError("patch grid not found", path=grid_path, fix=fix)
    except (pa.ArrowInvalid, OSError, KeyError) as exc:
        raise NeurofusionError(f"cannot read the patch grid ({exc})", path=grid_path, fix=fix)
    patch_ids = table.column("patch_id").to_numpy().astype(np.int64)  # [P]
    if not np.array_equal(patch_ids, np.arange(len(patch_ids))):
        raise NeurofusionError("patch_id is not 0..P-1 in row order", path=grid_path, fix=fix)
    meta = json.loads(meta_raw) if meta_raw else {}
    return patch_ids, meta


def open_patch_array(path: str | os.PathLike, n_patches: int | None = None) -> np.ndarray:
    """Memory-map one subject's ``[P, S, S, S]`` array, checking its shape against the grid."""
    fix = "rerun the patches step for this subject"
    subject = participant_id_from_path(path)
    if not os.path.isfile(path):
        raise NeurofusionError("patch array not found", path=path, subject=subject, fix=fix)
    try:
        arr = np.load(path, mmap_mode="r")
    except (ValueError, OSError, EOFError) as exc:
        raise NeurofusionError(f"not a readable .npy array ({exc})", path=path, subject=subject, fix=fix)
    if arr.ndim != 4 or not (arr.shape[1] == arr.shape[2] == arr.shape[3]):
        raise NeurofusionError(f"shape {arr.shape} is not [P, S, S, S]", path=path, subject=subject, fix=fix)
    if n_patches is not None and arr.shape[0] != n_patches:
        raise NeurofusionError(f"has {arr.shape[0]} patches but the grid has {n_patches}", path=path,
                               subject=subject, fix="rerun the patches step with the current grid")
    if not np.issubdtype(arr.dtype, np.floating):
        raise NeurofusionError(f"dtype {arr.dtype} is not floating point", path=path, subject=subject, fix=fix)
    return arr


def without_failure_records(files) -> tuple[list, dict[str, str]]:
    """(the patch arrays, participant -> reason of each failure record left out).

    A failure record stands where preprocessing excluded a scan (``preprocess.on_error:
    exclude``); that subject has no patches, and the cohort step writes down why.
    """
    usable, skipped = [], {}
    for f in files:
        reason = failure_reason(f)
        if reason is None:
            usable.append(f)
        else:
            skipped[participant_id_from_path(f)] = reason
    return usable, skipped


def check_unique_participants(files: list[Path]) -> list[str]:
    """Participant ids of ``files``; two files of one participant are an error."""
    ids = [participant_id_from_path(f) for f in files]
    seen: dict[str, Path] = {}
    for pid, f in zip(ids, files):
        if pid in seen:
            raise NeurofusionError(f"second patch array for this participant (first: {seen[pid]})", path=f,
                                   subject=pid, fix="pass one patch array per participant")
        seen[pid] = f
    return ids
