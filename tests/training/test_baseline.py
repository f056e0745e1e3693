"""Baselines (training/baseline.py): logistic regression on the transformer's own inputs."""

import numpy as np
import pandas as pd
import pytest
import torch

from neurofusion.cli import main
from neurofusion.evaluation.predictions import read_predictions
from neurofusion.training.baseline import BASELINES, feature_blocks, load_baseline, select_c, train_baseline
from neurofusion.training.settings import BaselineConfig, TrainConfig, parse_baseline
from neurofusion.training.train import FoldRun, auc, train_fold

from .conftest import SMALL_MODEL, make_sources, write_stage_files

TC = TrainConfig(epochs=2, batch_size=8, patience=50, warmup_epochs=1)
FAST = BaselineConfig(c_min=1e-2, c_max=1e2, c_steps=5)


def fit(src, variant, fold, out, cfg=FAST, tc=TC):
    train_baseline(src, SMALL_MODEL, tc, cfg, variant, fold, out)
    model, payload = load_baseline(out / "model.pt")
    return model, payload, pd.read_parquet(out / "predictions.parquet")


def test_same_subjects_folds_and_scalers_as_the_transformer(tmp_path):
    src = make_sources(n=30)
    train_fold(src, SMALL_MODEL, TC, "fusion", 1, tmp_path / "fusion", device="cpu", progress=False)
    _, payload, pred = fit(src, "baseline_fusion", 1, tmp_path / "baseline")
    transformer = torch.load(tmp_path / "fusion" / "model.pt", weights_only=True)
    assert payload["subjects"] == transformer["subjects"]
    assert payload["normalisation"] == transformer["normalisation"]
    theirs = pd.read_parquet(tmp_path / "fusion" / "predictions.parquet")
    assert pred["participant_id"].tolist() == theirs["participant_id"].tolist()
    assert (pred["fold"] == 1).all() and (pred["variant"] == "baseline_fusion").all()
    subjects = pd.read_csv(tmp_path / "baseline" / "subjects.tsv", sep="\t")
    assert subjects.equals(pd.read_csv(tmp_path / "fusion" / "subjects.tsv", sep="\t"))


def test_paired_subjects_for_every_baseline(tmp_path):
    src = make_sources(n=30)
    src.cohort.loc[3, "has_proteins"] = False     # out of every paired variant, baselines included
    seen = {}
    for variant in BASELINES:
        _, payload, _ = fit(src, variant, 0, tmp_path / variant)
        seen[variant] = payload["subjects"]
        assert src.cohort.loc[3, "participant_id"] not in sum(payload["subjects"].values(), [])
    assert seen["baseline_mri"] == seen["baseline_protein"] == seen["baseline_fusion"]


def _shift_test_fold(src, fold, by):
    """A copy of the sources whose test-fold subjects alone get shifted inputs."""
    shifted = make_sources(n=len(src.cohort))
    test = (shifted.cohort["fold"] == fold).to_numpy()
    shifted.embeddings.values[test] += by
    shifted.matrix.values[test] += by
    return shifted


@pytest.mark.parametrize("reduction", ["none", "pca"])
def test_nothing_is_fitted_on_the_test_fold(tmp_path, reduction):
    """A shift planted in the test fold only leaves scalers, reduction and weights unchanged."""
    cfg = BaselineConfig(c_min=1e-2, c_max=1e2, c_steps=5, mri_reduction=reduction, pca_components=4)
    clean = make_sources(n=36)
    a, pa_, pred_a = fit(clean, "baseline_fusion", 2, tmp_path / "a", cfg)
    b, pb_, pred_b = fit(_shift_test_fold(clean, 2, 50.0), "baseline_fusion", 2, tmp_path / "b", cfg)
    assert pa_["normalisation"] == pb_["normalisation"]
    assert a.C == b.C
    np.testing.assert_array_equal(a.coef, b.coef)
    np.testing.assert_array_equal(a.intercept, b.intercept)
    for x, y in zip(a.blocks, b.blocks):
        assert x.scale == y.scale
        assert (x.components is not None) == (reduction == "pca" and x.name == "mri")
        if x.components is not None:
            np.testing.assert_array_equal(x.mean, y.mean)
            np.testing.assert_array_equal(x.components, y.components)
    # the shift did reach the test subjects: their predictions moved
    assert not np.allclose(pred_a["prob_AD"], pred_b["prob_AD"])


def test_a_shift_in_the_training_part_does_change_the_fit(tmp_path):
    """The control of the leakage test: the same shift outside the test fold is seen."""
    clean = make_sources(n=36)
    a, pa_, _ = fit(clean, "baseline_protein", 2, tmp_path / "a")
    shifted = _shift_test_fold(clean, 0, 50.0)   # fold 0 is training data when fold 2 is tested
    b, pb_, _ = fit(shifted, "baseline_protein", 2, tmp_path / "b")
    assert pa_["normalisation"] != pb_["normalisation"]


def test_model_file_replays_the_predictions(tmp_path):
    src = make_sources(n=30)
    model, payload, pred = fit(src, "baseline_mri", 0, tmp_path / "m",
                               BaselineConfig(c_steps=3, mri_reduction="pca", pca_components=5))
    run = FoldRun(src, SMALL_MODEL, TC, "mri", 0)
    probs = model.predict(feature_blocks(run.data["test"], ["mri"]))
    np.testing.assert_allclose(probs[:, 1], pred["prob_AD"].to_numpy(), rtol=0, atol=1e-12)
    assert payload["variant"] == "baseline_mri" and payload["inputs_of"] == "mri"
    assert [b["name"] for b in payload["blocks"]] == ["mri"]


def test_baselines_find_the_planted_signal_and_fusion_combines_it(tmp_path):
    src = make_sources(n=48)                 # MRI and protein signal at their default strength
    pooled = {}
    for variant in BASELINES:
        preds = pd.concat([fit(src, variant, k, tmp_path / variant / f"fold-{k}")[2] for k in range(3)])
        pooled[variant] = auc(preds[["prob_CN", "prob_AD"]].to_numpy(), preds["label_index"].to_numpy())
    assert pooled["baseline_mri"] > 0.75 and pooled["baseline_protein"] > 0.75, pooled
    assert pooled["baseline_fusion"] > max(pooled["baseline_mri"], pooled["baseline_protein"]), pooled


def test_no_signal_gives_chance(tmp_path):
    src = make_sources(n=48, mri_signal=0.0, prot_signal=0.0)
    preds = pd.concat([fit(src, "baseline_fusion", k, tmp_path / f"fold-{k}")[2] for k in range(3)])
    assert auc(preds[["prob_CN", "prob_AD"]].to_numpy(), preds["label_index"].to_numpy()) < 0.75


def test_same_inputs_give_the_same_bytes(tmp_path):
    src = make_sources(n=30)
    for out in ("a", "b"):
        train_baseline(src, SMALL_MODEL, TC, FAST, "baseline_fusion", 1, tmp_path / out)
    for name in ("model.pt", "history.tsv", "predictions.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_history_has_one_row_per_candidate_and_marks_the_choice(tmp_path):
    src = make_sources(n=30)
    _, payload, _ = fit(src, "baseline_protein", 0, tmp_path / "p")
    hist = pd.read_csv(tmp_path / "p" / "history.tsv", sep="\t")
    assert hist["epoch"].tolist() == list(range(1, FAST.c_steps + 1))
    assert hist["best"].sum() == 1
    assert hist.loc[hist["best"], "C"].item() == pytest.approx(payload["C"])
    assert {"train_loss", "val_loss", "val_auc", "lr"} <= set(hist.columns)
    assert hist["val_auc"].between(0, 1).all()


def test_inner_cv_ties_go_to_the_stronger_penalty():
    """Features that carry nothing: every C ties, the smallest wins."""
    rng = np.random.default_rng(0)
    labels = np.arange(20) % 2
    features = {"protein": np.repeat(rng.normal(size=(1, 3)), 20, axis=0)}   # identical rows
    C, rows = select_c(features, labels, 2, FAST, 0, "balanced")
    assert C == pytest.approx(FAST.c_min)
    assert rows[0]["best"] and sum(r["best"] for r in rows) == 1


def test_baseline_settings_come_from_model_yaml():
    cfg = parse_baseline({"model": {}, "baseline": {"mri_reduction": "pca", "pca_components": 8}})
    assert (cfg.mri_reduction, cfg.pca_components, cfg.penalty) == ("pca", 8, "l2")
    assert parse_baseline({}) == BaselineConfig()
    from neurofusion.errors import NeurofusionError

    with pytest.raises(NeurofusionError, match="baseline setting mri_reduction"):
        parse_baseline({"baseline": {"mri_reduction": "umap"}})
    with pytest.raises(NeurofusionError, match="unknown baseline setting"):
        parse_baseline({"baseline": {"alpha": 1}})


def test_elastic_net_runs(tmp_path):
    src = make_sources(n=30, P=4)
    model, payload, pred = fit(src, "baseline_protein", 0, tmp_path / "e",
                               BaselineConfig(penalty="elasticnet", c_steps=3, max_iter=500))
    assert payload["baseline_config"]["penalty"] == "elasticnet"
    assert pred[["prob_CN", "prob_AD"]].sum(axis=1).round(9).eq(1).all()


def test_cli_dispatches_baselines_through_train(tmp_path, capsys):
    paths = write_stage_files(make_sources(), tmp_path / "in")
    config = tmp_path / "model.yaml"
    config.write_text("model: {hidden_dim: 16, num_heads: 2}\ntraining: {epochs: 2}\n"
                      "baseline: {c_steps: 3}\n")
    out = tmp_path / "train" / "baseline_fusion" / "fold-0"
    argv = ["train", "--cohort", str(paths["cohort"]), "--embeddings", str(paths["embeddings"]),
            "--grid", str(paths["grid"]), "--proteins", str(paths["proteins"]), "--catalog", str(paths["catalog"]),
            "--config", str(config), "--variant", "baseline_fusion", "--fold", "0", "--out-dir", str(out),
            "--threads", "1", "--device", "cpu"]
    assert main(argv) == 0
    assert "baseline_fusion fold 0: C =" in capsys.readouterr().out
    table = read_predictions([out / "predictions.parquet"], ["CN", "AD"])
    assert set(table["variant"]) == {"baseline_fusion"}
    assert len(pd.read_csv(out / "history.tsv", sep="\t")) == 3
    # the transformer's --linear-start is not a baseline's flag: one line, and nothing written
    again = tmp_path / "again"
    assert main(argv[:-6] + ["--out-dir", str(again), "--linear-start", str(out / "model.pt"),
                             "--device", "cpu"]) != 0
    assert "--linear-start is for the transformer variants" in capsys.readouterr().err
    assert not (again / "model.pt").exists()


def test_platt_scaling_undoes_the_penalty_shrinkage():
    """A strong penalty keeps the ranking but shrinks logits to ~0; the scaling fitted on the
    inner CV's out-of-fold values brings the probabilities back to the observed rates."""
    from neurofusion.training.baseline import fit_selected, platt

    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 60)
    x = rng.normal(size=(120, 20))
    x[:, 0] += 2.0 * labels                                       # one informative feature
    features = {"protein": x}
    cfg = BaselineConfig(c_min=1e-4, c_max=1e-4, c_steps=1)       # a penalty that shrinks everything
    raw, _ = fit_selected(features, labels, 2, BaselineConfig(**{**cfg.to_dict(), "calibrate": False}), 0, "balanced")
    calibrated, _ = fit_selected(features, labels, 2, cfg, 0, "balanced")
    assert raw.platt == (1.0, 0.0) and calibrated.platt[0] > 10
    p_raw, p_cal = raw.predict(features)[:, 1], calibrated.predict(features)[:, 1]
    assert np.abs(p_raw - 0.5).max() < 0.05                        # everything near 0.5
    assert p_cal[labels == 1].mean() > 0.65 and p_cal[labels == 0].mean() < 0.35
    assert auc(np.stack([1 - p_cal, p_cal], 1), labels) == auc(np.stack([1 - p_raw, p_raw], 1), labels)  # same ranking
    # scores that rank the classes the wrong way round are not turned around
    assert platt(-x[:, 0], labels, "balanced") == (1.0, 0.0)
    assert platt(x[:, 0], np.zeros(120, int), None) == (1.0, 0.0)
