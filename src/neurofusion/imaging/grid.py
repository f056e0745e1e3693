"""The fixed grid of cubic patches on the template, shared by every subject.

One axial slice of the template at 2 mm, S = patch size, T = stride (voxels, here S = T):

        k ^
          |   start = centre of the brain's bounding box - span / 2
          |   +-----+-----+-----+-----+
          |   |     | ##  | ##  |     |   each box is kept when the template brain fills
          |   +-----+-----+-----+-----+   at least min_brain_fraction of it (# = brain);
          |   | ####|#####|#####|#### |   kept boxes get patch_id 0..P-1 in i, j, k order
          |   +-----+-----+-----+-----+
          |   |  ###|#####|#####|###  |   box p = [i0:i1, j0:j1, k0:k1], half-open voxels;
          |   +-----+-----+-----+-----+   centre (x_mm, y_mm, z_mm) in template mm
          |   |     |  ###|###  |     |
          |   +-----+-----+-----+-----+
          +--------------------------------> i
              |<-S->|<-T->
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import NeurofusionError
from ..io import atomic_output
from .template import SPACE, check_resolution, load_template

META_KEY = b"neurofusion.grid"
BOX_COLUMNS = ["i0", "j0", "k0", "i1", "j1", "k1"]
COLUMNS = ["patch_id", *BOX_COLUMNS, "x_mm", "y_mm", "z_mm", "brain_fraction"]


def _axis_starts(lo: int, hi: int, dim: int, size: int, stride: int) -> np.ndarray:
    """Box starts along one axis: a lattice covering [lo, hi), centred on it, inside [0, dim)."""
    n = max(1, int(np.ceil(max(0, hi - lo - size) / stride)) + 1)
    span = (n - 1) * stride + size
    start = lo + (hi - lo - span) // 2
    starts = start + stride * np.arange(n)
    return starts[(starts >= 0) & (starts + size <= dim)]


def build_grid(resolution: float = 2.0, size_mm: float = 28.0, stride_mm: float = 28.0,
               min_brain_fraction: float = 0.35):
    """(pandas.DataFrame with COLUMNS, metadata dict) for the template at ``resolution`` mm.

    Defaults give 94 patches of 14^3 voxels at 2 mm covering 89% of the template brain mask
    (24 mm gives 152 patches at 0.35, and needs a fraction of 0.7 for ~100, covering 72%).
    """
    import pandas as pd

    resolution = check_resolution(resolution)
    size = int(round(size_mm / resolution))
    stride = int(round(stride_mm / resolution))
    if size < 1 or stride < 1 or not 0.0 <= min_brain_fraction <= 1.0:
        raise NeurofusionError(f"patch size {size_mm:g} mm / stride {stride_mm:g} mm / min brain fraction "
                               f"{min_brain_fraction:g} are not usable at {resolution:g} mm",
                               fix="use sizes and strides of at least one voxel and a fraction in 0..1")
    tpl = load_template(resolution)
    idx = np.argwhere(tpl.mask)
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    starts = [_axis_starts(int(a), int(b), int(d), size, stride) for a, b, d in zip(lo, hi, tpl.shape)]
    i0, j0, k0 = (a.ravel() for a in np.meshgrid(*starts, indexing="ij"))  # (N,) each, i-major order
    fraction = _box_means(tpl.mask, i0, j0, k0, size)
    keep = fraction >= min_brain_fraction
    if not keep.any():
        raise NeurofusionError(f"no patch has a brain fraction >= {min_brain_fraction:g}",
                               fix="lower patches.min_brain_fraction or the patch size")
    i0, j0, k0, fraction = i0[keep], j0[keep], k0[keep], fraction[keep]
    centre_vox = np.stack([i0, j0, k0], axis=1) + (size - 1) / 2.0  # (P, 3)
    centre_mm = centre_vox @ tpl.affine[:3, :3].T + tpl.affine[:3, 3]
    table = pd.DataFrame({
        "patch_id": np.arange(len(i0), dtype=np.int32),
        "i0": i0.astype(np.int32), "j0": j0.astype(np.int32), "k0": k0.astype(np.int32),
        "i1": (i0 + size).astype(np.int32), "j1": (j0 + size).astype(np.int32), "k1": (k0 + size).astype(np.int32),
        "x_mm": centre_mm[:, 0], "y_mm": centre_mm[:, 1], "z_mm": centre_mm[:, 2],
        "brain_fraction": fraction.astype(np.float32),
    })
    meta = {
        "space": SPACE, "resolution": resolution, "shape": list(tpl.shape),
        "affine": np.asarray(tpl.affine).tolist(), "size_mm": float(size_mm), "stride_mm": float(stride_mm),
        "min_brain_fraction": float(min_brain_fraction), "patch_size_voxels": size,
    }
    return table, meta


def _box_means(mask: np.ndarray, i0, j0, k0, size: int) -> np.ndarray:
    """Fraction of ``mask`` inside each box [i0:i0+size, ...] via a summed-volume table."""
    sat = np.pad(mask.astype(np.int64), ((1, 0), (1, 0), (1, 0))).cumsum(0).cumsum(1).cumsum(2)
    i1, j1, k1 = i0 + size, j0 + size, k0 + size
    total = (sat[i1, j1, k1] - sat[i0, j1, k1] - sat[i1, j0, k1] - sat[i1, j1, k0]
             + sat[i0, j0, k1] + sat[i0, j1, k0] + sat[i1, j0, k0] - sat[i0, j0, k0])
    return total / float(size**3)


def write_grid(path: str | os.PathLike, table, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table[COLUMNS], preserve_index=False)
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), META_KEY: json.dumps(meta).encode()})
    with atomic_output(path) as tmp:
        pq.write_table(arrow, tmp)


def read_grid(path: str | os.PathLike):
    """(pandas.DataFrame with COLUMNS, metadata dict) from a grid.parquet."""
    import pyarrow.parquet as pq

    try:
        arrow = pq.read_table(path)
    except FileNotFoundError:
        raise NeurofusionError("file not found", path=path, fix="run `neurofusion patch-grid` first") from None
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise NeurofusionError(f"not a readable Parquet file ({type(exc).__name__})", path=path,
                               fix="delete it and rerun `neurofusion patch-grid`") from None
    raw = (arrow.schema.metadata or {}).get(META_KEY)
    missing = [c for c in COLUMNS if c not in arrow.column_names]
    if raw is None or missing:
        raise NeurofusionError(f"not a patch grid (missing {'metadata' if raw is None else ', '.join(missing)})",
                               path=path, fix="rerun `neurofusion patch-grid`")
    return arrow.to_pandas(), json.loads(raw)
