import pytest
import torch

from neurofusion.errors import NeurofusionError
from neurofusion.model import FusionModel
from neurofusion.training.checkpoint import load_checkpoint, save_checkpoint
from neurofusion.training.settings import TrainConfig
from neurofusion.training.train import train_fold

from .conftest import SMALL_MODEL


def test_checkpoint_rebuilds_the_model_that_wrote_it(sources, tmp_path):
    train_fold(sources, SMALL_MODEL, TrainConfig(epochs=2), "protein", 0, tmp_path, device="cpu", progress=False)
    model, ckpt = load_checkpoint(tmp_path / "model.pt")
    assert isinstance(model, FusionModel) and not model.training
    assert model.cfg.variant == "protein" and model.cfg.hidden_dim == SMALL_MODEL["hidden_dim"]
    assert ckpt["encoder"]["encoder"] == "test"
    assert len(ckpt["grid"]["sha256"]) == 64 and len(ckpt["grid"]["coords"]) == len(ckpt["grid"]["patch_ids"])
    assert 1 <= ckpt["best_epoch"] <= 2
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in ckpt["state_dict"].items())


def test_damaged_or_foreign_files_are_user_errors(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(NeurofusionError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    torch.save({"something": 1}, bad)
    with pytest.raises(NeurofusionError, match="not a neurofusion.checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(NeurofusionError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_saved_checkpoint_is_plain_data(tmp_path):
    save_checkpoint(tmp_path / "x.pt", {"state_dict": {"w": torch.ones(2)}, "note": "plain"})
    data = torch.load(tmp_path / "x.pt", weights_only=True)
    assert data["format"] == "neurofusion.checkpoint/1" and data["note"] == "plain"
