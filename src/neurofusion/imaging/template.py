"""The MNI152 2009a symmetric template (shipped by nilearn) on a grid of a given resolution."""

from __future__ import annotations

import functools
from dataclasses import dataclass

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
    return resolution


@functools.lru_cache(maxsize=4)
def load_template(resolution: float = 2.0) -> Template:
    """The template brain and mask at ``resolution`` mm (nilearn resamples; nothing is downloaded)."""
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_template

    resolution = check_resolution(resolution)
    res_arg = int(resolution) if float(resolution).is_integer() else resolution
    t1 = load_mni152_template(resolution=res_arg)
    mask_img = load_mni152_brain_mask(resolution=res_arg)
    mask = np.asarray(mask_img.get_fdata(), dtype=np.float32) > 0.5
    brain = np.asarray(t1.get_fdata(), dtype=np.float32)
    brain = np.where(mask, np.clip(brain, 0.0, None), 0.0).astype(np.float32)
    affine = np.asarray(t1.affine, dtype=np.float64)
    for a in (brain, mask, affine):
        a.setflags(write=False)
    return Template(resolution=resolution, affine=affine, brain=brain, mask=mask)
