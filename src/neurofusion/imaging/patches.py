"""Cut every subject's template-space image into the grid's patches: float16 [P, S, S, S] .npy."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import NeurofusionError
from ..failure import failure_reason, write_failure_record
from ..io import atomic_output
from .grid import read_grid

AFFINE_TOLERANCE_MM = 1e-3


def load_on_grid(path: str | os.PathLike, meta: dict) -> np.ndarray:
    """float32 [X, Y, Z] of a preprocessed image, checked to lie on the grid's template shape/affine."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj, dtype=np.float32)
    except FileNotFoundError:
        raise NeurofusionError("file not found", path=path, fix="run `neurofusion preprocess` first") from None
    except Exception as exc:  # nibabel/gzip raise many types for unreadable files
        raise NeurofusionError(f"not a readable NIfTI ({type(exc).__name__})", path=path,
                               fix="rerun `neurofusion preprocess` for this subject") from None
    data = data.reshape(data.shape[:3]) if data.ndim == 4 and data.shape[3] == 1 else data
    shape, affine = tuple(meta["shape"]), np.asarray(meta["affine"])
    if data.shape != shape or not np.allclose(img.affine, affine, atol=AFFINE_TOLERANCE_MM):
        raise NeurofusionError(
            f"image of shape {data.shape} is not on the patch grid's template grid {shape} at {meta['resolution']:g} mm",
            path=path, fix="preprocess and build the grid with the same --resolution")
    return data


def extract_patches(image: np.ndarray, table) -> np.ndarray:
    """float16 [P, S, S, S]: row p is image[i0:i1, j0:j1, k0:k1] of grid row p (one gather, no loops)."""
    starts = table[["i0", "j0", "k0"]].to_numpy(dtype=np.intp)  # (P, 3)
    size = int(table["i1"].iloc[0] - table["i0"].iloc[0])
    windows = np.lib.stride_tricks.sliding_window_view(image, (size, size, size))  # (X-S+1, Y-S+1, Z-S+1, S, S, S)
    return windows[starts[:, 0], starts[:, 1], starts[:, 2]].astype(np.float16)


def write_patches(image_path, grid_path, out_path) -> np.ndarray | None:
    """Read image and grid, write the patch array atomically, return it.

    A failure record in place of the image (a scan preprocessing excluded) gives a failure
    record in place of the patch array, with the same reason, and None.
    """
    return write_patch_batch([image_path], grid_path, [out_path])[0]


def write_patch_batch(image_paths, grid_path, out_paths) -> list[np.ndarray | None]:
    """:func:`write_patches` for several images in one process, the grid read once.

    Each output has the bytes it gets alone. All or nothing: an image that stops the batch
    (unreadable, off the grid) takes the outputs written before it with it.
    """
    if len(image_paths) != len(out_paths):
        raise NeurofusionError(f"{len(out_paths)} patch arrays to write for {len(image_paths)} images",
                               fix="give one --out path per --in image, in the same order")
    table, meta = read_grid(grid_path)
    table = table.sort_values("patch_id")
    written, arrays = [], []
    try:
        for image_path, out_path in zip(image_paths, out_paths):
            reason = failure_reason(image_path)
            if reason is not None:
                write_failure_record(out_path, reason)
                patches = None
            else:
                patches = extract_patches(load_on_grid(image_path, meta), table)
                with atomic_output(out_path) as tmp:
                    with open(tmp, "wb") as fh:
                        np.save(fh, patches)
            written.append(out_path)
            arrays.append(patches)
    except BaseException:
        for path in written:
            Path(path).unlink(missing_ok=True)
        raise
    return arrays
