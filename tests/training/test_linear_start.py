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


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_the_start_is_the_baseline(sources, variant, tmp_path):
    """linear_fit: training_part (the default): the model starts as baseline_<variant> itself."""
    from neurofusion.training.baseline import train_baseline

    cfg = BaselineConfig(c_steps=4)
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
