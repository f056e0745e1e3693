"""Render one subject's whole-head T1w scan in native space, and encode it as NIfTI.

For every native voxel index i (all arrays [X, Y, Z] of the native grid):

    template mm  q = pose^-1 @ grid.affine @ i          (native -> template affine)
    warped       q' = q + u(q)                          (smooth subject warp)
    signal       s = head(q') * atrophy(q') * gain * bias(i)   (trilinear in the head model)
    stored       |s + n1 + i n2|, n ~ N(0, sigma)       (Rician noise), rounded to int16
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import numpy as np

from .acquisition import BiasField, NativeGrid, native_grid, posed_bounds, random_bias, random_voxel_size
from .anatomy import HeadModel, apply_atrophy, atrophy_weight
from .deform import SmoothWarp, random_pose, random_warp
from .settings import DemoSettings

WHITE_MATTER = 0.85   # template-scale intensity the gain refers to


@dataclass(frozen=True)
class ScanPlan:
    """Everything random about one subject's scan, drawn before any voxel is computed."""

    pose: np.ndarray          # [4, 4] template mm -> scanner mm
    warp: SmoothWarp
    grid: NativeGrid
    bias: BiasField
    gain: float               # int16 value of white matter
    noise_sigma: float        # Rician sigma as a fraction of white matter
    atrophy_fraction: float   # share of tissue replaced by CSF at the region centres

    @property
    def native_to_template(self) -> np.ndarray:
        """[4, 4] native voxel index -> template mm (without the small smooth warp)."""
        return np.linalg.inv(self.pose) @ self.grid.affine

    def to_json(self) -> dict:
        return {
            "orientation": self.grid.orientation,
            "voxel_size_mm": list(self.grid.voxel_size),
            "shape": list(self.grid.shape),
            "native_affine": self.grid.affine.round(6).tolist(),
            "native_to_template": self.native_to_template.round(6).tolist(),
            "template_to_scanner": self.pose.round(6).tolist(),
            "warp": self.warp.to_json(),
            "warp_max_displacement_mm": round(self.warp.max_displacement_mm, 3),
            "bias": self.bias.to_json(),
            "gain": round(self.gain, 3),
            "noise_sigma": round(self.noise_sigma, 5),
            "atrophy_fraction": round(self.atrophy_fraction, 5),
        }


def atrophy_fraction(mri_severity: float, settings: DemoSettings) -> float:
    """Monotone in the severity: 0 for severity <= 0, capped at ``atrophy_max``."""
    return float(min(settings.atrophy_max, settings.atrophy_per_severity * max(mri_severity, 0.0)))


def plan_scan(mri_severity: float, head_bounds, settings: DemoSettings, rng: np.random.Generator) -> ScanPlan:
    pose = random_pose(settings, rng)
    warp = random_warp(settings, rng)
    code = str(rng.choice(list(settings.orientations)))
    voxel_size = random_voxel_size(settings, rng)
    head_lo, head_hi = head_bounds
    head_lo = np.array([head_lo[0], head_lo[1], max(head_lo[2], settings.fov_lowest_z_mm)])
    lo, hi = posed_bounds(pose, head_lo, head_hi, settings.fov_margin_mm)
    return ScanPlan(
        pose=pose,
        warp=warp,
        grid=native_grid(code, voxel_size, lo, hi),
        bias=random_bias(settings, rng),
        gain=float(rng.uniform(*settings.gain_range)),
        noise_sigma=float(rng.uniform(*settings.noise_range)),
        atrophy_fraction=atrophy_fraction(mri_severity, settings),
    )


def _template_coordinates(plan: ScanPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Template mm (x, y, z), each [X, Y, Z] float32, of every native voxel, before the warp."""
    m = plan.native_to_template.astype(np.float32)
    idx = [np.arange(n, dtype=np.float32).reshape([-1 if k == a else 1 for k in range(3)]) for a, n in enumerate(plan.grid.shape)]
    return tuple(m[c, 0] * idx[0] + m[c, 1] * idx[1] + m[c, 2] * idx[2] + m[c, 3] for c in range(3))


def _region_blocks(plan: ScanPlan, settings: DemoSettings) -> list[tuple[slice, slice, slice]]:
    """Native voxel boxes that contain each atrophy sphere (widened by the warp's reach)."""
    to_native = np.linalg.inv(plan.native_to_template)
    reach = settings.atrophy_radius_mm + plan.warp.max_displacement_mm + 2.0
    blocks = []
    for c in settings.atrophy_centers_mm:
        corners = np.array([[c[0] + dx, c[1] + dy, c[2] + dz, 1.0] for dx in (-reach, reach) for dy in (-reach, reach) for dz in (-reach, reach)])
        idx = (to_native @ corners.T)[:3]
        lo = np.clip(np.floor(idx.min(1)).astype(int), 0, plan.grid.shape)
        hi = np.clip(np.ceil(idx.max(1)).astype(int) + 1, 0, plan.grid.shape)
        blocks.append(tuple(slice(a, b) for a, b in zip(lo, hi)))
    return blocks


def render_scan(plan: ScanPlan, head: HeadModel, settings: DemoSettings, rng: np.random.Generator) -> np.ndarray:
    """The native-space scan, [X, Y, Z] int16 (noise drawn from ``rng``)."""
    from scipy import ndimage

    x, y, z = plan.warp.displace(*_template_coordinates(plan))
    inv = np.linalg.inv(head.affine).astype(np.float32)           # template mm -> head voxel (diagonal)
    coords = np.stack([inv[n, n] * (x, y, z)[n] + inv[n, 3] for n in range(3)])  # [3, X, Y, Z]
    signal = ndimage.map_coordinates(head.intensity, coords, order=1, mode="constant", cval=0.0, output=np.float32)
    del coords
    if plan.atrophy_fraction > 0:
        # one box per sphere; the spheres never overlap, the boxes may, so each box
        # applies only its own sphere
        for center, block in zip(settings.atrophy_centers_mm, _region_blocks(plan, settings)):
            points = np.stack([x[block], y[block], z[block]], -1)   # [x, y, z, 3] template mm
            weight = atrophy_weight(points, [center], settings.atrophy_radius_mm)
            signal[block] = apply_atrophy(signal[block], weight, plan.atrophy_fraction)
    signal *= np.float32(plan.gain / WHITE_MATTER)
    signal *= plan.bias.evaluate(plan.grid.shape)
    sigma = np.float32(plan.noise_sigma * plan.gain)
    real = signal + sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    imag = sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude = np.sqrt(real * real + imag * imag)
    return np.clip(np.rint(magnitude), 0, np.iinfo(np.int16).max).astype(np.int16)


def nifti_gz_bytes(data: np.ndarray, affine: np.ndarray) -> bytes:
    """A .nii.gz with sform == qform (code 1, scanner), int16, no scaling; gzip mtime 0.

    Written through bytes (not a file name), so the gzip header holds no name or time
    and the same data always give the same bytes.
    """
    import nibabel as nib

    img = nib.Nifti1Image(data, affine)
    img.header.set_data_dtype(np.int16)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header["descrip"] = b"neurofusion demo T1w"
    return gzip.compress(img.to_bytes(), compresslevel=1, mtime=0)
