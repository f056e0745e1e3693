"""The evaluate step end to end, in-process through the CLI."""

import numpy as np
import pandas as pd
import pytest

from neurofusion.cli import main
from neurofusion.evaluation.metrics import METRICS

VARIANTS = {"fusion": 2.0, "mri": 1.0, "protein": 0.4}


def write_predictions(root, classes, n=45, folds=3, seed=0, variants=VARIANTS):
    """Prediction files for every variant x fold: stronger separation for fusion."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(classes)
    paths = []
    for variant, strength in variants.items():
        logits = rng.normal(size=(n, len(classes))) + strength * np.eye(len(classes))[labels]
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        for fold in range(folds):
            idx = np.flatnonzero(np.arange(n) % folds == fold)
            frame = pd.DataFrame({"participant_id": [f"sub-{i:03d}" for i in idx], "fold": fold,
                                  "variant": variant, "label": [classes[k] for k in labels[idx]],
                                  "label_index": labels[idx]})
            for c, name in enumerate(classes):
                frame[f"prob_{name}"] = probs[idx, c].astype(np.float32)
            path = root / variant / f"fold-{fold}" / "predictions.parquet"
            path.parent.mkdir(parents=True)
            frame.to_parquet(path)
            paths.append(str(path))
    return paths


@pytest.fixture
def binary_predictions(tmp_path):
    return write_predictions(tmp_path / "train", ["CN", "AD"])


@pytest.fixture
def three_class_predictions(tmp_path):
    return write_predictions(tmp_path / "train", ["CN", "MCI", "AD"], n=60)


def run_evaluate(paths, classes, out_dir, n_boot=200):
    return main(["evaluate", "--predictions", *paths, "--classes", *classes, "--bootstrap", str(n_boot),
                 "--seed", "3", "--out-dir", str(out_dir)])


def test_evaluate_writes_the_four_tables(binary_predictions, tmp_path):
    out = tmp_path / "eval"
    assert run_evaluate(binary_predictions, ["CN", "AD"], out) == 0
    metrics = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert list(metrics.columns) == ["variant", "metric", "mean", "ci_low", "ci_high", "n"]
    assert len(metrics) == 3 * len(METRICS)
    assert set(metrics["n"]) == {45}
    assert (metrics["ci_low"] <= metrics["mean"]).all() and (metrics["mean"] <= metrics["ci_high"]).all()
    auc = metrics[metrics["metric"] == "auc"].set_index("variant")["mean"]
    assert auc["fusion"] > auc["protein"]
    per_fold = pd.read_csv(out / "per_fold.tsv", sep="\t")
    assert len(per_fold) == 3 * 3 * len(METRICS) and set(per_fold["n"]) == {15}
    comparison = pd.read_csv(out / "comparison.tsv", sep="\t")
    assert set(comparison["comparison"]) == {"fusion-mri", "fusion-protein"}
    curves = pd.read_parquet(out / "curves.parquet")
    assert {"roc", "roc_band", "calibration", "confusion"} <= set(curves["curve"])
    assert set(curves.loc[curves["curve"] == "roc", "class"]) == {"AD"}


def test_each_model_is_paired_with_its_baseline(tmp_path):
    variants = {**VARIANTS, "baseline_fusion": 1.5, "baseline_mri": 1.2, "baseline_protein": 0.2}
    paths = write_predictions(tmp_path / "train", ["CN", "AD"], variants=variants)
    assert run_evaluate(paths, ["CN", "AD"], tmp_path / "eval") == 0
    metrics = pd.read_csv(tmp_path / "eval" / "metrics.tsv", sep="\t")
    assert list(dict.fromkeys(metrics["variant"])) == ["fusion", "mri", "protein", "baseline_fusion",
                                                        "baseline_mri", "baseline_protein"]
    comparison = pd.read_csv(tmp_path / "eval" / "comparison.tsv", sep="\t")
    auc = comparison[comparison["metric"] == "auc"].set_index("comparison")
    assert list(auc.index) == ["fusion-mri", "fusion-protein", "fusion-baseline_fusion", "mri-baseline_mri",
                               "protein-baseline_protein"]
    assert auc.loc["mri-baseline_mri", "reference"] == "mri"
    assert auc.loc["mri-baseline_mri", "baseline"] == "baseline_mri"
    assert (auc["n"] == 45).all()


def test_comparison_pairs_without_fusion():
    from neurofusion.evaluation.evaluate import comparison_pairs

    assert comparison_pairs(["mri", "baseline_mri", "baseline_protein"]) == [("mri", "baseline_mri")]
    assert comparison_pairs(["fusion", "other"]) == [("fusion", "other")]


def test_evaluate_is_reproducible_to_the_byte(binary_predictions, tmp_path):
    run_evaluate(binary_predictions, ["CN", "AD"], tmp_path / "a")
    run_evaluate(list(reversed(binary_predictions)), ["CN", "AD"], tmp_path / "b")
    for name in ("metrics.tsv", "per_fold.tsv", "comparison.tsv", "curves.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_three_classes(three_class_predictions, tmp_path):
    out = tmp_path / "eval"
    assert run_evaluate(three_class_predictions, ["CN", "MCI", "AD"], out) == 0
    metrics = pd.read_csv(out / "metrics.tsv", sep="\t")
    assert metrics[metrics["metric"] == "auc"]["mean"].between(0.5, 1).all()
    curves = pd.read_parquet(out / "curves.parquet")
    conf = curves[(curves["curve"] == "confusion") & (curves["variant"] == "fusion")]
    assert len(conf) == 9 and conf["count"].sum() == 60
    assert set(curves.loc[curves["curve"] == "roc", "class"]) == {"CN", "MCI", "AD"}


def test_wrong_classes_fail_in_one_line_and_write_nothing(binary_predictions, tmp_path, capsys):
    out = tmp_path / "eval"
    assert run_evaluate(binary_predictions, ["CN", "MCI", "AD"], out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "prob_MCI" in err and "predictions.parquet" in err
    assert not out.exists() or not any(out.iterdir())


def test_subject_in_two_folds_is_an_error(binary_predictions, tmp_path, capsys):
    path = binary_predictions[1]
    frame = pd.read_parquet(path)
    frame.loc[0, "participant_id"] = "sub-000"  # already in fold 0
    frame.to_parquet(path)
    assert run_evaluate(binary_predictions, ["CN", "AD"], tmp_path / "eval") == 2
    assert "sub-000" in capsys.readouterr().err


def test_calibration_bins_are_equal_count_and_sized_to_the_cohort():
    from neurofusion.evaluation.curves import calibration_bins, calibration_rows

    rng = np.random.default_rng(0)
    prob = rng.uniform(size=40)
    bins = calibration_bins(prob)
    assert [len(b) for b in bins] == [10, 10, 10, 10]
    assert all(prob[a].max() <= prob[b].min() for a, b in zip(bins, bins[1:]))  # sorted, disjoint
    assert len(calibration_bins(rng.uniform(size=11))) == 2 and len(calibration_bins(rng.uniform(size=500))) == 10
    rows = calibration_rows("fusion", "AD", prob > 0.5, prob)
    assert sum(r["count"] for r in rows) == 40
