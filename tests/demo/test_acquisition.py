import nibabel as nib
import numpy as np
import pytest

from neurofusion.demo.acquisition import native_grid, orientation_matrix, posed_bounds, random_bias, random_voxel_size
from neurofusion.demo.settings import DemoSettings


@pytest.mark.parametrize("code", ["RAS", "LAS", "LPS", "PIR", "ASL", "LIP"])
def test_grid_has_the_requested_orientation_and_covers_the_box(code):
    lo, hi = np.array([-80.0, -120.0, -100.0]), np.array([80.0, 90.0, 100.0])
    grid = native_grid(code, (1.5, 1.5, 2.0), lo, hi)
    assert nib.aff2axcodes(grid.affine) == tuple(code)
    assert np.allclose(nib.affines.voxel_sizes(grid.affine), (1.5, 1.5, 2.0))
    corners = np.array([[i, j, k, 1] for i in (0, grid.shape[0] - 1) for j in (0, grid.shape[1] - 1) for k in (0, grid.shape[2] - 1)])
    world = (grid.affine @ corners.T)[:3]
    assert np.all(world.min(1) <= lo + 1e-6) and np.all(world.max(1) >= hi - 2.0)


def test_bad_orientation_code_is_refused():
    with pytest.raises(ValueError):
        orientation_matrix("RLS")


def test_voxel_sizes_stay_in_range_and_vary():
    settings = DemoSettings()
    rng = np.random.default_rng(0)
    sizes = [random_voxel_size(settings, rng) for _ in range(50)]
    assert all(settings.voxel_size_range_mm[0] <= v <= settings.voxel_size_range_mm[1] for s in sizes for v in s)
    assert len({s[0] for s in sizes}) > 5
    assert any(s[2] > s[0] for s in sizes)  # anisotropic ones exist


def test_posed_bounds_contain_the_rotated_box():
    pose = np.eye(4)
    pose[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # 90 deg about z swaps x and y extents
    lo, hi = posed_bounds(pose, np.array([-10.0, -20.0, -5.0]), np.array([10.0, 20.0, 5.0]), margin_mm=1.0)
    assert np.allclose(lo, [-21, -11, -6]) and np.allclose(hi, [21, 11, 6])


def test_bias_field_is_smooth_positive_and_bounded():
    field = random_bias(DemoSettings(), np.random.default_rng(4)).evaluate((20, 30, 10))
    assert field.shape == (20, 30, 10) and field.dtype == np.float32
    assert 0.3 < field.min() and field.max() < 3.0
    assert np.abs(np.diff(field, axis=1)).max() < 0.1
