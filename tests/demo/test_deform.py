import numpy as np
import pytest

from neurofusion.demo.deform import random_pose, random_warp, rotation_matrix
from neurofusion.demo.settings import DemoSettings


def test_rotation_matrix_is_a_proper_rotation():
    r = rotation_matrix(np.array([1.0, 2.0, 3.0]), np.deg2rad(30))
    assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)
    assert np.degrees(np.arccos((np.trace(r) - 1) / 2)) == pytest.approx(30.0)


def test_pose_rotation_scale_and_translation_within_settings():
    settings = DemoSettings()
    rng = np.random.default_rng(0)
    for _ in range(20):
        pose = random_pose(settings, rng)
        scales = np.linalg.norm(pose[:3, :3], axis=0)
        rotation = pose[:3, :3] / scales
        angle = np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
        assert angle <= settings.max_rotation_deg + 1e-6
        assert np.all((scales >= 0.9 - 1e-9) & (scales <= 1.1 + 1e-9))
        assert np.all(np.abs(pose[:3, 3]) <= settings.max_translation_mm)


def test_warp_is_small_and_invertible():
    settings = DemoSettings()
    warp = random_warp(settings, np.random.default_rng(1))
    g = np.linspace(-90, 90, 25, dtype=np.float32)
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    wx, wy, wz = warp.displace(x, y, z)
    shift = np.sqrt((wx - x) ** 2 + (wy - y) ** 2 + (wz - z) ** 2)
    assert 0.2 < shift.mean() and shift.max() <= warp.max_displacement_mm + 1e-3
    # Jacobian determinant of q -> q + u(q) by finite differences stays near 1
    step = float(g[1] - g[0])
    jac = np.stack([np.stack(np.gradient(w, step), -1) for w in (wx, wy, wz)], -2)  # [..., 3, 3]
    det = np.linalg.det(jac)
    assert det.min() > 0.5 and det.max() < 1.5
