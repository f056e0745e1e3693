import gzip
import io

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from neurofusion.demo.anatomy import build_head_model
from neurofusion.demo.scans import nifti_gz_bytes, plan_scan, render_scan
from neurofusion.demo.settings import DemoSettings


@pytest.fixture(scope="module")
def head():
    return build_head_model()


@pytest.fixture
def settings():
    return DemoSettings()


def _ball(center, radius, step=2.0):
    g = np.arange(-radius, radius + step, step)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    return pts[np.linalg.norm(pts, axis=1) <= radius] + np.asarray(center)


def _mean_at_template_points(data, native_to_template, points_mm):
    to_native = np.linalg.inv(native_to_template)
    idx = (to_native @ np.c_[points_mm, np.ones(len(points_mm))].T)[:3]
    return ndimage.map_coordinates(data.astype(np.float32), idx, order=1).mean()


def test_planted_region_is_darker_after_mapping_back_to_template(head, settings):
    """Same subject (same random stream), with and without atrophy."""
    healthy_plan = plan_scan(0.0, head.bounds_mm, settings, np.random.default_rng(11))
    sick_plan = plan_scan(2.0, head.bounds_mm, settings, np.random.default_rng(11))
    assert healthy_plan.atrophy_fraction == 0 and sick_plan.atrophy_fraction == pytest.approx(min(2.0 * settings.atrophy_per_severity, settings.atrophy_max))
    healthy = render_scan(healthy_plan, head, settings, np.random.default_rng(12))
    sick = render_scan(sick_plan, head, settings, np.random.default_rng(12))
    m = sick_plan.native_to_template
    region = np.concatenate([_ball(c, 7.0) for c in settings.atrophy_centers_mm])
    control = np.concatenate([_ball((c[0], c[1], c[2] + 35), 7.0) for c in settings.atrophy_centers_mm])
    assert _mean_at_template_points(sick, m, region) < 0.8 * _mean_at_template_points(healthy, m, region)
    assert _mean_at_template_points(sick, m, control) == pytest.approx(_mean_at_template_points(healthy, m, control), rel=1e-6)


def test_rendered_scan_is_int16_with_head_signal_and_noisy_background(head, settings):
    plan = plan_scan(0.5, head.bounds_mm, settings, np.random.default_rng(3))
    data = render_scan(plan, head, settings, np.random.default_rng(4))
    assert data.dtype == np.int16 and data.shape == plan.grid.shape
    assert data.min() >= 0
    corner = data[:5, :5, :5].astype(float)
    assert 0 < corner.mean() < 0.1 * plan.gain              # Rician floor of the air
    brain_centre = _mean_at_template_points(data, plan.native_to_template, _ball((0, -20, 30), 6))
    assert 0.4 * plan.gain < brain_centre < 1.6 * plan.gain


def test_nifti_bytes_have_matching_sform_qform_and_are_reproducible(head, settings):
    plan = plan_scan(0.0, head.bounds_mm, settings, np.random.default_rng(5))
    data = np.zeros((4, 5, 6), np.int16)
    data[1, 2, 3] = 1234
    blob = nifti_gz_bytes(data, plan.grid.affine)
    assert blob == nifti_gz_bytes(data, plan.grid.affine)
    assert blob[4:8] == b"\x00\x00\x00\x00"                  # gzip mtime 0
    img = nib.Nifti1Image.from_bytes(gzip.decompress(blob))
    sform, scode = img.get_sform(coded=True)
    qform, qcode = img.get_qform(coded=True)
    assert scode == qcode == 1 and np.allclose(sform, qform, atol=1e-4) and np.allclose(sform, plan.grid.affine, atol=1e-4)
    assert img.get_data_dtype() == np.int16
    assert np.array_equal(np.asarray(img.dataobj), data)
    assert io.BytesIO(blob).read(2) == b"\x1f\x8b"
