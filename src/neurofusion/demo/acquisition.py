"""Per-subject acquisition: voxel grid (orientation code, voxel size, field of view),
bias field, noise level and gain.

The grid's axes are the scanner's axes, permuted and flipped by an orientation code:
"PIR" means voxel axis 0 runs towards Posterior, axis 1 towards Inferior, axis 2 towards
Right (a sagittal acquisition). The grid covers the posed head's bounding box plus a
margin, so each scan is a whole head with some neck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import DemoSettings

# scanner direction each axis code points to
DIRECTIONS = {"R": (1, 0, 0), "L": (-1, 0, 0), "A": (0, 1, 0), "P": (0, -1, 0), "S": (0, 0, 1), "I": (0, 0, -1)}


@dataclass(frozen=True)
class NativeGrid:
    orientation: str             # e.g. "LPS"
    voxel_size: tuple[float, float, float]  # mm along voxel axes 0, 1, 2
    shape: tuple[int, int, int]
    affine: np.ndarray           # [4, 4] voxel index -> scanner mm


def orientation_matrix(code: str) -> np.ndarray:
    """[3, 3] whose column n is the scanner direction of voxel axis n."""
    if sorted({"R": "X", "L": "X", "A": "Y", "P": "Y", "S": "Z", "I": "Z"}[c] for c in code) != ["X", "Y", "Z"]:
        raise ValueError(f"orientation code {code!r} does not name each of the three axes once")
    return np.array([DIRECTIONS[c] for c in code], float).T


def random_voxel_size(settings: DemoSettings, rng: np.random.Generator) -> tuple[float, float, float]:
    """In-plane size from the range (0.05 mm steps); sometimes a thicker slice axis (axis 2)."""
    lo, hi = settings.voxel_size_range_mm
    inplane = round(rng.uniform(lo, hi) * 20) / 20
    slice_ = inplane
    if rng.uniform() < settings.anisotropic_fraction:
        slice_ = round(min(hi, inplane + rng.uniform(0.2, 0.6)) * 20) / 20
    return (inplane, inplane, slice_)


def native_grid(code: str, voxel_size, lo_mm: np.ndarray, hi_mm: np.ndarray) -> NativeGrid:
    """The grid with orientation ``code`` and ``voxel_size`` covering scanner box [lo, hi]."""
    directions = orientation_matrix(code)                  # [3, 3]
    affine = np.eye(4)
    affine[:3, :3] = directions * np.asarray(voxel_size)[None, :]
    shape = []
    origin = np.zeros(3)
    for n in range(3):
        axis = int(np.flatnonzero(directions[:, n])[0])  # scanner axis voxel axis n runs along
        extent = hi_mm[axis] - lo_mm[axis]
        shape.append(int(np.ceil(extent / voxel_size[n])) + 1)
        origin[axis] = lo_mm[axis] if directions[axis, n] > 0 else hi_mm[axis]
    affine[:3, 3] = origin
    return NativeGrid(orientation=code, voxel_size=tuple(float(v) for v in voxel_size), shape=tuple(shape), affine=affine)


def posed_bounds(pose: np.ndarray, lo_mm: np.ndarray, hi_mm: np.ndarray, margin_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Scanner-space bounding box of the template box [lo, hi] after ``pose``, plus a margin."""
    corners = np.array([[x, y, z, 1.0] for x in (lo_mm[0], hi_mm[0]) for y in (lo_mm[1], hi_mm[1]) for z in (lo_mm[2], hi_mm[2])])
    world = (pose @ corners.T)[:3]
    return world.min(1) - margin_mm, world.max(1) + margin_mm


@dataclass(frozen=True)
class BiasField:
    """log b(u) = sum over axes (c1 u + c2 u^2) + c_xy u_0 u_1, u in [-1, 1] along each voxel axis."""

    linear: np.ndarray      # [3]
    quadratic: np.ndarray   # [3]
    cross: float

    def evaluate(self, shape: tuple[int, int, int]) -> np.ndarray:
        """[X, Y, Z] float32 multiplicative field."""
        log_b = np.zeros((1, 1, 1), np.float32)
        coords = []
        for n, size in enumerate(shape):
            u = np.linspace(-1, 1, size, dtype=np.float32).reshape([-1 if k == n else 1 for k in range(3)])
            coords.append(u)
            log_b = log_b + np.float32(self.linear[n]) * u + np.float32(self.quadratic[n]) * u * u
        log_b = log_b + np.float32(self.cross) * coords[0] * coords[1]
        return np.exp(log_b).astype(np.float32)

    def to_json(self) -> dict:
        return {"linear": self.linear.round(6).tolist(), "quadratic": self.quadratic.round(6).tolist(), "cross": round(float(self.cross), 6)}


def random_bias(settings: DemoSettings, rng: np.random.Generator) -> BiasField:
    s = settings.bias_strength
    return BiasField(linear=rng.normal(0, s / 2, 3), quadratic=rng.normal(0, s / 2, 3), cross=float(rng.normal(0, s / 2)))
