"""training.linear_start: the transformer starts as the fold's logistic regression."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from neurofusion.training.baseline import BLOCKS, feature_blocks, fit_selected
from neurofusion.training.predict import predict
from neurofusion.training.settings import BaselineConfig, TrainConfig
from neurofusion.training.train import FoldRun, start_from_linear, train_fold
from neurofusion.model import FusionModel

from .test_train import QUICK, SMALL_MODEL

LINEAR = dataclasses.replace(QUICK, linear_start=True)


@pytest.mark.parametrize("variant,reduction", [("fusion", "none"), ("mri", "none"), ("protein", "none"),
                                               ("fusion", "pca"), ("mri", "pca")])
def test_the_start_is_the_baseline(sources, variant, reduction, tmp_path):
    """linear_fit: training_part (the default): the model starts as baseline_<variant> itself,
    with a PCA-reduced MRI block too (its projection folded into the linear path's weights)."""
    from neurofusion.training.baseline import train_baseline

    cfg = BaselineConfig(c_steps=4, mri_reduction=reduction, pca_components=5)
    run = FoldRun(sources, SMALL_MODEL, LINEAR, variant, 1, baseline_cfg=cfg)
    torch.manual_seed(0)
    model = FusionModel(run.cfg).eval()
    start = start_from_linear(model, run, seed=LINEAR.seed * 1000 + 1)
    assert not model.linear.weight.requires_grad
    assert start["subjects"] == len(run.data["train"]) + len(run.data["val"])
    train_baseline(sources, SMALL_MODEL, LINEAR, cfg, f"baseline_{variant}", 1, tmp_path)
    expected = pd.read_parquet(tmp_path / "predictions.parquet")
    probs, _ = predict(model, run.data["test"], 64, torch.device("cpu"))
    assert list(expected["participant_id"]) == list(run.data["test"].participant_ids)
    np.testing.assert_allclose(probs[:, 1], expected["prob_AD"], atol=1e-4)


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_the_start_on_the_training_split(sources, variant):
    tc = dataclasses.replace(LINEAR, linear_fit="train_split")
    run = FoldRun(sources, SMALL_MODEL, tc, variant, 1, baseline_cfg=BaselineConfig(c_steps=4))
    torch.manual_seed(0)
    model = FusionModel(run.cfg).eval()
    start_from_linear(model, run, seed=5)
    # the same regression, fitted by hand on the same rows, predicts the same probabilities
    train = feature_blocks(run.data["train"], BLOCKS[variant])
    labels = run.data["train"].labels.numpy().astype(np.int64)
    lr, _ = fit_selected(train, labels, 2, run.baseline_cfg, 5, "balanced")
    expected = lr.predict(feature_blocks(run.data["test"], BLOCKS[variant]))
    probs, _ = predict(model, run.data["test"], 64, torch.device("cpu"))
    np.testing.assert_allclose(probs, expected, atol=1e-4)


def test_training_keeps_the_regression_unless_validation_prefers_more(sources, tmp_path):
    out = tmp_path / "run"
    result = train_fold(sources, SMALL_MODEL, LINEAR, "fusion", 0, out, device="cpu", progress=False,
                        baseline_cfg=BaselineConfig(c_steps=4))
    history = pd.read_csv(out / "history.tsv", sep="\t")
    assert history["epoch"].iloc[0] == 0 and bool(history["best"].iloc[0])   # epoch 0: the regression
    assert 0 <= result["best_epoch"] <= result["epochs_run"]
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert ckpt["model_config"]["linear_features"] > 0
    again = tmp_path / "again"
    train_fold(sources, SMALL_MODEL, LINEAR, "fusion", 0, again, device="cpu", progress=False,
               baseline_cfg=BaselineConfig(c_steps=4))
    assert (out / "model.pt").read_bytes() == (again / "model.pt").read_bytes()


@pytest.mark.parametrize("setting", ["default", "pca", "elasticnet", "ensemble"])
def test_the_fit_taken_from_the_baseline_gives_the_same_bytes(sources, tmp_path, monkeypatch, setting):
    """With the fold's baseline model.pt, the linear start takes its regression (no refit, no
    inner CV) and the trained model is byte for byte the one a fit of its own gives."""
    from neurofusion.training import baseline

    cfg = {"pca": BaselineConfig(c_steps=4, mri_reduction="pca", pca_components=5),
           "elasticnet": BaselineConfig(c_steps=3, penalty="elasticnet", l1_ratio=0.5)}.get(setting,
                                                                                          BaselineConfig(c_steps=4))
    tc = dataclasses.replace(LINEAR, ensemble=2) if setting == "ensemble" else LINEAR
    baseline.train_baseline(sources, SMALL_MODEL, tc, cfg, "baseline_fusion", 0, tmp_path / "base")
    own = tmp_path / "own"
    train_fold(sources, SMALL_MODEL, tc, "fusion", 0, own, device="cpu", progress=False, baseline_cfg=cfg)

    def no_refit(*args, **kwargs):
        raise AssertionError("the linear start refitted a regression it could take from the baseline")

    monkeypatch.setattr(baseline, "fit_selected", no_refit)
    taken = tmp_path / "taken"
    train_fold(sources, SMALL_MODEL, tc, "fusion", 0, taken, device="cpu", progress=False, baseline_cfg=cfg,
               linear_from=tmp_path / "base" / "model.pt")
    for name in ("model.pt", "history.tsv", "predictions.parquet"):
        assert (own / name).read_bytes() == (taken / name).read_bytes(), name


@pytest.mark.parametrize("other", ["fold", "variant", "train_split", "shuffled", "baseline_settings", "kernels"])
def test_a_baseline_fitted_on_other_inputs_is_refitted(sources, tmp_path, other, monkeypatch):
    """Another fold's, another variant's, other settings' or other CPU kernels' baseline is not
    taken: the start is fitted here, and the model is the one a fit of its own gives."""
    cfg = BaselineConfig(c_steps=4)
    from neurofusion.training.baseline import train_baseline

    base_variant, base_fold, base_cfg = "baseline_fusion", 0, cfg
    tc, shuffle = LINEAR, None
    if other == "fold":
        base_fold = 1
    elif other == "variant":
        base_variant = "baseline_mri"
    elif other == "train_split":
        tc = dataclasses.replace(LINEAR, linear_fit="train_split")
    elif other == "shuffled":
        shuffle = 3
    else:
        base_cfg = BaselineConfig(c_steps=3)
    train_baseline(sources, SMALL_MODEL, LINEAR, base_cfg, base_variant, base_fold, tmp_path / "base")
    if other == "kernels":
        monkeypatch.setenv("NEUROFUSION_CPU_KERNELS", "native")
    run = FoldRun(sources, SMALL_MODEL, tc, "fusion", 0, shuffle_labels=shuffle, baseline_cfg=cfg)
    run.linear_from = str(tmp_path / "base" / "model.pt")
    torch.manual_seed(0)
    start = start_from_linear(FusionModel(run.cfg).eval(), run, seed=LINEAR.seed * 1000)
    why = "linear_fit train_split" if other == "train_split" else "other inputs or settings"
    assert start["source"].startswith("fitted here") and why in start["source"], start["source"]
    own = FoldRun(sources, SMALL_MODEL, tc, "fusion", 0, shuffle_labels=shuffle, baseline_cfg=cfg)
    assert start_from_linear(FusionModel(own.cfg).eval(), own, seed=LINEAR.seed * 1000)["C"] == start["C"]


@pytest.mark.parametrize("content", [None, b"not a torch file"])
def test_a_missing_or_unreadable_linear_start_is_one_line_and_writes_nothing(sources, tmp_path, content):
    from neurofusion.errors import NeurofusionError

    path = tmp_path / "baseline.pt"
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "run"
    with pytest.raises(NeurofusionError) as err:
        train_fold(sources, SMALL_MODEL, LINEAR, "fusion", 0, out, device="cpu", progress=False,
                   baseline_cfg=BaselineConfig(c_steps=4), linear_from=path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert not any(p.is_file() for p in out.rglob("*"))
