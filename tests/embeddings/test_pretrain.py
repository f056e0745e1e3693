import numpy as np
import torch

from neurofusion.embeddings.builtin import load_builtin, save_builtin
from neurofusion.embeddings.pretrain import PretrainConfig, nt_xent, pretrain_builtin, sample_patches

TINY = dict(epochs=6, batch_size=16, lr=3e-3, width=16, stem_channels=4, patches_per_epoch=64)


def test_nt_xent_prefers_matching_views():
    z = torch.randn(8, 4)
    assert nt_xent(z, z, 0.2) < nt_xent(z, torch.randn(8, 4), 0.2)


def test_sample_patches_caps_and_spreads_over_subjects(patch_maker):
    arrays = [patch_maker(10, 6, seed=i) for i in range(4)]
    assert sample_patches(arrays, 1000, 0).shape == (40, 6, 6, 6)
    capped = sample_patches(arrays, 20, 0)
    assert capped.shape == (20, 6, 6, 6) and capped.dtype == np.float16


def test_pretraining_reduces_loss_and_is_reproducible(patch_maker):
    patches = np.concatenate([patch_maker(16, 12, seed=i) for i in range(4)])  # [64, 12, 12, 12]
    cfg = PretrainConfig(seed=3, **TINY)
    enc_a, hist_a, summary = pretrain_builtin(patches, cfg)
    losses = [row["loss"] for row in hist_a]
    assert len(losses) == TINY["epochs"] and not summary["stopped_by_max_seconds"]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.1
    enc_b, hist_b, _ = pretrain_builtin(patches, cfg)
    assert [r["loss"] for r in hist_b] == losses
    for (k, va), vb in zip(enc_a.state_dict().items(), enc_b.state_dict().values()):
        assert torch.equal(va, vb), k
    enc_c, _, _ = pretrain_builtin(patches, PretrainConfig(seed=4, **TINY))
    assert not torch.equal(enc_c.pool_proj.weight, enc_a.pool_proj.weight)


def test_budget_is_epochs_and_history_has_no_clock(patch_maker):
    patches = np.concatenate([patch_maker(16, 12, seed=i) for i in range(2)])
    cfg = PretrainConfig(seed=1, **TINY)
    assert cfg.max_seconds is None
    _, history, summary = pretrain_builtin(patches, cfg)
    assert summary["epochs_run"] == summary["epochs_planned"] == TINY["epochs"]
    assert all(set(row) == {"epoch", "loss", "lr", "patches"} for row in history)


def test_a_time_limit_that_stops_the_run_is_recorded(patch_maker, tmp_path):
    patches = np.concatenate([patch_maker(16, 12, seed=i) for i in range(2)])
    cfg = PretrainConfig(seed=1, **{**TINY, "max_seconds": 1e-9})
    encoder, history, summary = pretrain_builtin(patches, cfg)
    assert summary["stopped_by_max_seconds"] and summary["epochs_run"] == 1 < summary["epochs_planned"]
    assert history[0]["patches"] == TINY["batch_size"]  # it stopped after the first step
    save_builtin(tmp_path / "encoder.pt", encoder, summary)
    outcome = load_builtin(tmp_path / "encoder.pt").pretrain_outcome
    assert outcome == {"epochs_run": 1, "epochs_planned": TINY["epochs"], "stopped_by_max_seconds": True,
                       "max_seconds": 1e-9}


def test_the_strided_layout_pretrains_and_its_checkpoint_rebuilds_it(patch_maker, tmp_path):
    patches = np.concatenate([patch_maker(16, 12, seed=i) for i in range(2)])
    encoder, _, summary = pretrain_builtin(patches, PretrainConfig(seed=1, layout="strided", **TINY))
    save_builtin(tmp_path / "encoder.pt", encoder, summary)
    back = load_builtin(tmp_path / "encoder.pt")
    assert back.cfg.layout == "strided" and summary["config"]["layout"] == "strided"
    x = torch.from_numpy(patches[:3].astype(np.float32)).unsqueeze(1)
    with torch.inference_mode():
        assert torch.equal(encoder(x), back(x))
    full, _, _ = pretrain_builtin(patches, PretrainConfig(seed=1, **TINY))
    assert full.cfg.layout == "full" and len(full.features) == len(encoder.features) + 1
