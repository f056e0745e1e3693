"""Per-subject geometry: head pose (a random affine) and a smooth random warp.

A subject's head sits in scanner space as ``world = pose @ template`` (rotation up to
``max_rotation_deg`` about a random axis, per-axis scale, translation). On top of that a
smooth warp ``q -> q + u(q)`` changes the head's shape: ``u`` is a sum of a few plane
waves with random direction, wavelength and phase, so it is smooth everywhere and its
Jacobian stays well away from zero (invertible).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import DemoSettings

N_WAVES = 4


def rotation_matrix(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """[3, 3] rotation about unit ``axis`` by ``angle_rad`` (Rodrigues)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


def random_pose(settings: DemoSettings, rng: np.random.Generator) -> np.ndarray:
    """[4, 4] template mm -> scanner mm: translation @ rotation @ scale."""
    axis = rng.standard_normal(3)
    angle = np.deg2rad(rng.uniform(0.0, settings.max_rotation_deg))
    lo, hi = settings.scale_range
    overall = rng.uniform(lo + 0.02, hi - 0.02)
    scale = np.clip(overall * (1 + rng.uniform(-0.02, 0.02, 3)), lo, hi)
    pose = np.eye(4)
    pose[:3, :3] = rotation_matrix(axis, angle) @ np.diag(scale)
    pose[:3, 3] = rng.uniform(-settings.max_translation_mm, settings.max_translation_mm, 3)
    return pose


@dataclass(frozen=True)
class SmoothWarp:
    """u(q) = sum_k amplitude_k * sin(wavevector_k . q + phase_k), in template mm."""

    amplitudes: np.ndarray    # [K, 3] mm
    wavevectors: np.ndarray   # [K, 3] rad / mm
    phases: np.ndarray        # [K]

    def displace(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Warped coordinates (x + u_x, y + u_y, z + u_z); inputs are same-shape float32 arrays."""
        ux, uy, uz = np.zeros_like(x), np.zeros_like(y), np.zeros_like(z)
        for a, w, phi in zip(self.amplitudes.astype(np.float32), self.wavevectors.astype(np.float32), self.phases):
            s = np.sin(w[0] * x + w[1] * y + w[2] * z + np.float32(phi))
            ux += a[0] * s
            uy += a[1] * s
            uz += a[2] * s
        return x + ux, y + uy, z + uz

    @property
    def max_displacement_mm(self) -> float:
        return float(np.linalg.norm(self.amplitudes, axis=1).sum())

    def to_json(self) -> dict:
        return {"amplitudes_mm": self.amplitudes.round(6).tolist(),
                "wavevectors_rad_per_mm": self.wavevectors.round(8).tolist(),
                "phases_rad": self.phases.round(6).tolist()}


def random_warp(settings: DemoSettings, rng: np.random.Generator) -> SmoothWarp:
    """K plane waves whose summed RMS displacement is ``settings.deformation_mm``."""
    directions = rng.standard_normal((N_WAVES, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    wavelength = rng.uniform(*settings.deformation_wavelength_mm, N_WAVES)
    amplitudes = rng.standard_normal((N_WAVES, 3))
    amplitudes *= settings.deformation_mm * np.sqrt(2.0 / N_WAVES) / np.linalg.norm(amplitudes, axis=1, keepdims=True)
    return SmoothWarp(
        amplitudes=amplitudes,
        wavevectors=directions * (2 * np.pi / wavelength)[:, None],
        phases=rng.uniform(0, 2 * np.pi, N_WAVES),
    )
