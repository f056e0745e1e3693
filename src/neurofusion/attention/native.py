"""A template-space map brought back onto a subject's own scan.

Preprocessing writes ``xfm.mat`` (ITK affine, imaging/registration.py) mapping template
points to subject points, the direction that resampling the subject onto the template
needs. Resampling a template map onto the subject's grid needs the other direction:

    native voxel --affine--> scanner mm --xfm⁻¹--> template mm --> template map value

The native grid is the scan as neurofusion reads it (nifti.load_scan: the closest RAS
voxel order of the same physical space), so the map overlays the scan in any viewer.
"""

from __future__ import annotations

import numpy as np

from ..errors import NeurofusionError

INTERPOLATORS = ("linear", "nearest")


def to_native(volume: np.ndarray, template_affine: np.ndarray, scan_shape, scan_affine: np.ndarray,
              transform_path, interpolation: str = "linear") -> np.ndarray:
    """float32 [X, Y, Z] on the scan grid; points outside the template grid get 0."""
    import SimpleITK as sitk

    from ..imaging.registration import from_itk, to_itk

    if interpolation not in INTERPOLATORS:
        raise NeurofusionError(f"interpolation {interpolation!r} is unknown", fix=f"use {' or '.join(INTERPOLATORS)}")
    try:
        forward = sitk.ReadTransform(str(transform_path))
    except RuntimeError as exc:
        raise NeurofusionError(f"not a readable ITK transform ({str(exc).strip().splitlines()[-1][:100]})",
                               path=transform_path, fix="rerun the preprocess step of this subject")
    try:
        inverse = forward.GetInverse()
    except RuntimeError:
        raise NeurofusionError("the transform cannot be inverted", path=transform_path,
                               fix="check the registration QC of this subject and rerun preprocess")
    moving = to_itk(np.asarray(volume, np.float32), np.asarray(template_affine, np.float64))
    reference = to_itk(np.zeros(tuple(int(n) for n in scan_shape), np.float32), np.asarray(scan_affine, np.float64))
    kind = sitk.sitkLinear if interpolation == "linear" else sitk.sitkNearestNeighbor
    out = sitk.Resample(moving, reference, inverse, kind, 0.0, sitk.sitkFloat32)
    return from_itk(out).astype(np.float32)


def native_image(volume: np.ndarray, scan_affine: np.ndarray, description: str = ""):
    """A NIfTI image on the scan's grid (scanner space, NIfTI code 1)."""
    import nibabel as nib

    affine = np.asarray(scan_affine, np.float64)
    image = nib.Nifti1Image(np.asarray(volume, np.float32), affine)
    image.set_sform(affine, code=1)
    image.set_qform(affine, code=1)
    image.header["descrip"] = description[:79].encode()
    image.header.set_xyzt_units("mm")
    return image
