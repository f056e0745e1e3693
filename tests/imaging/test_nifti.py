"""imaging/nifti.py: orientation, datatype and shape handling, and one-line errors for bad files."""

import gzip

import nibabel as nib
import numpy as np
import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.imaging.nifti import load_scan, participant_id_from_path

RAS_AFFINE = np.array([[2.0, 0, 0, -30.0], [0, 2.0, 0, -40.0], [0, 0, 2.0, -50.0], [0, 0, 0, 1]])


@pytest.fixture
def head() -> np.ndarray:
    """A 40x50x60 asymmetric volume (2 mm voxels -> 80x100x120 mm) with a bright corner."""
    rng = np.random.default_rng(0)
    data = rng.uniform(10, 100, size=(40, 50, 60)).astype(np.float32)
    data[:5, :7, :9] = 500.0
    return data


def _save(img, tmp_path, name):
    path = tmp_path / name
    nib.save(img, str(path))
    return str(path)


@pytest.mark.parametrize("axcodes", [("R", "A", "S"), ("L", "A", "S"), ("L", "P", "S"), ("A", "S", "L"),
                                     ("S", "R", "P")])
def test_any_axis_order_reads_as_the_same_ras_volume(head, tmp_path, axcodes):
    ras = nib.Nifti1Image(head, RAS_AFFINE)
    stored = ras.as_reoriented(nib.orientations.ornt_transform(
        nib.orientations.axcodes2ornt(("R", "A", "S")), nib.orientations.axcodes2ornt(axcodes)))
    assert nib.aff2axcodes(stored.affine) == axcodes
    scan = load_scan(_save(stored, tmp_path, "scan.nii.gz"))
    np.testing.assert_array_equal(scan.data, head)
    np.testing.assert_allclose(scan.affine, RAS_AFFINE, atol=1e-6)


def test_qform_is_used_when_there_is_no_sform(head, tmp_path):
    img = nib.Nifti1Image(head[::-1], None)
    lps_like = RAS_AFFINE.copy()
    lps_like[0, 0] = -2.0
    lps_like[0, 3] = -30.0 + 2.0 * 39
    img.set_qform(lps_like, code=1)
    img.set_sform(None, code=0)
    scan = load_scan(_save(img, tmp_path, "q.nii"))
    np.testing.assert_array_equal(scan.data, head)
    np.testing.assert_allclose(scan.affine, RAS_AFFINE, atol=1e-5)


def test_4d_single_volume_equals_3d(head, tmp_path):
    scan3 = load_scan(_save(nib.Nifti1Image(head, RAS_AFFINE), tmp_path, "a.nii.gz"))
    scan4 = load_scan(_save(nib.Nifti1Image(head[..., None], RAS_AFFINE), tmp_path, "b.nii.gz"))
    assert scan4.data.shape == head.shape
    np.testing.assert_array_equal(scan4.data, scan3.data)


def test_scaled_int16_gives_scaled_floats(head, tmp_path):
    raw = np.round(head).astype(np.int16)
    img = nib.Nifti1Image(raw, RAS_AFFINE)
    img.header.set_slope_inter(0.5, 10.0)
    scan = load_scan(_save(img, tmp_path, "int16.nii.gz"))
    assert scan.data.dtype == np.float32
    np.testing.assert_allclose(scan.data, raw * 0.5 + 10.0)


def test_nan_and_inf_become_zero(head, tmp_path):
    head[1, 2, 3], head[4, 5, 6] = np.nan, np.inf
    scan = load_scan(_save(nib.Nifti1Image(head, RAS_AFFINE), tmp_path, "nan.nii.gz"))
    assert np.isfinite(scan.data).all()
    assert scan.data[1, 2, 3] == 0 and scan.data[4, 5, 6] == 0


def test_participant_id_from_bids_name():
    assert participant_id_from_path("/x/sub-001_ses-bl_T1w.nii.gz") == "sub-001"
    assert participant_id_from_path("/x/sub-ab12.nii") == "sub-ab12"
    assert participant_id_from_path("/x/head.nii.gz") is None


def _bad_files(tmp_path, head):
    """name -> path of each kind of unusable input."""
    files = {}
    (tmp_path / "empty.nii.gz").write_bytes(b"")
    files["empty"] = tmp_path / "empty.nii.gz"
    good = _save(nib.Nifti1Image(head, RAS_AFFINE), tmp_path, "good.nii.gz")
    blob = open(good, "rb").read()
    (tmp_path / "truncated.nii.gz").write_bytes(blob[: len(blob) // 2])
    files["truncated gzip"] = tmp_path / "truncated.nii.gz"
    (tmp_path / "text.nii.gz").write_bytes(gzip.compress(b"participant_id\tdiagnosis\nsub-1\tAD\n" * 50))
    files["not a NIfTI"] = tmp_path / "text.nii.gz"
    files["2D"] = _save(nib.Nifti1Image(head[:, :, :1], RAS_AFFINE), tmp_path, "slice.nii.gz")
    files["4D"] = _save(nib.Nifti1Image(np.stack([head] * 3, axis=-1), RAS_AFFINE), tmp_path, "series.nii.gz")
    files["zeros"] = _save(nib.Nifti1Image(np.zeros_like(head), RAS_AFFINE), tmp_path, "zeros.nii.gz")
    files["NaN"] = _save(nib.Nifti1Image(np.full_like(head, np.nan), RAS_AFFINE), tmp_path, "nan.nii.gz")
    huge = RAS_AFFINE.copy()
    huge[:3, :3] *= 25.0
    files["absurd voxels"] = _save(nib.Nifti1Image(head, huge), tmp_path, "huge_voxels.nii.gz")
    tiny = RAS_AFFINE.copy()
    tiny[:3, :3] *= 0.01
    files["tiny voxels"] = _save(nib.Nifti1Image(head, tiny), tmp_path, "tiny_voxels.nii.gz")
    return {k: str(v) for k, v in files.items()}


def test_each_bad_input_gives_a_one_line_error_naming_the_file(head, tmp_path):
    for kind, path in _bad_files(tmp_path, head).items():
        with pytest.raises(NeurofusionError) as info:
            load_scan(path)
        message = str(info.value)
        assert path in message, kind
        assert "\n" not in message, kind


def test_bad_inputs_through_the_cli_exit_2_and_leave_no_output(head, tmp_path, capsys):
    from neurofusion.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    for kind, path in _bad_files(inputs, head).items():
        out = tmp_path / "out" / kind.replace(" ", "_")
        code = main(["preprocess", "--t1w", path, "--out", str(out / "p.nii.gz"), "--mask", str(out / "m.nii.gz"),
                     "--xfm", str(out / "x.mat"), "--qc", str(out / "qc.png"), "--metrics", str(out / "m.json")])
        err = capsys.readouterr().err.strip()
        assert code == 2, kind
        assert path in err and len(err.splitlines()) == 1, (kind, err)
        assert not out.exists() or not any(out.iterdir()), kind
