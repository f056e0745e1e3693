"""training.linear_start: the transformer starts as the fold's logistic regression."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from neurofusion.training.baseline import BLOCKS, feature_blocks, fit, select_c
from neurofusion.training.predict import predict
from neurofusion.training.settings import BaselineConfig, TrainConfig
from neurofusion.training.train import FoldRun, start_from_linear, train_fold
from neurofusion.model import FusionModel

from .test_train import QUICK, SMALL_MODEL

LINEAR = dataclasses.replace(QUICK, linear_start=True)


@pytest.mark.parametrize("variant", ["fusion", "mri", "protein"])
def test_the_start_is_the_logistic_regression(sources, variant):
    run = FoldRun(sources, SMALL_MODEL, LINEAR, variant, 1, baseline_cfg=BaselineConfig(c_steps=4))
    torch.manual_seed(0)
    model = FusionModel(run.cfg).eval()
    start_from_linear(model, run, seed=5)
    assert not model.linear.weight.requires_grad
    # the same regression, fitted by hand on the same rows, predicts the same probabilities
    train = feature_blocks(run.data["train"], BLOCKS[variant])
    labels = run.data["train"].labels.numpy().astype(np.int64)
    C, _ = select_c(train, labels, 2, run.baseline_cfg, 5, "balanced")
    expected = fit(train, labels, C, run.baseline_cfg, 5, "balanced").predict(
        feature_blocks(run.data["test"], BLOCKS[variant]))
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
