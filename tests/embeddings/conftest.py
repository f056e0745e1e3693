"""Tiny patch cohorts built in tmp_path: smooth z-scored 'brain' patches, zero outside."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.ndimage import gaussian_filter

SPACE_STEM = "space-MNI152NLin2009aSym_res-2_desc-patches.npy"


def make_patches(n_patches: int, side: int, seed: int) -> np.ndarray:
    """float16 [P, S, S, S]: smoothed noise with a patch-specific mean, masked by a random blob."""
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(n_patches, side, side, side)), sigma=(0, 1.2, 1.2, 1.2))
    field = field / field.std() + rng.normal(size=(n_patches, 1, 1, 1))
    blob = gaussian_filter(rng.normal(size=(n_patches, side, side, side)), sigma=(0, 2.5, 2.5, 2.5)) > -0.1
    return (field * blob).astype(np.float16)


def write_grid(path, n_patches: int, side: int = 12) -> None:
    ids = np.arange(n_patches, dtype=np.int32)
    table = pa.table({
        "patch_id": ids,
        "i0": ids * 0, "j0": ids * 0, "k0": ids * side,
        "i1": ids * 0 + side, "j1": ids * 0 + side, "k1": ids * side + side,
        "x_mm": ids.astype(np.float64), "y_mm": ids * 0.0, "z_mm": ids * 0.0,
        "brain_fraction": np.full(n_patches, 0.5, np.float32),
    })
    meta = {"space": "MNI152NLin2009aSym", "resolution": 2.0, "shape": [8, 8, 8], "affine": np.eye(4).tolist(),
            "size_mm": 2.0 * side, "stride_mm": 2.0 * side, "min_brain_fraction": 0.35}
    pq.write_table(table.replace_schema_metadata({b"neurofusion.grid": json.dumps(meta).encode()}), path)


@pytest.fixture
def patch_cohort(tmp_path):
    """results/patches with 5 subjects (one with a session) x 16 patches of 12^3, and grid.parquet."""
    root = tmp_path / "patches"
    files = []
    for i, ses in enumerate(["", "", "_ses-bl", "", ""], start=1):
        sub = f"sub-{i:03d}"
        folder = root / sub
        folder.mkdir(parents=True)
        f = folder / f"{sub}{ses}_{SPACE_STEM}"
        np.save(f, make_patches(16, 12, seed=i))
        files.append(f)
    write_grid(root / "grid.parquet", 16)
    return {"dir": root, "grid": root / "grid.parquet", "files": files, "n_patches": 16, "side": 12}


@pytest.fixture
def patch_maker():
    """The make_patches function, for tests that need raw arrays."""
    return make_patches
