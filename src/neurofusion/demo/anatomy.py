"""The demo head model: the MNI152 2009a brain wrapped in a synthetic head, in template mm.

nilearn ships the template brain already skull-stripped. Around it we lay shells by
distance d (mm) from the brain surface, and add a neck column under the skull:

      d:  0 ---- 2.5 -- 4 ----- 6.5 -- 8 ------- 12.5 --- 14.5
          | CSF  |table| diploe |table| scalp fat | skin  | air
          (dark) (dark) (grey)  (dark)  (bright)   (grey)

      z (mm)  +82 ┌── brain ──┐             neck: elliptic column below z = -55,
              -72 └─ stem ─┘                muscle inside, fat + skin at its rim,
             -122   ║cord║  ← spinal cord    spinal cord continuing the brainstem
                                             in a dark CSF canal, a vertebral body
                                             in front of it.

Intensities are on the template's scale (white matter ~0.85). The volume is built once
per process on the 1 mm template grid, padded downwards for the neck.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# (outer distance from the brain surface in mm, intensity) for each shell, inside out
SHELLS = ((2.5, 0.10), (4.0, 0.03), (6.5, 0.35), (8.0, 0.03), (12.5, 0.95), (14.5, 0.50))
SKULL_OUTER_MM = SHELLS[3][0]  # outer table of the skull ends here
EDGE_MM = 0.7            # width of the smooth step between shells (partial volume)
PAD_BELOW_MM = 50        # neck below the template's lowest slice (z = -72)
PAD_FRONT_MM = 12        # scalp in front of the frontal pole
NECK_TOP_MM = -55.0
NECK_RADII_MM = (55.0, 52.0)   # x, y half-axes of the neck ellipse
NECK_CENTER_Y_MM = -12.0
CORD_CENTER_MM = (0.0, -45.0)  # continues the brainstem's lowest slice
CORD_RADIUS_MM = 5.0
CANAL_RADIUS_MM = 8.0
VERTEBRA_CENTER_Y_MM = -25.0
VERTEBRA_RADIUS_MM = 9.0
CSF_INTENSITY = 0.10


@dataclass(frozen=True)
class HeadModel:
    intensity: np.ndarray     # [X, Y, Z] float32, template scale (WM ~0.85), air = 0
    brain: np.ndarray         # [X, Y, Z] bool, the template brain
    affine: np.ndarray        # [4, 4] voxel -> template mm (1 mm, axes = RAS)

    @functools.cached_property
    def bounds_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) template mm of the head's bounding box."""
        idx = np.argwhere(self.intensity > 0.01)
        lo = self.affine[:3, :3] @ idx.min(0) + self.affine[:3, 3]
        hi = self.affine[:3, :3] @ idx.max(0) + self.affine[:3, 3]
        return lo, hi


def _smooth_step(x: np.ndarray, edge: float) -> np.ndarray:
    """0 for x < -edge/2, 1 for x > edge/2, a linear ramp between (partial volume)."""
    return np.clip(x / edge + 0.5, 0.0, 1.0)


def _load_template_brain() -> tuple[np.ndarray, np.ndarray]:
    from nilearn.datasets import load_mni152_template

    img = load_mni152_template(resolution=1)
    return np.asarray(img.get_fdata(dtype=np.float32)), img.affine.copy()


def _shell_intensity(dist: np.ndarray) -> np.ndarray:
    """Intensity of the CSF/skull/scalp shells at distance ``dist`` (mm) outside the brain."""
    out = np.zeros(dist.shape, np.float32)
    inner = 0.0
    previous = 0.0
    for outer, value in SHELLS:
        # add the step from the previous layer's value to this one at the inner boundary
        out += (value - previous) * _smooth_step(dist - inner, EDGE_MM)
        previous, inner = value, outer
    out -= previous * _smooth_step(dist - inner, EDGE_MM)
    out[out < 1e-4] = 0.0       # rounding residue of the running sum: air is exactly 0
    return out


def _neck_intensity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Neck column: muscle, rim of fat and skin, cord in a CSF canal, vertebral body."""
    rx, ry = NECK_RADII_MM
    rho = np.sqrt((x / rx) ** 2 + ((y - NECK_CENTER_Y_MM) / ry) ** 2)   # 1 at the skin
    depth = (1.0 - rho) * min(rx, ry)                                   # mm inside the skin
    value = 0.38 * _smooth_step(depth - 8.0, EDGE_MM)                   # muscle
    value += 0.95 * (_smooth_step(depth - 2.0, EDGE_MM) - _smooth_step(depth - 8.0, EDGE_MM))
    value += 0.50 * (_smooth_step(depth, EDGE_MM) - _smooth_step(depth - 2.0, EDGE_MM))
    r_cord = np.hypot(x - CORD_CENTER_MM[0], y - CORD_CENTER_MM[1])
    canal = _smooth_step(CANAL_RADIUS_MM - r_cord, EDGE_MM)
    cord = _smooth_step(CORD_RADIUS_MM - r_cord, EDGE_MM)
    value = value * (1 - canal) + CSF_INTENSITY * canal + (0.55 - CSF_INTENSITY) * cord
    r_vert = np.hypot(x, y - VERTEBRA_CENTER_Y_MM)
    vert = _smooth_step(VERTEBRA_RADIUS_MM - r_vert, EDGE_MM)
    value = value * (1 - vert) + 0.45 * vert
    return value.astype(np.float32)


def _grid_mm(shape: tuple[int, int, int], affine: np.ndarray) -> tuple[np.ndarray, ...]:
    """Broadcastable template-mm coordinates (x [X,1,1], y [1,Y,1], z [1,1,Z]) of an axis-aligned grid."""
    axes = []
    for n in range(3):
        values = affine[n, n] * np.arange(shape[n], dtype=np.float32) + affine[n, 3]
        axes.append(values.reshape([-1 if k == n else 1 for k in range(3)]))
    return tuple(axes)


@functools.lru_cache(maxsize=1)
def build_head_model() -> HeadModel:
    """The template-space head (cached: built once per process, ~3 s)."""
    from scipy import ndimage

    brain_t, affine = _load_template_brain()
    pad = ((0, 0), (0, PAD_FRONT_MM), (PAD_BELOW_MM, 0))
    brain_t = np.pad(brain_t, pad)
    affine = affine.copy()
    affine[2, 3] -= PAD_BELOW_MM * affine[2, 2]
    brain = brain_t > 0.05
    dist = ndimage.distance_transform_edt(~brain).astype(np.float32)   # [X,Y,Z] mm (1 mm voxels)

    x, y, z = _grid_mm(brain.shape, affine)
    shells = _shell_intensity(dist)
    neck = _neck_intensity(x, y)                                        # [X,Y,1]
    below_skull = _smooth_step(NECK_TOP_MM - z, 6.0)                    # [1,1,Z]
    # outside the skull, the neck column takes over from the scalp below NECK_TOP_MM
    neck_share = _smooth_step(dist - SKULL_OUTER_MM, EDGE_MM) * below_skull
    head = shells * (1 - neck_share) + neck * neck_share
    # the spinal canal connects to the brainstem through the skull base
    r_cord = np.hypot(x - CORD_CENTER_MM[0], y - CORD_CENTER_MM[1])
    in_canal = (r_cord < CANAL_RADIUS_MM) & (z < -60.0) & ~brain
    canal_value = np.where(r_cord < CORD_RADIUS_MM, 0.55, CSF_INTENSITY)
    head = np.where(in_canal, canal_value, head)
    head = np.where(brain, brain_t, head).astype(np.float32)
    return HeadModel(intensity=head, brain=brain, affine=affine)


def atrophy_weight(points_mm: np.ndarray, centers_mm, radius_mm: float) -> np.ndarray:
    """Smooth weight in [0, 1]: 1 at a centre, cosine taper to 0 at ``radius_mm``.

    points_mm: [..., 3] template mm -> [...] float32.
    """
    weight = np.zeros(points_mm.shape[:-1], np.float32)
    for c in centers_mm:
        rho = np.sqrt(((points_mm - np.asarray(c, np.float32)) ** 2).sum(-1)) / radius_mm
        weight = np.maximum(weight, 0.5 * (1 + np.cos(np.pi * np.minimum(rho, 1.0))))
    return weight


def apply_atrophy(intensity: np.ndarray, weight: np.ndarray, fraction: float) -> np.ndarray:
    """Replace ``fraction * weight`` of the tissue by CSF (darker on T1)."""
    return intensity - fraction * weight * (intensity - CSF_INTENSITY) * (intensity > CSF_INTENSITY)
