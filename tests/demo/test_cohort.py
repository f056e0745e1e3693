"""The generated demo cohort is what it claims, written through the CLI in-process."""

import json
import os

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from neurofusion.cli import main
from neurofusion.demo.cohort import generate_cohort
from neurofusion.demo.settings import DemoSettings

N, WITHOUT_SCAN, SEED = 10, 2, 5


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    rc = main(["demo-cohort", "--out", str(out), "--n-subjects", str(N), "--n-without-scan", str(WITHOUT_SCAN),
               "--n-without-proteins", "1", "--seed", str(SEED)])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def truth(demo):
    return json.loads((demo / "truth.json").read_text())


def _scan(demo, pid):
    return demo / "bids" / pid / "anat" / f"{pid}_T1w.nii.gz"


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_writes_the_outputs_the_workflow_expects(demo):
    ids = [f"sub-{i:03d}" for i in range(1, N + 1)]
    for name in ("bids/participants.tsv", "bids/dataset_description.json", "olink_explore_npx.csv", "truth.json"):
        assert (demo / name).is_file()
    assert [_scan(demo, pid).is_file() for pid in ids] == [True] * (N - WITHOUT_SCAN) + [False] * WITHOUT_SCAN
    participants = pd.read_csv(demo / "bids/participants.tsv", sep="\t")
    assert list(participants.columns) == ["participant_id", "diagnosis", "age", "sex", "site"]
    assert participants["participant_id"].tolist() == ids
    assert participants["diagnosis"].value_counts().to_dict() == {"CN": N // 2, "AD": N // 2}
    description = json.loads((demo / "bids/dataset_description.json").read_text())
    assert description["BIDSVersion"] and description["Name"]
    assert not list(demo.rglob(".*.tmp*"))  # no temporary files left behind
    umask = os.umask(0)
    os.umask(umask)
    assert (demo / "truth.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_truth_documents_the_planted_signal(demo, truth):
    region = truth["mri_region"]
    assert len(region["centers_mm"]) == 2 and all(len(c) == 3 for c in region["centers_mm"])
    assert 10 <= region["radius_mm"] <= 16
    npx = pd.read_csv(demo / "olink_explore_npx.csv", sep=";")
    assert set(truth["planted_proteins"]) <= set(npx["Assay"])
    assert truth["without_scan"] == [f"sub-{i:03d}" for i in range(N - WITHOUT_SCAN + 1, N + 1)]
    sample_ids = {i if i.startswith("sub-") else f"sub-{i}" for i in npx.loc[npx["Sample_Type"] == "SAMPLE", "SampleID"]}
    assert len(truth["without_proteins"]) == 1 and not set(truth["without_proteins"]) & sample_ids
    assert truth["seed"] == SEED and truth["settings"]["n_subjects"] == N
    for pid, s in truth["subjects"].items():
        assert isinstance(s["mri_severity"], float) and isinstance(s["protein_severity"], float)
        assert (s["scan"] is not None) == s["has_scan"] == (pid not in truth["without_scan"])


def test_orientations_and_voxel_sizes_vary_and_affines_are_valid(demo, truth):
    codes, sizes = set(), set()
    for pid, s in truth["subjects"].items():
        if not s["has_scan"]:
            continue
        img = nib.load(_scan(demo, pid))
        affine = img.affine
        assert np.isfinite(affine).all() and abs(np.linalg.det(affine[:3, :3])) > 1e-3
        sform, scode = img.get_sform(coded=True)
        qform, qcode = img.get_qform(coded=True)
        assert scode == qcode == 1 and np.allclose(sform, qform, atol=1e-4)
        assert img.get_data_dtype() == np.int16
        assert np.allclose(affine, s["scan"]["native_affine"], atol=1e-4)
        assert np.allclose(img.header.get_zooms(), s["scan"]["voxel_size_mm"], atol=1e-5)
        codes.add(nib.aff2axcodes(affine))
        sizes.add(tuple(np.round(img.header.get_zooms(), 2)))
        assert "".join(nib.aff2axcodes(affine)) == s["scan"]["orientation"]
    assert len(codes) >= 3 and len(sizes) >= 3


def _region_ratio(data, native_to_template, centers, radius):
    """Mean intensity in the planted balls / mean in balls 35 mm above them (template mm)."""
    g = np.arange(-radius, radius + 2, 2.0)
    ball = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    ball = ball[np.linalg.norm(ball, axis=1) <= radius]
    to_native = np.linalg.inv(np.asarray(native_to_template))

    def mean(points):
        idx = (to_native @ np.c_[points, np.ones(len(points))].T)[:3]
        return ndimage.map_coordinates(data, idx, order=1).mean()

    region = np.concatenate([ball + c for c in centers])
    control = np.concatenate([ball + np.add(c, (0, 0, 35)) for c in centers])
    return mean(region) / mean(control)


def test_ad_planted_region_is_darker_in_template_space(demo, truth):
    centers = truth["mri_region"]["centers_mm"]
    ratios, atrophy, diagnosis = [], [], []
    for pid, s in truth["subjects"].items():
        if s["has_scan"]:
            data = nib.load(_scan(demo, pid)).get_fdata(dtype=np.float32)
            ratios.append(_region_ratio(data, s["scan"]["native_to_template"], centers, 7.0))
            atrophy.append(s["scan"]["atrophy_fraction"])
            diagnosis.append(s["diagnosis"])
    ratios, atrophy, diagnosis = np.array(ratios), np.array(atrophy), np.array(diagnosis)
    assert ratios[diagnosis == "AD"].mean() < ratios[diagnosis == "CN"].mean() - 0.03
    assert np.corrcoef(atrophy, ratios)[0, 1] < -0.8


def test_same_seed_gives_identical_files_and_stale_scans_are_removed(demo, tmp_path):
    stale = tmp_path / "bids" / "sub-099" / "anat" / "sub-099_T1w.nii.gz"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    settings = DemoSettings(n_subjects=N, n_without_scan=WITHOUT_SCAN, n_without_proteins=1)
    generate_cohort(tmp_path, settings, seed=SEED, workers=2, log=lambda m: None)
    assert not stale.exists()
    assert _files(tmp_path) == _files(demo)


def test_other_seed_gives_other_scans(demo, tmp_path):
    settings = DemoSettings(n_subjects=N, n_without_scan=N - 2, n_without_proteins=1)
    generate_cohort(tmp_path, settings, seed=SEED + 1, log=lambda m: None)
    assert _scan(tmp_path, "sub-001").read_bytes() != _scan(demo, "sub-001").read_bytes()


def test_bad_counts_give_a_one_line_error_and_no_output(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo-cohort", "--out", str(out), "--n-subjects", "10", "--n-without-scan", "9"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "--n-without-scan" in err
    assert not out.exists() or not any(out.rglob("*"))
