import numpy as np
import pandas as pd
import pytest

from neurofusion.training.checkpoint import load_checkpoint
from neurofusion.training.predict import inputs_for, predict
from neurofusion.training.settings import TrainConfig
from neurofusion.training.train import train_fold

from .conftest import SMALL_MODEL, write_stage_files

TC = TrainConfig(epochs=3, batch_size=8)


def test_checkpoint_alone_reproduces_the_test_predictions(sources, tmp_path):
    train_fold(sources, SMALL_MODEL, TC, "fusion", 1, tmp_path, device="cpu", progress=False)
    saved = pd.read_parquet(tmp_path / "predictions.parquet")
    model, ckpt = load_checkpoint(tmp_path / "model.pt")
    data = inputs_for(ckpt, sources, list(saved["participant_id"]))
    probs, attention = predict(model, data, batch_size=5, device="cpu", return_attention=True)
    np.testing.assert_allclose(probs, saved[["prob_CN", "prob_AD"]].to_numpy(), rtol=1e-5, atol=1e-6)
    assert len(attention) == SMALL_MODEL["num_cross_layers"]
    m2p = attention[0]["mri_to_protein"]                       # [N, P, K]
    assert m2p.shape == (len(saved), 12, 6)
    np.testing.assert_allclose(m2p.sum(-1), 1.0, rtol=1e-5)
    assert (m2p[~data.prot_mask.numpy()[:, None, :].repeat(12, 1)] == 0).all()


def test_run_inference_from_stage_files(sources, tmp_path):
    pytest.importorskip("neurofusion.imaging.grid", reason="the grid reader (imaging stage) is not built yet")
    from neurofusion.training.predict import run_inference

    from neurofusion.training.data import load_sources

    paths = write_stage_files(sources, tmp_path / "in")
    sources = load_sources(paths["cohort"], [paths["embeddings"]], paths["grid"], paths["proteins"], paths["catalog"])
    train_fold(sources, SMALL_MODEL, TC, "fusion", 0, tmp_path / "out", device="cpu", progress=False)
    saved = pd.read_parquet(tmp_path / "out" / "predictions.parquet")
    ids = list(saved["participant_id"])
    res = run_inference(tmp_path / "out" / "model.pt", paths["cohort"], [paths["embeddings"]], paths["grid"],
                        paths["proteins"], paths["catalog"], participant_ids=ids, return_attention=True,
                        per_head=True)
    assert res.participant_ids == ids and res.classes == ["CN", "AD"]
    np.testing.assert_allclose(res.probabilities, saved[["prob_CN", "prob_AD"]].to_numpy(), rtol=1e-5, atol=1e-6)
    assert res.labels == list(saved["label"]) and res.protein_ids == list(sources.catalog["protein_id"])
    assert res.attention[0]["protein_to_mri"].shape == (len(ids), SMALL_MODEL["num_heads"], 6, 12)
    assert res.mri_mask.shape == (len(ids), 12) and res.prot_mask.shape == (len(ids), 6)
    everyone = run_inference(tmp_path / "out" / "model.pt", paths["cohort"], paths["embeddings"], paths["grid"],
                             paths["proteins"], paths["catalog"])
    assert everyone.participant_ids == sorted(sources.cohort["participant_id"]) and everyone.attention is None
