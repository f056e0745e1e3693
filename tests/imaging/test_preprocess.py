"""imaging/preprocess.py: a synthetic whole head through `neurofusion preprocess` lands on the template."""

import json

import nibabel as nib
import numpy as np
import pytest

from neurofusion.cli import main
from neurofusion.imaging.phantom import synthetic_head
from neurofusion.imaging.preprocess import _robust_zscore
from neurofusion.imaging.qc import dice
from neurofusion.imaging.template import load_template


def test_robust_zscore_is_zero_outside_and_centred_inside():
    rng = np.random.default_rng(0)
    image = rng.normal(100.0, 10.0, size=(20, 20, 20)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[5:15, 5:15, 5:15] = True
    z = _robust_zscore(image, mask)
    assert (z[~mask] == 0).all()
    assert abs(np.median(z[mask])) < 1e-5 and 0.8 < z[mask].std() < 1.2


@pytest.fixture
def whole_head(tmp_path):
    """2 mm whole head with neck, stored LPS, rotated 10/-6/8 degrees and shifted, int16."""
    img = synthetic_head(2.0, voxel_mm=(2.0, 2.0, 2.0), rotation_deg=(10.0, -6.0, 8.0),
                         translation_mm=(6.0, -8.0, 12.0), axcodes="LPS", seed=3)
    path = tmp_path / "bids" / "sub-007_T1w.nii.gz"
    path.parent.mkdir()
    nib.save(img, str(path))
    return path


@pytest.mark.slow
def test_whole_head_registers_to_the_template(whole_head, tmp_path):
    out = tmp_path / "out"
    files = {k: str(out / f"sub-007_{k}") for k in ("preproc.nii.gz", "mask.nii.gz", "xfm.mat", "qc.png",
                                                    "metrics.json", "timings.json")}
    code = main(["preprocess", "--t1w", str(whole_head), "--out", files["preproc.nii.gz"],
                 "--mask", files["mask.nii.gz"], "--xfm", files["xfm.mat"], "--qc", files["qc.png"],
                 "--metrics", files["metrics.json"], "--timings", files["timings.json"],
                 "--resolution", "2", "--min-dice", "0.99", "--threads", "2"])
    assert code == 0
    tpl = load_template(2.0)
    image, mask = nib.load(files["preproc.nii.gz"]), nib.load(files["mask.nii.gz"])
    assert image.shape == tpl.shape and np.allclose(image.affine, tpl.affine)
    brain = np.asarray(mask.dataobj) > 0
    assert dice(brain, tpl.mask) >= 0.9
    values = np.asarray(image.dataobj)
    assert (values[~brain] == 0).all() and abs(float(np.median(values[brain]))) < 0.05

    metrics = json.loads(open(files["metrics.json"]).read())
    assert metrics["participant_id"] == "sub-007"
    assert metrics["dice"] >= 0.9 and metrics["correlation"] > 0.8
    assert 1200 < metrics["brain_mask_volume_ml"] < 2400
    # --min-dice 0.99 is above what an affine reaches: flagged, with the reason, outputs still written
    assert metrics["qc_pass"] is False and "below min_dice 0.99" in metrics["qc_reason"]
    # times depend on the machine: apart from the metrics, which repeat byte for byte
    assert not {"seconds", "cpu_seconds"} & set(metrics)
    timings = json.loads(open(files["timings.json"]).read())
    assert set(timings["seconds"]) >= {"read", "brain_extraction", "bias_correction", "registration", "total"}
    assert timings["participant_id"] == "sub-007" and set(timings["cpu_seconds"]) == set(timings["seconds"])
    assert open(files["qc.png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_template_folder_gives_the_same_outputs_as_nilearn(whole_head, tmp_path):
    """`--template-dir` (files from `neurofusion template`) changes where the template comes from,
    not the result: image, mask and transform are byte-identical to the in-process template."""
    assert main(["template", "--resolution", "2", "--out-dir", str(tmp_path / "tpl")]) == 0

    def run(name, *extra):
        out = tmp_path / name
        files = [str(out / f) for f in ("p.nii.gz", "m.nii.gz", "x.mat")]
        assert main(["preprocess", "--t1w", str(whole_head), "--out", files[0], "--mask", files[1], "--xfm", files[2],
                     "--resolution", "2", *extra]) == 0
        return [open(f, "rb").read() for f in files]

    assert run("from_folder", "--template-dir", str(tmp_path / "tpl")) == run("from_nilearn")


def test_missing_template_file_names_the_file_and_the_fix(whole_head, tmp_path, capsys):
    code = main(["preprocess", "--t1w", str(whole_head), "--out", str(tmp_path / "p.nii.gz"),
                 "--mask", str(tmp_path / "m.nii.gz"), "--xfm", str(tmp_path / "x.mat"),
                 "--template-dir", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "tpl-MNI152NLin2009aSym_res-2_desc-brain_T1w.nii.gz" in err[0] and "neurofusion template" in err[0]
    assert not list(tmp_path.glob("p.nii.gz*")) and not (tmp_path / "x.mat").exists()


def test_brain_mask_volume_uses_the_voxel_volume_of_any_affine():
    from neurofusion.imaging.preprocess import brain_mask_volume_ml

    mask = np.zeros((20, 20, 20), bool)
    mask[:10, :10, :10] = True  # 1000 voxels
    angle = np.deg2rad(30)
    rotated = np.diag([2.0, 2.0, 2.0, 1.0])
    rotated[:2, :2] = 2.0 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert brain_mask_volume_ml(mask, rotated) == pytest.approx(8.0)  # 1000 x 8 mm^3
    sheared = np.diag([1.0, 1.0, 1.0, 1.0])
    sheared[0, 1] = 1.0  # column norms 1, sqrt(2), 1: a voxel still holds 1 mm^3
    assert brain_mask_volume_ml(mask, sheared) == pytest.approx(1.0)


@pytest.fixture
def bad_scans(whole_head, tmp_path):
    """A truncated copy of a real head scan and an all-zero volume with a sound header."""
    truncated = tmp_path / "bids" / "sub-008_T1w.nii.gz"
    data = whole_head.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    zero = tmp_path / "bids" / "sub-009_T1w.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((90, 110, 90), np.int16), np.diag([2.0, 2.0, 2.0, 1.0])), str(zero))
    return truncated, zero


def _preprocess(scan, out, *extra):
    flags = []
    for flag, name in (("--out", "preproc.nii.gz"), ("--mask", "mask.nii.gz"), ("--xfm", "xfm.mat"),
                       ("--qc", "qc.png"), ("--metrics", "metrics.json")):
        flags += [flag, str(out / name)]
    return main(["preprocess", "--t1w", str(scan), *flags, *extra])


def test_unusable_scans_end_with_a_failure_record_under_exclude(bad_scans, tmp_path):
    from neurofusion.failure import failure_reason

    for scan, why in zip(bad_scans, ("cannot read the voxel data, the file is truncated", "")):
        out = tmp_path / scan.name.split("_")[0]
        assert _preprocess(scan, out, "--on-error", "exclude") == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["failed"] is True and metrics["qc_pass"] is False
        assert metrics["qc_reason"].startswith(f"{scan}: {why}") and "\n" not in metrics["qc_reason"]
        assert metrics["participant_id"] == scan.name.split("_")[0]
        for name in ("preproc.nii.gz", "mask.nii.gz", "xfm.mat"):
            assert failure_reason(out / name) == metrics["qc_reason"]
        assert (out / "qc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert sorted(p.name for p in out.iterdir()) == ["mask.nii.gz", "metrics.json", "preproc.nii.gz",
                                                          "qc.png", "xfm.mat"]


def test_unusable_scan_stops_naming_the_file_under_stop(bad_scans, tmp_path, capsys):
    truncated, _ = bad_scans
    out = tmp_path / "stop"
    assert _preprocess(truncated, out, "--on-error", "stop") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(truncated) in err[0] and "truncated" in err[0]
    assert not out.exists() or not list(out.iterdir())


BATCH_FILES = ("preproc.nii.gz", "mask.nii.gz", "xfm.mat", "qc.png", "metrics.json")


def _preprocess_batch(scans, out, *extra):
    """One `neurofusion preprocess` process for several scans: one path per scan after each flag."""
    flags = []
    for flag, name in zip(("--out", "--mask", "--xfm", "--qc", "--metrics"), BATCH_FILES):
        flags += [flag, *(str(out / scan.name.split("_")[0] / name) for scan in scans)]
    return main(["preprocess", "--t1w", *map(str, scans), *flags, *extra])


@pytest.mark.slow
def test_a_batch_gives_every_scan_the_bytes_it_gets_alone(whole_head, bad_scans, tmp_path):
    """Several scans in one process (`preprocess.scans_per_job`): warm imports and networks, same
    outputs as one process per scan, a failure record for an unusable scan under exclude."""
    _, zero = bad_scans
    other = tmp_path / "bids" / "sub-010_T1w.nii.gz"
    nib.save(synthetic_head(2.0, voxel_mm=(2.0, 2.0, 2.0), rotation_deg=(-5.0, 4.0, 0.0), axcodes="RAS", seed=5),
             str(other))
    scans = [whole_head, zero, other]
    assert _preprocess_batch(scans, tmp_path / "batch", "--on-error", "exclude") == 0
    for scan in scans:
        alone = tmp_path / "alone" / scan.name.split("_")[0]
        assert _preprocess(scan, alone, "--on-error", "exclude") == 0
        batched = tmp_path / "batch" / scan.name.split("_")[0]
        for name in BATCH_FILES:
            assert (batched / name).read_bytes() == (alone / name).read_bytes(), (scan.name, name)
    assert json.loads((tmp_path / "batch" / "sub-009" / "metrics.json").read_text())["failed"] is True


@pytest.mark.slow
def test_a_batch_stopped_by_one_scan_leaves_no_output_of_any(whole_head, bad_scans, tmp_path, capsys):
    truncated, _ = bad_scans
    out = tmp_path / "stop"
    assert _preprocess_batch([whole_head, truncated], out, "--on-error", "stop") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(truncated) in err[0] and "truncated" in err[0]
    assert not [p for p in out.rglob("*") if p.is_file()]  # sub-007 was done, and is gone with the batch


def test_a_batch_needs_one_path_per_scan_after_every_flag(whole_head, tmp_path, capsys):
    code = main(["preprocess", "--t1w", str(whole_head), str(whole_head), "--out", str(tmp_path / "a.nii.gz"),
                 str(tmp_path / "b.nii.gz"), "--mask", str(tmp_path / "m.nii.gz"), "--xfm", str(tmp_path / "x.mat"),
                 str(tmp_path / "y.mat")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--mask has 1 paths for 2 scans" in err[0]
    assert not list(tmp_path.glob("*.nii.gz")) and not list(tmp_path.glob("*.mat"))
