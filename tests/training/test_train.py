import numpy as np
import pandas as pd
import pytest
import torch

from neurofusion.training.checkpoint import load_checkpoint
from neurofusion.training.settings import TrainConfig
from neurofusion.training.train import auc, lr_factor, train_fold

from .conftest import SMALL_MODEL, make_sources

QUICK = TrainConfig(epochs=6, batch_size=8, lr=3e-3, patience=50, warmup_epochs=1)


def weights(path):
    return load_checkpoint(path)[1]["state_dict"]


def assert_same_run(a, b):
    wa, wb = weights(a / "model.pt"), weights(b / "model.pt")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    pd.testing.assert_frame_equal(pd.read_parquet(a / "predictions.parquet"), pd.read_parquet(b / "predictions.parquet"))


def test_outputs_follow_the_contract(sources, tmp_path):
    out = tmp_path / "fusion" / "fold-1"
    train_fold(sources, SMALL_MODEL, QUICK, "fusion", 1, out, device="cpu", progress=False)
    pred = pd.read_parquet(out / "predictions.parquet")
    assert list(pred.columns) == ["participant_id", "fold", "variant", "label", "label_index", "prob_CN", "prob_AD"]
    test_ids = set(sources.cohort.loc[sources.cohort["fold"] == 1, "participant_id"])
    assert set(pred["participant_id"]) == test_ids
    assert (pred["fold"] == 1).all() and (pred["variant"] == "fusion").all()
    np.testing.assert_allclose(pred[["prob_CN", "prob_AD"]].sum(axis=1), 1.0, rtol=1e-5)
    hist = pd.read_csv(out / "history.tsv", sep="\t")
    assert list(hist.columns) == ["epoch", "train_loss", "val_loss", "val_auc", "lr", "best"]  # no wall clock
    assert hist["epoch"].tolist() == list(range(1, 7))
    subjects = pd.read_csv(out / "subjects.tsv", sep="\t")
    assert set(subjects.loc[subjects["role"] == "test", "participant_id"]) == test_ids
    assert not (out / "last.pt").exists()
    _, ckpt = load_checkpoint(out / "model.pt")
    for key in ("model_config", "training_config", "normalisation", "proteins", "grid", "encoder",
                "package_version", "best_epoch", "classes"):
        assert key in ckpt
    assert ckpt["proteins"]["position_in_category"] == sources.catalog["position_in_category"].tolist()
    assert set(ckpt["subjects"]["test"]) == test_ids
    assert not set(ckpt["subjects"]["train"]) & test_ids


def test_same_seed_gives_the_same_predictions(sources, tmp_path):
    for name in ("a", "b"):
        train_fold(sources, SMALL_MODEL, QUICK, "fusion", 0, tmp_path / name, device="cpu", progress=False)
    assert_same_run(tmp_path / "a", tmp_path / "b")


def test_another_seed_gives_other_weights(sources, tmp_path):
    train_fold(sources, SMALL_MODEL, QUICK, "mri", 0, tmp_path / "a", device="cpu", progress=False)
    other = TrainConfig(**{**QUICK.to_dict(), "seed": 1})
    train_fold(sources, SMALL_MODEL, other, "mri", 0, tmp_path / "b", device="cpu", progress=False)
    wa, wb = weights(tmp_path / "a" / "model.pt"), weights(tmp_path / "b" / "model.pt")
    assert not all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("variant", ["fusion", "protein"])
def test_resumed_run_equals_uninterrupted_run(sources, tmp_path, variant):
    tc = TrainConfig(**{**QUICK.to_dict(), "modality_dropout": 0.3})   # draws from the RNG too
    train_fold(sources, SMALL_MODEL, tc, variant, 2, tmp_path / "whole", device="cpu", progress=False)
    part = tmp_path / "parts"
    assert train_fold(sources, SMALL_MODEL, tc, variant, 2, part, device="cpu", progress=False,
                      stop_after_epochs=2) is None
    assert (part / "last.pt").exists() and not (part / "model.pt").exists()
    assert train_fold(sources, SMALL_MODEL, tc, variant, 2, part, device="cpu", progress=False,
                      stop_after_epochs=3) is None
    train_fold(sources, SMALL_MODEL, tc, variant, 2, part, device="cpu", progress=False)
    assert_same_run(tmp_path / "whole", part)
    for name in ("history.tsv", "model.pt", "predictions.parquet"):  # the same bytes, whatever the folder
        assert (tmp_path / "whole" / name).read_bytes() == (part / name).read_bytes(), name


def test_state_from_other_settings_is_not_resumed(sources, tmp_path):
    train_fold(sources, SMALL_MODEL, QUICK, "fusion", 0, tmp_path / "whole", device="cpu", progress=False)
    other = TrainConfig(**{**QUICK.to_dict(), "lr": 1e-2})
    out = tmp_path / "run"
    train_fold(sources, SMALL_MODEL, other, "fusion", 0, out, device="cpu", progress=False, stop_after_epochs=3)
    train_fold(sources, SMALL_MODEL, QUICK, "fusion", 0, out, device="cpu", progress=False)
    assert_same_run(tmp_path / "whole", out)


def test_early_stopping_keeps_the_best_epoch(sources, tmp_path):
    tc = TrainConfig(epochs=40, batch_size=8, lr=3e-3, patience=3, select_by="loss")
    result = train_fold(sources, SMALL_MODEL, tc, "mri", 0, tmp_path, device="cpu", progress=False)
    hist = pd.read_csv(tmp_path / "history.tsv", sep="\t")
    assert result["epochs_run"] == len(hist) <= 40
    assert result["best_epoch"] == int(hist.loc[hist["val_loss"].idxmin(), "epoch"])
    if len(hist) < 40:
        assert len(hist) - result["best_epoch"] == 3


def test_a_tiny_model_fits_a_separable_set(tmp_path):
    src = make_sources(n=48, mri_signal=4.0, prot_signal=4.0)
    tc = TrainConfig(epochs=25, batch_size=8, lr=3e-3, patience=50)
    pooled = []
    for fold in range(3):
        train_fold(src, SMALL_MODEL, tc, "fusion", fold, tmp_path / str(fold), device="cpu", progress=False)
        pooled.append(pd.read_parquet(tmp_path / str(fold) / "predictions.parquet"))
    pred = pd.concat(pooled)
    assert auc(pred[["prob_CN", "prob_AD"]].to_numpy(), pred["label_index"].to_numpy()) > 0.95


def test_auc_matches_pairwise_definition():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.4, 0.6], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])
    assert auc(probs, labels) == pytest.approx(0.875)   # pairs: (0.4 vs 0.1,0.4), (0.6 vs both)
    assert np.isnan(auc(probs, np.zeros(4, int)))


def test_learning_rate_warms_up_then_decays_to_the_floor():
    f = [lr_factor(s, 10, 100, 0.1) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:]))
    assert lr_factor(1000, 10, 100, 0.1) == pytest.approx(0.1)


def test_bf16_autocast_on_cpu_trains_and_predicts(sources, tmp_path, capsys, monkeypatch):
    # as under the steps' portable kernels: torch on AVX2, where bf16 is slower than float32
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    tc = TrainConfig(**{**QUICK.to_dict(), "epochs": 2, "cpu_amp": True})
    train_fold(sources, SMALL_MODEL, tc, "fusion", 0, tmp_path, device="cpu", progress=False)
    pred = pd.read_parquet(tmp_path / "predictions.parquet")
    assert np.isfinite(pred[["prob_CN", "prob_AD"]].to_numpy()).all()
    assert "WARNING: cpu_amp: bf16 autocast on this CPU is slower than float32" in capsys.readouterr().err


def test_modality_dropout_hides_one_whole_modality_never_both():
    from neurofusion.training.train import hide_modality

    torch.manual_seed(0)
    batch = {"mri_mask": torch.ones(200, 5, dtype=torch.bool), "prot_mask": torch.ones(200, 3, dtype=torch.bool)}
    hide_modality(batch, 0.6)
    mri_hidden = ~batch["mri_mask"].any(1)
    prot_hidden = ~batch["prot_mask"].any(1)
    assert not (mri_hidden & prot_hidden).any()
    assert (batch["mri_mask"].all(1) | mri_hidden).all()          # whole modality or nothing
    assert 0.45 < float((mri_hidden | prot_hidden).float().mean()) < 0.75


def test_an_ensemble_trains_every_member_and_averages_them(sources, tmp_path):
    from neurofusion.model import FusionEnsemble
    from neurofusion.training.predict import predict
    from neurofusion.training.train import FoldRun

    tc = TrainConfig(**{**QUICK.to_dict(), "ensemble": 3})
    out = tmp_path / "ens"
    result = train_fold(sources, SMALL_MODEL, tc, "fusion", 1, out, device="cpu", progress=False)
    assert len(result["best_epoch"]) == 3
    model, ckpt = load_checkpoint(out / "model.pt")
    assert isinstance(model, FusionEnsemble) and ckpt["ensemble"] == 3
    assert ckpt["members_best_epoch"] == result["best_epoch"] and ckpt["members_epochs_run"] == [6, 6, 6]
    hist = pd.read_csv(out / "history.tsv", sep="\t")
    assert list(hist.columns) == ["member", "epoch", "train_loss", "val_loss", "val_auc", "lr", "best"]
    assert hist.groupby("member")["epoch"].apply(list).tolist() == [list(range(1, 7))] * 3
    members = [m.state_dict() for m in model.members]
    assert not all(torch.equal(members[0][k], members[1][k]) for k in members[0])   # seeds of their own
    run = FoldRun(sources, SMALL_MODEL, tc, "fusion", 1)
    probs, _ = predict(model, run.data["test"], 64, torch.device("cpu"))
    pred = pd.read_parquet(out / "predictions.parquet")
    np.testing.assert_allclose(pred["prob_AD"], probs[:, 1], rtol=1e-6)
    each = np.stack([predict(m, run.data["test"], 64, torch.device("cpu"))[0] for m in model.members])
    logit = np.log(each[..., 1] / each[..., 0]).mean(axis=0)                # mean log-odds of the members
    np.testing.assert_allclose(pred["prob_AD"], 1 / (1 + np.exp(-logit)), rtol=1e-5)


def test_an_ensemble_resumed_across_members_equals_an_uninterrupted_one(sources, tmp_path):
    tc = TrainConfig(**{**QUICK.to_dict(), "ensemble": 2, "modality_dropout": 0.3})
    train_fold(sources, SMALL_MODEL, tc, "fusion", 0, tmp_path / "whole", device="cpu", progress=False)
    part = tmp_path / "parts"
    for epochs in (4, 5):   # stops inside member 0, then inside member 1
        assert train_fold(sources, SMALL_MODEL, tc, "fusion", 0, part, device="cpu", progress=False,
                          stop_after_epochs=epochs) is None
    train_fold(sources, SMALL_MODEL, tc, "fusion", 0, part, device="cpu", progress=False)
    for name in ("history.tsv", "model.pt", "predictions.parquet"):
        assert (tmp_path / "whole" / name).read_bytes() == (part / name).read_bytes(), name
