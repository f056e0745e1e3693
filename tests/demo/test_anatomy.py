import numpy as np
import pytest

from neurofusion.demo.anatomy import CSF_INTENSITY, apply_atrophy, atrophy_weight, build_head_model


@pytest.fixture(scope="module")
def head():
    return build_head_model()


def _value(head, mm):
    idx = np.rint(np.linalg.inv(head.affine) @ [*mm, 1])[:3].astype(int)
    return head.intensity[tuple(idx)]


def test_head_wraps_the_brain_in_dark_skull_and_bright_scalp(head):
    assert head.intensity.shape == head.brain.shape
    assert np.all(head.intensity[head.brain] > 0.05)
    # walk outwards from the vertex along +z: brain, dark CSF/skull, bright fat, then air
    top = max(z for z in range(60, 110) if head.brain[tuple(np.rint(np.linalg.inv(head.affine) @ [0, -20, z, 1])[:3].astype(int))])
    assert _value(head, (0, -20, top + 3.5)) < 0.1        # inner table of the skull
    assert _value(head, (0, -20, top + 10)) > 0.8         # scalp fat
    assert _value(head, (0, -20, top + 20)) == 0.0        # air
    lo, hi = head.bounds_mm
    assert lo[2] < -100 and hi[2] > 85                    # neck below, vertex above


def test_neck_has_a_spinal_cord_in_a_dark_canal(head):
    assert _value(head, (0, -45, -100)) > 0.4             # cord
    assert _value(head, (0, -45 + 6.5, -100)) < 0.2       # CSF around it
    assert _value(head, (0, 20, -100)) > 0.3              # muscle in front


def test_atrophy_weight_tapers_from_centre_to_radius():
    centers = [(-26.0, -22.0, -14.0), (26.0, -22.0, -14.0)]
    points = np.array([[-26, -22, -14], [26, -22, -14], [-26, -22 + 6.5, -14], [-26, -22 + 13, -14], [0, 0, 0]], np.float32)
    w = atrophy_weight(points, centers, 13.0)
    assert np.allclose(w, [1, 1, 0.5, 0, 0], atol=1e-6)


def test_apply_atrophy_moves_tissue_towards_csf_and_leaves_csf_alone():
    tissue = np.array([0.8, 0.6, CSF_INTENSITY, 0.0], np.float32)
    out = apply_atrophy(tissue, np.ones(4, np.float32), 0.5)
    assert np.allclose(out, [0.45, 0.35, CSF_INTENSITY, 0.0])
