"""The MNI152 2009a symmetric template (shipped by nilearn) on a grid of a given resolution."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import TEMPLATE_SPACE
from ..errors import NeurofusionError

SPACE = TEMPLATE_SPACE
MIN_RESOLUTION_MM = 0.5
MAX_RESOLUTION_MM = 4.0


@dataclass(frozen=True)
class Template:
    """Template brain on an isotropic RAS grid.

    brain: float32 [X, Y, Z], T1w intensities in 0..1 inside the brain mask, 0 outside.
    mask:  bool [X, Y, Z], nilearn's MNI152 brain mask at this resolution.
    affine: float64 [4, 4], voxel -> template mm (RAS).
    """

    resolution: float
    affine: np.ndarray
    brain: np.ndarray
    mask: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.brain.shape)


def check_resolution(resolution: float) -> float:
    resolution = float(resolution)
    if not MIN_RESOLUTION_MM <= resolution <= MAX_RESOLUTION_MM:
        raise NeurofusionError(
            f"template resolution {resolution:g} mm is outside {MIN_RESOLUTION_MM:g}-{MAX_RESOLUTION_MM:g} mm",
            fix="use --resolution 2 (default) or 1",
        )
    if not resolution.is_integer():
        raise NeurofusionError(f"template resolution {resolution:g} mm is not a whole number of mm",
                               fix="nilearn provides the MNI152 template at 1, 2, 3 or 4 mm; use one of those")
    return resolution


def resolution_label(resolution: float) -> str:
    """2.0 -> '2', 1.5 -> '1p5' (the ``res-`` entity of file names, as the workflow writes it)."""
    return f"{float(resolution):g}".replace(".", "p")


def template_paths(directory: str | os.PathLike, resolution: float) -> tuple[Path, Path]:
    """(brain, mask) NIfTI paths of the template at ``resolution`` inside ``directory``."""
    stem = Path(directory) / f"tpl-{SPACE}_res-{resolution_label(resolution)}"
    return Path(f"{stem}_desc-brain_T1w.nii.gz"), Path(f"{stem}_desc-brain_mask.nii.gz")


def write_template(directory: str | os.PathLike, resolution: float) -> tuple[Path, Path]:
    """Write nilearn's template brain (float32) and mask (uint8) at ``resolution`` as NIfTI.

    Each preprocessing job then reads two small files instead of importing nilearn and
    resampling its 1 mm template (~1.1 s of a ~8 s job at 2 mm); the arrays read back are
    identical to :func:`load_template`'s.
    """
    from ..io import all_or_nothing
    from .nifti import save_nifti

    tpl = load_template(resolution)
    brain, mask = template_paths(directory, resolution)
    with all_or_nothing(brain, mask) as (tmp_brain, tmp_mask):
        save_nifti(tmp_brain, tpl.brain, tpl.affine, np.float32)
        save_nifti(tmp_mask, tpl.mask, tpl.affine, np.uint8)
    return brain, mask


def load_template(resolution: float = 2.0, directory: str | os.PathLike | None = None) -> Template:
    """The template brain and mask at ``resolution`` mm.

    From ``directory`` (files written by :func:`write_template`; read afresh each call, ~20 ms)
    when given, else from nilearn, which resamples its packaged 1 mm template (nothing is
    downloaded; cached per process).
    """
    resolution = check_resolution(resolution)
    if directory is not None:
        return _read_template(directory, resolution)
    return _nilearn_template(resolution)


@functools.lru_cache(maxsize=4)
def _nilearn_template(resolution: float) -> Template:
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_template

    res_arg = int(resolution)  # check_resolution allows whole mm only, as nilearn does
    t1 = load_mni152_template(resolution=res_arg)
    mask_img = load_mni152_brain_mask(resolution=res_arg)
    mask = np.asarray(mask_img.get_fdata(), dtype=np.float32) > 0.5
    brain = np.asarray(t1.get_fdata(), dtype=np.float32)
    brain = np.where(mask, np.clip(brain, 0.0, None), 0.0).astype(np.float32)
    affine = np.asarray(t1.affine, dtype=np.float64)
    for a in (brain, mask, affine):
        a.setflags(write=False)
    return Template(resolution=resolution, affine=affine, brain=brain, mask=mask)


def _read_template(directory: str | os.PathLike, resolution: float) -> Template:
    import nibabel as nib

    brain_path, mask_path = template_paths(directory, resolution)
    fix = f"run `neurofusion template --resolution {resolution:g} --out-dir {directory}` to write it"
    images = []
    for path in (brain_path, mask_path):
        if not path.is_file():
            raise NeurofusionError("template file is missing", path=str(path), fix=fix)
        try:
            images.append(nib.load(str(path)))
        except Exception as exc:  # nibabel raises several types for damaged files
            raise NeurofusionError(f"template file is not a readable NIfTI ({exc})", path=str(path), fix=fix) from exc
    brain_img, mask_img = images
    affine = np.asarray(brain_img.affine, dtype=np.float64)
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    if (brain_img.shape != mask_img.shape or not np.allclose(mask_img.affine, affine)
            or not np.allclose(spacing, resolution, atol=1e-4)):
        raise NeurofusionError(f"template brain and mask do not form a {resolution:g} mm template "
                               f"(shapes {brain_img.shape} / {mask_img.shape}, voxel {np.round(spacing, 4).tolist()} mm)",
                               path=str(brain_path), fix=fix)
    brain = np.asarray(brain_img.dataobj, dtype=np.float32)
    mask = np.asarray(mask_img.dataobj) > 0
    for a in (brain, mask, affine):
        a.setflags(write=False)
    return Template(resolution=resolution, affine=affine, brain=brain, mask=mask)
