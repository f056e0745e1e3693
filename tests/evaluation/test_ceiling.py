"""Truth-informed ceilings (evaluation/ceiling.py) on a tiny truth.json with a known answer."""

import importlib.util
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from neurofusion.cli import main
from neurofusion.errors import NeurofusionError
from neurofusion.evaluation.ceiling import (ceiling_metrics, ceiling_predictions, ceiling_readouts, read_planted,
                                            region_mask)
from neurofusion.training.settings import TrainConfig
from neurofusion.training.train import FoldRun


def _training_fixtures():
    """The training tests' tiny stage inputs (tests/training/conftest.py), loaded by path:
    the test folders are not one package."""
    path = Path(__file__).resolve().parents[1] / "training" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_training_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _training_fixtures()
SMALL_MODEL, make_sources, write_stage_files = _fixtures.SMALL_MODEL, _fixtures.make_sources, _fixtures.write_stage_files

N = 30
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])     # voxel (i, j, k) -> (2i, 2j, 2k) mm
CENTRE_MM = [4.0, 4.0, 4.0]                # voxel (2, 2, 2); radius 2.5 mm holds it and its 6 face neighbours
REGION = [(2, 2, 2), (1, 2, 2), (3, 2, 2), (2, 1, 2), (2, 3, 2), (2, 2, 1), (2, 2, 3)]


def truth_doc(g3_direction="down"):
    return {"mri_region": {"centers_mm": [CENTRE_MM], "radius_mm": 2.5},
            "planted_proteins": ["G1", "G3"],
            "planted_protein_details": [{"gene": "G1", "direction": "up"},
                                        {"gene": "G3", "direction": g3_direction}]}


@pytest.fixture
def cohort(tmp_path):
    """Sources whose planted region and proteins separate the classes; images on disk."""
    src = make_sources(n=N, seed=3)
    rng = np.random.default_rng(5)
    labels = src.cohort["label_index"].to_numpy()
    severity = labels * 2.0 + rng.uniform(0, 1.5, N)          # AD 2-3.5, CN 0-1.5: separable
    values = rng.normal(5.0, 0.05, size=src.matrix.values.shape).astype(np.float32)
    values[:, 1] += severity                                   # G1 rises
    values[:, 3] -= severity                                   # G3 falls
    src.matrix.values[:] = values
    src.cohort.loc[4, "has_proteins"] = False                  # out of every paired variant
    root = tmp_path / "preprocess"
    intensity = {}
    for i, pid in enumerate(src.cohort["participant_id"]):
        data = rng.normal(size=(6, 6, 6))
        value = -severity[i] + rng.normal(0, 0.1)
        for v in REGION:
            data[v] = value
        data[2, 2, 4] = 100.0 + i                              # 4 mm from the centre: outside
        intensity[pid] = value
        folder = root / pid / "anat"
        folder.mkdir(parents=True)
        nib.save(nib.Nifti1Image(data.astype(np.float32), AFFINE),
                 folder / f"{pid}_space-MNI152NLin2009aSym_res-2_desc-preproc_T1w.nii.gz")
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps(truth_doc()))
    return src, root, truth, intensity


def test_region_mask_takes_the_voxels_inside_the_sphere():
    mask = region_mask((6, 6, 6), AFFINE, [(np.array(CENTRE_MM), 2.5)])
    assert sorted(map(tuple, np.argwhere(mask))) == sorted(REGION)


def test_readouts_have_the_known_values(cohort):
    src, root, truth, intensity = cohort
    table = ceiling_readouts(src, root, read_planted(truth))
    used = src.cohort.drop(index=4)
    assert table["participant_id"].tolist() == used["participant_id"].tolist()
    np.testing.assert_allclose(table["mri_readout"], [intensity[p] for p in table["participant_id"]], rtol=1e-6)
    # protein readout: z-scores with the mean / sd of the training folds only, G1 up, G3 down
    row = {p: i for i, p in enumerate(src.matrix.participant_ids)}
    v = src.matrix.values[[row[p] for p in table["participant_id"]]].astype(np.float64)
    folds = table["fold"].to_numpy()
    for k in range(3):
        tr, te = folds != k, folds == k
        z = (v[:, [1, 3]] - v[tr][:, [1, 3]].mean(axis=0)) / v[tr][:, [1, 3]].std(axis=0)
        expected = z[te, 0] - z[te, 1]
        np.testing.assert_allclose(table.loc[te, "protein_readout"], expected, rtol=1e-5)
        everyone = (v[:, [1, 3]] - v[:, [1, 3]].mean(axis=0)) / v[:, [1, 3]].std(axis=0)
        assert not np.allclose(everyone[te, 0] - everyone[te, 1], expected)   # so it is not fitted on all


def test_same_test_folds_and_subjects_as_the_variants(cohort):
    src, root, truth, _ = cohort
    table = ceiling_readouts(src, root, read_planted(truth))
    tc = TrainConfig(epochs=1)
    for variant in ("mri", "protein", "fusion"):
        for k in range(3):
            run = FoldRun(src, SMALL_MODEL, tc, variant, k)
            assert sorted(table.loc[table["fold"] == k, "participant_id"]) == run.split["test"]


def test_separable_readouts_reach_auc_one(cohort):
    src, root, truth, _ = cohort
    preds = ceiling_predictions(ceiling_readouts(src, root, read_planted(truth)), src.classes)
    metrics = ceiling_metrics(preds, src.classes, n_boot=100, seed=0)
    auc = metrics[metrics["metric"] == "auc"].set_index("variant")
    assert list(auc.index) == ["ceiling_mri", "ceiling_protein", "ceiling_fusion"]
    assert (auc["mean"] == 1.0).all() and (auc["n"] == N - 1).all()
    assert list(metrics.columns) == ["variant", "metric", "mean", "ci_low", "ci_high", "n"]


def test_the_planted_direction_matters(cohort, tmp_path):
    src, root, _, _ = cohort
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(truth_doc(g3_direction="up")))   # G3 really falls
    preds = ceiling_predictions(ceiling_readouts(src, root, read_planted(wrong)), src.classes)
    auc = ceiling_metrics(preds, src.classes, 0, 0).query("metric == 'auc'").set_index("variant")["mean"]
    assert auc["ceiling_protein"] < 0.9
    assert auc["ceiling_mri"] == 1.0


def test_missing_direction_is_taken_from_the_training_folds(cohort, tmp_path):
    src, root, truth, _ = cohort
    names_only = tmp_path / "names.json"
    names_only.write_text(json.dumps({"mri_region": {"centre_mm": CENTRE_MM, "radius_mm": 2.5},
                                      "planted_proteins": ["G1", "G3"]}))
    given = ceiling_readouts(src, root, read_planted(truth))
    learned = ceiling_readouts(src, root, read_planted(names_only))
    np.testing.assert_allclose(learned["protein_readout"], given["protein_readout"])


def test_cli_writes_ceiling_tsv(cohort, tmp_path, capsys):
    src, root, truth, _ = cohort
    paths = write_stage_files(src, tmp_path / "in")
    out = tmp_path / "eval" / "ceiling.tsv"
    argv = ["ceiling", "--cohort", str(paths["cohort"]), "--embeddings", str(paths["embeddings"]),
            "--grid", str(paths["grid"]), "--proteins", str(paths["proteins"]), "--catalog", str(paths["catalog"]),
            "--truth", str(truth), "--preprocess-dir", str(root), "--bootstrap", "100", "--seed", "1",
            "--out", str(out), "--readouts", str(tmp_path / "eval" / "ceiling_readouts.tsv")]
    assert main(argv) == 0
    table = pd.read_csv(out, sep="\t")
    assert set(table["variant"]) == {"ceiling_mri", "ceiling_protein", "ceiling_fusion"}
    assert "ceiling_fusion: AUC 1.000" in capsys.readouterr().out
    readouts = pd.read_csv(tmp_path / "eval" / "ceiling_readouts.tsv", sep="\t")
    assert len(readouts) == N - 1
    first = out.read_bytes()
    assert main(argv) == 0 and out.read_bytes() == first


def test_missing_image_names_the_subject(cohort):
    src, root, truth, _ = cohort
    for f in (root / "sub-002" / "anat").iterdir():
        f.unlink()
    with pytest.raises(NeurofusionError, match="subject sub-002: no preprocessed image"):
        ceiling_readouts(src, root, read_planted(truth))


def test_region_outside_the_image_is_an_error(cohort, tmp_path):
    src, root, _, _ = cohort
    far = tmp_path / "far.json"
    far.write_text(json.dumps({"mri_region": {"centre_mm": [500, 0, 0], "radius_mm": 3}}))
    with pytest.raises(NeurofusionError, match="holds no voxel"):
        ceiling_readouts(src, root, read_planted(far))
