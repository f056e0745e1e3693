"""A synthetic whole-head T1w scan built around the template brain, for tests and benchmarks.

Tissue shells are laid out by distance from the template brain mask (mm):

      air   scalp(fat)  skull  CSF   brain
    ......|###########|      |::::|@@@@@@@@
         d=14        d=9   d=3   d=0
plus an elliptic neck below the brain, a smooth bias field and Gaussian noise; the head
is then moved by a rigid transform and stored with the requested voxel size and axis order.
"""

from __future__ import annotations

import numpy as np

from .template import load_template

CSF_MM, SKULL_MM, SCALP_MM = 3.0, 9.0, 14.0
PAD_MM = (20.0, 20.0, 20.0)  # margin around the template box (x, y, top)
NECK_MM = 90.0  # extra field of view below the template box


def _rotation(degrees: tuple[float, float, float]) -> np.ndarray:
    ax, ay, az = np.deg2rad(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def head_in_template_space(resolution: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(head float32 [X, Y, Z] in 0..~1, affine) on a padded template grid at ``resolution`` mm."""
    from scipy import ndimage

    tpl = load_template(resolution)
    r = tpl.resolution
    px, py, pz = (int(round(p / r)) for p in PAD_MM)
    pneck = int(round(NECK_MM / r))
    pad = ((px, px), (py, py), (pneck, pz))
    brain = np.pad(tpl.brain, pad)
    mask = np.pad(tpl.mask, pad)
    affine = tpl.affine.copy()
    affine[:3, 3] -= r * np.array([px, py, pneck])

    dist = ndimage.distance_transform_edt(~mask, sampling=r).astype(np.float32)
    head = np.zeros(brain.shape, np.float32)
    head[(dist > 0) & (dist <= CSF_MM)] = 0.12
    head[(dist > CSF_MM) & (dist <= SKULL_MM)] = 0.04
    head[(dist > SKULL_MM) & (dist <= SCALP_MM)] = 0.85
    head[mask] = 0.15 + 0.85 * brain[mask]

    ijk = np.indices(brain.shape, dtype=np.float32)
    xyz = [affine[a, a] * ijk[a] + affine[a, 3] for a in range(3)]
    brain_bottom = tpl.affine[2, 3] + r * np.argmax(tpl.mask.any(axis=(0, 1)))
    neck = ((xyz[0] / 48.0) ** 2 + ((xyz[1] + 25.0) / 55.0) ** 2 <= 1.0) & (xyz[2] < brain_bottom + 20.0)
    rim = ((xyz[0] / 43.0) ** 2 + ((xyz[1] + 25.0) / 50.0) ** 2 > 1.0) & neck
    head[neck & (head == 0)] = 0.45
    head[rim & (dist > SCALP_MM)] = 0.85

    rng = np.random.default_rng(seed)
    gradient = rng.normal(size=3)
    gradient /= np.linalg.norm(gradient)
    bias = 1.0 + 0.2 * sum(g * x for g, x in zip(gradient, xyz)) / 100.0
    head *= bias.astype(np.float32)
    head += rng.normal(0.0, 0.015, size=head.shape).astype(np.float32)
    return np.clip(head, 0.0, None), affine


def synthetic_head(resolution: float = 2.0, voxel_mm=(2.0, 2.0, 2.0), rotation_deg=(0.0, 0.0, 0.0),
                   translation_mm=(0.0, 0.0, 0.0), axcodes: str = "RAS", seed: int = 0):
    """A whole-head int16 NIfTI in "scanner" space: a rigidly moved phantom, stored with ``axcodes``.

    The scanner -> template mapping is x_template = R @ x_scanner + t, so registration should
    recover R and t.
    """
    import nibabel as nib
    from scipy import ndimage

    head, head_affine = head_in_template_space(resolution, seed)
    rot = _rotation(rotation_deg)
    shift = np.asarray(translation_mm, dtype=np.float64)
    voxel = np.asarray(voxel_mm, dtype=np.float64)
    extent = np.asarray(head.shape) * np.diag(head_affine)[:3]
    shape = tuple(int(np.ceil(e / v)) for e, v in zip(extent, voxel))
    centre = head_affine[:3, :3] @ (np.asarray(head.shape) - 1) / 2 + head_affine[:3, 3]
    native = np.eye(4)
    native[:3, :3] = np.diag(voxel)
    native[:3, 3] = centre - voxel * (np.asarray(shape) - 1) / 2
    # native voxel -> scanner mm -> template mm -> phantom voxel
    scanner_to_template = np.eye(4)
    scanner_to_template[:3, :3] = rot
    scanner_to_template[:3, 3] = shift
    vox_map = np.linalg.inv(head_affine) @ scanner_to_template @ native
    data = ndimage.affine_transform(head, vox_map[:3, :3], vox_map[:3, 3], output_shape=shape, order=1)
    scaled = np.round(np.clip(data, 0.0, None) * 1000.0).astype(np.int16)
    img = nib.Nifti1Image(scaled, native)
    img.set_qform(native, code=1)
    img.set_sform(native, code=1)
    target = nib.orientations.axcodes2ornt(tuple(axcodes))
    img = img.as_reoriented(nib.orientations.ornt_transform(nib.orientations.axcodes2ornt(("R", "A", "S")), target))
    return img
