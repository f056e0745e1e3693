"""Reading a T1w scan robustly: NIfTI in any orientation/datatype -> float32 RAS volume.

Every way a file can be unusable (empty, truncated, not a NIfTI, 2D, several volumes,
no signal, absurd voxel sizes) becomes one NeurofusionError naming the file.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import NeurofusionError

MIN_VOXEL_MM = 0.2
MAX_VOXEL_MM = 8.0
MIN_FIELD_OF_VIEW_MM = 60.0  # a head is ~150-250 mm across; less is not a head scan
READ_ERRORS = (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile, MemoryError)


@dataclass
class Scan:
    """A 3D scan reoriented to the closest RAS voxel order.

    data: float32 [X, Y, Z], finite (NaN/Inf set to 0), scaling applied.
    affine: float64 [4, 4], voxel -> scanner mm (RAS+), from the sform (else qform).
    """

    path: str
    data: np.ndarray
    affine: np.ndarray

    @property
    def voxel_size(self) -> np.ndarray:
        return voxel_sizes(self.affine)


def voxel_sizes(affine: np.ndarray) -> np.ndarray:
    return np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0))


def participant_id_from_path(path: str | os.PathLike) -> str | None:
    """``sub-XXX`` from a BIDS file name such as ``sub-001_ses-bl_T1w.nii.gz``, else None."""
    name = Path(path).name
    first = name.split("_")[0].split(".")[0]
    if first.startswith("sub-") and len(first) > 4 and first[4:].isalnum():
        return first
    return None


def load_scan(path: str | os.PathLike) -> Scan:
    """Read ``path`` into a :class:`Scan` or raise a one-line NeurofusionError."""
    import nibabel as nib

    path = str(path)
    if not os.path.isfile(path):
        raise NeurofusionError("file not found", path=path, fix="check the path in your BIDS folder")
    if os.path.getsize(path) == 0:
        raise NeurofusionError("empty file", path=path, fix="re-export or re-copy the scan")
    try:
        img = nib.load(path)
    except (nib.filebasedimages.ImageFileError, *READ_ERRORS) as exc:
        raise NeurofusionError(f"not a readable NIfTI ({_short(exc)})", path=path,
                               fix="convert it to .nii/.nii.gz (e.g. with dcm2niix)") from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise NeurofusionError(f"not a NIfTI image ({type(img).__name__})", path=path,
                               fix="convert it to .nii/.nii.gz (e.g. with dcm2niix)")
    shape = _check_shape(path, img.shape)
    affine = _check_affine(path, img.affine, shape)
    data = _read_data(path, img)
    return _to_ras(path, data, affine)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


def _check_shape(path: str, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) < 3 or sum(n > 1 for n in shape[:3]) < 3:
        raise NeurofusionError(f"image of shape {tuple(shape)} is not a 3D volume", path=path,
                               fix="give a 3D T1w scan, not a single slice")
    extra = shape[3:]
    if int(np.prod(extra, dtype=np.int64)) != 1:
        raise NeurofusionError(f"4D image with {int(np.prod(extra))} volumes {tuple(shape)}", path=path,
                               fix="give a single T1w volume (split or average the series first)")
    return tuple(int(n) for n in shape[:3])


def _check_affine(path: str, affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    affine = np.asarray(affine, dtype=np.float64)
    zooms = voxel_sizes(affine)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise NeurofusionError("header has an invalid (singular or non-finite) sform/qform affine", path=path,
                               fix="fix the header (e.g. nibabel set_sform) or re-export the scan")
    if np.any(zooms < MIN_VOXEL_MM) or np.any(zooms > MAX_VOXEL_MM):
        sizes = "x".join(f"{z:g}" for z in zooms)
        raise NeurofusionError(f"voxel size {sizes} mm is outside {MIN_VOXEL_MM:g}-{MAX_VOXEL_MM:g} mm", path=path,
                               fix="check the header's pixdim/sform, or re-export the scan")
    fov = zooms * np.asarray(shape)
    if np.any(fov < MIN_FIELD_OF_VIEW_MM):
        sizes = "x".join(f"{f:.0f}" for f in fov)
        raise NeurofusionError(f"field of view {sizes} mm is too small for a head scan", path=path,
                               fix="check the header's pixdim/sform, or give a whole-head T1w scan")
    return affine


def _read_data(path: str, img) -> np.ndarray:
    try:
        data = np.asarray(img.dataobj, dtype=np.float32)
    except READ_ERRORS as exc:
        raise NeurofusionError(f"cannot read the voxel data, the file is truncated or corrupt ({_short(exc)})",
                               path=path, fix="re-copy or re-export the scan") from None
    data = data.reshape(data.shape[:3])
    finite = np.isfinite(data)
    if not finite.any():
        raise NeurofusionError("every voxel is NaN or infinite", path=path, fix="re-export the scan")
    if not finite.all():
        data = np.where(finite, data, np.float32(0.0))
    lo, hi = float(data.min()), float(data.max())
    if hi - lo <= 0 or not np.any(data != 0):
        raise NeurofusionError(f"image has no signal (every voxel is {hi:g})", path=path, fix="re-export the scan")
    return data


def _to_ras(path: str, data: np.ndarray, affine: np.ndarray) -> Scan:
    """Flip/permute voxel axes to the closest RAS order; the affine follows (no resampling)."""
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    affine = affine @ nib.orientations.inv_ornt_aff(ornt, data.shape)
    data = nib.orientations.apply_orientation(data, ornt)
    return Scan(path=path, data=np.ascontiguousarray(data, dtype=np.float32), affine=affine)


def save_nifti(path: str | os.PathLike, data: np.ndarray, affine: np.ndarray, dtype=np.float32) -> None:
    """Write a 3D volume with sform = qform = ``affine`` (code 4, template space)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), np.asarray(affine, dtype=np.float64))
    img.set_sform(affine, code=4)
    img.set_qform(affine, code=4)
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path))
