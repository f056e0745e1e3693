"""Affine registration of an extracted brain to the template brain with ANTs, and resampling.

Coordinates: our arrays are RAS voxel grids with RAS+ mm affines; ANTs works in LPS mm, so
the conversion flips the first two axes of origin and direction.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

LPS = np.diag([-1.0, -1.0, 1.0])
SEED = 20240601
# ITK sums the metric over threads in a varying order, so a fit is reproducible only on one ITK
# thread; ITK reads this variable once, before its first use (the CLI sets it to 1).
ITK_THREADS_VAR = "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"


@dataclass(frozen=True)
class AffineSettings:
    """Multi-resolution affine (ANTs 'Affine' stage, Mattes MI); initialised by aligning centres of mass.

    Levels run on the fixed (template, 2 mm) grid shrunk by ``shrink`` (8 mm, 4 mm) with Gaussian
    ``smooth`` (voxels). Measured on synthetic heads (1 thread): 1.4 s CPU, Dice 0.970 with the
    template mask; adding a 2 mm level gained 0.001 Dice for 1.7-5x the time.
    """

    iterations: tuple[int, ...] = (500, 250)
    shrink: tuple[int, ...] = (4, 2)
    smooth: tuple[float, ...] = (2.0, 1.0)
    metric: str = "mattes"
    sampling_rate: float = 0.25


def to_ants(data: np.ndarray, affine: np.ndarray):
    """float32 [X, Y, Z] on a RAS+ affine -> ANTsImage (LPS physical space)."""
    import ants

    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    direction = LPS @ affine[:3, :3] / spacing
    origin = LPS @ affine[:3, 3]
    return ants.from_numpy(np.ascontiguousarray(data, dtype=np.float32), origin=tuple(origin),
                           spacing=tuple(spacing), direction=direction)


def register_affine(fixed, moving, transform_out: str, settings: AffineSettings = AffineSettings(),
                    seed: int = SEED) -> None:
    """Register ``moving`` (brain) to ``fixed`` (template brain); write the forward .mat to ``transform_out``.

    The forward transform maps template points to subject points, as ANTs'
    ``apply_transforms(fixed=template, moving=subject, transformlist=[mat])`` expects.
    """
    import ants

    os.environ["ANTS_RANDOM_SEED"] = str(seed)
    ants.config._random_seed = seed  # ANTsPy passes --random-seed only through this setting
    with tempfile.TemporaryDirectory(prefix="nf-reg-") as tmp:
        result = ants.registration(
            fixed=fixed, moving=moving, type_of_transform="Affine", outprefix=os.path.join(tmp, "reg_"),
            aff_metric=settings.metric, aff_sampling=32, aff_random_sampling_rate=settings.sampling_rate,
            aff_iterations=settings.iterations, aff_shrink_factors=settings.shrink,
            aff_smoothing_sigmas=settings.smooth,
        )
        mats = [t for t in result["fwdtransforms"] if t.endswith(".mat")]
        shutil.copyfile(mats[0], transform_out)


def resample_to_template(image, template_grid, transform: str, interpolator: str = "linear") -> np.ndarray:
    """Subject ANTsImage -> float32 array on ``template_grid`` (an ANTsImage) through ``transform``."""
    import ants

    out = ants.apply_transforms(fixed=template_grid, moving=image, transformlist=[transform],
                                interpolator=interpolator, defaultvalue=0)
    return out.numpy().astype(np.float32)
