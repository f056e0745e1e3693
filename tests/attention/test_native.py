"""A template-space map brought back onto a posed phantom lands where the pose puts it."""

import nibabel as nib
import numpy as np
import pytest

from neurofusion.attention.native import to_native
from neurofusion.errors import NeurofusionError

LPS = np.diag([-1.0, -1.0, 1.0])
ROTATION, SHIFT = (12.0, -6.0, 20.0), (6.0, -9.0, 4.0)
CENTRE_T = np.array([-24.0, -18.0, -16.0])  # template mm (left medial temporal lobe)


def write_pose(path, rotation_matrix, shift):
    """The ITK .mat that preprocessing would write: template points -> scanner points (LPS mm)."""
    import SimpleITK as sitk

    # scanner -> template: x_t = R x_s + t (RAS), so template -> scanner: x_s = Rᵀ (x_t - t)
    inverse = rotation_matrix.T
    transform = sitk.AffineTransform(3)
    transform.SetMatrix((LPS @ inverse @ LPS).ravel().tolist())
    transform.SetTranslation((-(LPS @ inverse @ shift)).tolist())
    sitk.WriteTransform(transform, str(path))


@pytest.fixture
def posed(tmp_path):
    from neurofusion.imaging.phantom import _rotation, synthetic_head

    head = synthetic_head(resolution=2.0, voxel_mm=(1.5, 1.5, 1.5), rotation_deg=ROTATION, translation_mm=SHIFT,
                          axcodes="LPI")
    nib.save(head, tmp_path / "sub-01_T1w.nii.gz")
    rot = _rotation(ROTATION)
    write_pose(tmp_path / "xfm.mat", rot, np.asarray(SHIFT))
    return tmp_path, rot


def template_sphere():
    """A 2 mm MNI-like grid with a 10 mm sphere of ones at CENTRE_T."""
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = [-96.0, -132.0, -78.0]
    shape = (97, 115, 97)
    ijk = np.indices(shape).reshape(3, -1).T
    xyz = ijk * 2.0 + affine[:3, 3]
    volume = (np.linalg.norm(xyz - CENTRE_T, axis=1) <= 10.0).reshape(shape).astype(np.float32)
    return volume, affine


@pytest.mark.parametrize("interpolation", ["linear", "nearest"])
def test_map_lands_on_the_posed_region(posed, interpolation):
    from neurofusion.imaging.nifti import load_scan

    root, rot = posed
    scan = load_scan(root / "sub-01_T1w.nii.gz")
    volume, affine = template_sphere()
    native = to_native(volume, affine, scan.data.shape, scan.affine, root / "xfm.mat", interpolation)
    assert native.shape == scan.data.shape
    hot = np.argwhere(native > 0.5)
    centre_mm = (scan.affine @ np.c_[hot, np.ones(len(hot))].T)[:3].T.mean(axis=0)
    expected = rot.T @ (CENTRE_T - np.asarray(SHIFT))  # the sphere's centre in scanner mm
    assert np.linalg.norm(centre_mm - expected) < 1.0
    # as many mm³ as in template space (a rigid pose keeps volumes), and inside the head
    assert abs(len(hot) * 1.5**3 - volume.sum() * 8.0) / (volume.sum() * 8.0) < 0.1
    assert np.median(scan.data[native > 0.5]) > 0.5 * np.percentile(scan.data[scan.data > 0], 50)


def test_unreadable_transform_is_a_user_error(tmp_path):
    (tmp_path / "xfm.mat").write_text("not a transform")
    volume, affine = template_sphere()
    with pytest.raises(NeurofusionError, match="xfm.mat"):
        to_native(volume, affine, (10, 10, 10), np.eye(4), tmp_path / "xfm.mat")
