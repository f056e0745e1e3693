"""imaging/registration.py: RAS arrays reach ITK's LPS space with the right geometry."""

import numpy as np
import SimpleITK as sitk

from neurofusion.imaging.registration import (AffineSettings, from_itk, register_affine, resample_to_template,
                                              to_itk)


def _identity_transform(path):
    sitk.WriteTransform(sitk.AffineTransform(3), str(path))
    return str(path)


def _world(affine, shape):
    ijk = np.indices(shape).reshape(3, -1)
    return (affine[:3, :3] @ ijk + affine[:3, 3:4]).reshape(3, *shape)


def test_oblique_image_resamples_to_its_world_coordinates(tmp_path):
    """A volume holding f(x, y, z) = x + 2y - 3z on a rotated, anisotropic grid, resampled with the
    identity transform onto an axis-aligned grid, must hold the same f there (linear f is exact)."""
    angle = np.deg2rad(20)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    src = np.eye(4)
    src[:3, :3] = rot @ np.diag([1.5, 2.0, 2.5])
    src[:3, 3] = [-30.0, -25.0, -40.0]
    shape = (48, 40, 36)
    x, y, z = _world(src, shape)
    moving = to_itk((x + 2 * y - 3 * z).astype(np.float32), src)

    dst = np.diag([2.0, 2.0, 2.0, 1.0])
    dst[:3, 3] = [-10.0, -5.0, -20.0]
    grid = to_itk(np.zeros((10, 12, 14), np.float32), dst)
    out = resample_to_template(moving, grid, _identity_transform(tmp_path / "id.mat"))
    gx, gy, gz = _world(dst, (10, 12, 14))
    np.testing.assert_allclose(out, gx + 2 * gy - 3 * gz, atol=1e-2)


def test_array_round_trip_keeps_axis_order():
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    np.testing.assert_array_equal(from_itk(to_itk(data, np.eye(4))), data)


def _phantom(shape, centre, affine):
    """Piecewise-constant and asymmetric (an ellipsoid with a brighter off-centre box): no smooth
    profile that a scaling could match as well as the true shift."""
    x, y, z = _world(affine, shape) - np.asarray(centre, float)[:, None, None, None]
    body = ((x / 24.0) ** 2 + (y / 30.0) ** 2 + (z / 20.0) ** 2 <= 1.0).astype(np.float32)
    box = (np.abs(x - 8.0) < 6) & (np.abs(y + 6.0) < 9) & (np.abs(z - 3.0) < 5)
    return body + 1.5 * box.astype(np.float32)


def test_affine_recovers_a_known_shift_and_is_reproducible(tmp_path):
    """An asymmetric phantom moved by (6, -4, 3) mm: the fitted transform maps template points
    onto the subject's (template point + shift) and two runs with one seed write the same file."""
    grid = np.diag([2.0, 2.0, 2.0, 1.0])
    grid[:3, 3] = [-40.0, -40.0, -40.0]
    shape = (40, 40, 40)
    shift = np.array([6.0, -4.0, 3.0])
    fixed = to_itk(_phantom(shape, np.zeros(3), grid), grid)
    moving = to_itk(_phantom(shape, shift, grid), grid)
    first, second = tmp_path / "a.mat", tmp_path / "b.mat"
    settings = AffineSettings(shrink=(2, 1), smooth=(1.0, 0.0))  # a 40^3 toy: the default 8 mm level is 5^3
    register_affine(fixed, moving, str(first), settings, seed=3)
    register_affine(fixed, moving, str(second), settings, seed=3)
    assert first.read_bytes() == second.read_bytes()
    tx = sitk.ReadTransform(str(first))
    for point_ras in ([0.0, 0.0, 0.0], [10.0, -5.0, 4.0]):
        lps = np.array(point_ras) * [-1, -1, 1]
        mapped = np.array(tx.TransformPoint(tuple(lps))) * [-1, -1, 1]
        np.testing.assert_allclose(mapped, np.array(point_ras) + shift, atol=0.5)


def test_seed_zero_is_not_the_wall_clock():
    from neurofusion.imaging.registration import itk_seed

    assert itk_seed(0) != 0 and itk_seed(2**31) != 0
    assert itk_seed(20240601) == 20240601
