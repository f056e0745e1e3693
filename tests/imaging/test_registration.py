"""imaging/registration.py: RAS arrays reach ANTs' LPS space with the right geometry."""

import numpy as np

from neurofusion.imaging.registration import resample_to_template, to_ants


def _identity_transform(path):
    import ants

    tx = ants.create_ants_transform(transform_type="AffineTransform", dimension=3)
    ants.write_transform(tx, str(path))
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
    moving = to_ants((x + 2 * y - 3 * z).astype(np.float32), src)

    dst = np.diag([2.0, 2.0, 2.0, 1.0])
    dst[:3, 3] = [-10.0, -5.0, -20.0]
    grid = to_ants(np.zeros((10, 12, 14), np.float32), dst)
    out = resample_to_template(moving, grid, _identity_transform(tmp_path / "id.mat"))
    gx, gy, gz = _world(dst, (10, 12, 14))
    np.testing.assert_allclose(out, gx + 2 * gy - 3 * gz, atol=1e-2)
