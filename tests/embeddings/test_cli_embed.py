"""`neurofusion pretrain-encoder` and `neurofusion embed`, run in-process as the workflow runs them."""

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from neurofusion.cli import main
from neurofusion.embeddings.store import read_embeddings

TINY_PRETRAIN = ["--epochs", "3", "--batch-size", "16", "--lr", "0.003", "--width", "16", "--seed", "1",
                 "--patches-per-epoch", "32", "--threads", "1", "--device", "cpu"]


@pytest.fixture
def pretrained(patch_cohort, tmp_path):
    out, hist = tmp_path / "emb" / "encoder.pt", tmp_path / "emb" / "pretrain_history.tsv"
    rc = main(["pretrain-encoder", "--patches-dir", str(patch_cohort["dir"]), "--grid", str(patch_cohort["grid"]),
               "--out", str(out), "--history", str(hist), *TINY_PRETRAIN])
    assert rc == 0
    return out, hist


def embed(patch_cohort, out, *encoder_flags, dtype="float32", batch="7"):
    return main(["embed", *encoder_flags, "--patches", *map(str, patch_cohort["files"]), "--grid",
                 str(patch_cohort["grid"]), "--out", str(out), "--dtype", dtype, "--batch-size", batch,
                 "--threads", "1", "--device", "cpu"])


def test_pretrain_writes_checkpoint_and_history_and_reruns_to_the_same_bytes(pretrained, patch_cohort, tmp_path):
    out, hist = pretrained
    lines = hist.read_text().splitlines()
    assert lines[0].split("\t") == ["epoch", "loss", "lr", "patches"] and len(lines) == 4  # no wall clock
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["config"]["width"] == 16 and ckpt["pretrain"]["subjects"] == 5
    again = tmp_path / "other" / "encoder-again.pt"
    assert main(["pretrain-encoder", "--patches-dir", str(patch_cohort["dir"]), "--grid", str(patch_cohort["grid"]),
                 "--out", str(again), "--history", str(tmp_path / "other" / "h.tsv"), *TINY_PRETRAIN]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_pretrain_layout_flag_reaches_the_checkpoint_and_the_shards(pretrained, patch_cohort, tmp_path):
    """--layout strided is trained, saved and rebuilt as strided; without the flag: full."""
    default, _ = pretrained
    assert torch.load(default, weights_only=True)["config"]["layout"] == "full"
    out = tmp_path / "strided" / "encoder.pt"
    assert main(["pretrain-encoder", "--patches-dir", str(patch_cohort["dir"]), "--grid", str(patch_cohort["grid"]),
                 "--out", str(out), "--history", str(tmp_path / "strided" / "h.tsv"), "--layout", "strided",
                 *TINY_PRETRAIN]) == 0
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["config"]["layout"] == "strided" and ckpt["pretrain"]["config"]["layout"] == "strided"
    assert ckpt["state_dict"]["features.0.0.weight"].shape == (16, 1, 3, 3, 3)  # stride 2 from the patch: 2c = 16
    shard = tmp_path / "strided" / "shard-000.parquet"
    assert embed(patch_cohort, shard, "--encoder", "builtin", "--weights", str(out)) == 0
    assert read_embeddings([shard]).values.shape == (5, 16, 16)


def test_pretrain_without_patches_fails_cleanly(tmp_path, capsys):
    out = tmp_path / "encoder.pt"
    rc = main(["pretrain-encoder", "--patches-dir", str(tmp_path / "none"), "--grid", str(tmp_path / "grid.parquet"),
               "--out", str(out), "--history", str(tmp_path / "h.tsv"), *TINY_PRETRAIN])
    assert rc == 2 and "grid.parquet: patch grid not found" in capsys.readouterr().err
    assert not out.exists()


def test_builtin_shard_schema_metadata_and_identical_rerun(patch_cohort, pretrained, tmp_path):
    weights, _ = pretrained
    a, b = tmp_path / "shard-000.parquet", tmp_path / "again.parquet"
    assert embed(patch_cohort, a, "--encoder", "builtin", "--weights", str(weights)) == 0
    assert embed(patch_cohort, b, "--encoder", "builtin", "--weights", str(weights)) == 0
    assert a.read_bytes() == b.read_bytes()
    schema = pq.read_schema(a)
    assert schema.names == ["participant_id", "patch_id", "embedding"]
    meta = json.loads(schema.metadata[b"neurofusion.embedding"])
    assert meta == {"encoder": "builtin", "width": 16, "dtype": "float32",
                    "checkpoint_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                    "pretrain": {"epochs_run": 3, "epochs_planned": 3, "stopped_by_max_seconds": False,
                                 "max_seconds": None}}
    es = read_embeddings([a])
    assert es.participant_ids == [f"sub-{i:03d}" for i in range(1, 6)]
    assert es.values.shape == (5, 16, 16) and np.isfinite(es.values).all()


def test_intensity_float16_shard(patch_cohort, tmp_path):
    out = tmp_path / "shard-000.parquet"
    assert embed(patch_cohort, out, "--encoder", "intensity", dtype="float16") == 0
    assert str(pq.read_schema(out).field("embedding").type.value_type) == "halffloat"
    es = read_embeddings(out)
    assert es.values.shape == (5, 16, 35) and es.metadata["checkpoint_sha256"] is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_encoder_from_a_local_file(patch_cohort, tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 3), torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten())
    ts = tmp_path / "mine.ts"
    torch.jit.script(net).save(str(ts))
    out = tmp_path / "shard-000.parquet"
    assert embed(patch_cohort, out, "--encoder", "torchscript", "--weights", str(ts)) == 0
    meta = read_embeddings(out).metadata
    assert meta["encoder"] == "torchscript" and meta["width"] == 4


def test_monai_vit_with_config_style_flags(patch_cohort, tmp_path):
    from monai.networks.nets import ViT

    net = ViT(in_channels=1, img_size=16, patch_size=8, hidden_size=32, mlp_dim=64, num_layers=1, num_heads=4,
              classification=True)
    weights = tmp_path / "vit.pt"
    torch.save(net.state_dict(), weights)
    out = tmp_path / "shard-000.parquet"
    # as common.smk renders {img_size: [16, 16, 16], ...}: a list arrives as separate shell words
    flags = ["--encoder", "monai", "--monai-name", "vit", "--weights", str(weights), "--monai-img-size", "[16,",
             "16,", "16]", "--monai-patch-size", "8", "--monai-hidden-size", "32", "--monai-mlp-dim", "64",
             "--monai-num-layers", "1", "--monai-num-heads", "4"]
    assert embed(patch_cohort, out, *flags) == 0
    es = read_embeddings(out)
    assert es.metadata["encoder"] == "monai:vit" and es.values.shape == (5, 16, 32)


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_bad_checkpoint_is_one_line_and_writes_nothing(patch_cohort, pretrained, tmp_path, capsys, damage):
    weights, _ = pretrained
    bad = tmp_path / "bad-encoder.pt"
    if damage == "truncated":
        bad.write_bytes(weights.read_bytes()[:500])
    out = tmp_path / "shard-000.parquet"
    assert embed(patch_cohort, out, "--encoder", "builtin", "--weights", str(bad)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad-encoder.pt" in err
    assert not out.exists() and not list(tmp_path.glob(".shard-000*"))


def test_patch_count_mismatch_is_named(patch_cohort, tmp_path, capsys):
    np.save(patch_cohort["files"][2], np.zeros((3, 12, 12, 12), np.float16))
    out = tmp_path / "shard-000.parquet"
    assert embed(patch_cohort, out, "--encoder", "intensity") == 2
    assert "subject sub-003: has 3 patches but the grid has 16" in capsys.readouterr().err
    assert not out.exists()


def test_every_monai_option_has_a_flag():
    from dataclasses import fields

    from neurofusion.cli.embed import MONAI_KEYS
    from neurofusion.embeddings.monai_encoder import MonaiSpec

    assert set(MONAI_KEYS) == {f.name for f in fields(MonaiSpec)} - {"name"}


def test_failure_records_are_left_out_of_pretraining_and_shards(patch_cohort, tmp_path, capsys):
    """A subject whose scan preprocessing excluded has a failure record instead of patches."""
    from neurofusion.failure import write_failure_record

    files = patch_cohort["files"]
    files[1].unlink()
    write_failure_record(files[1], "sub-002_T1w.nii.gz: empty file")
    out, hist = tmp_path / "emb" / "encoder.pt", tmp_path / "emb" / "h.tsv"
    assert main(["pretrain-encoder", "--patches-dir", str(patch_cohort["dir"]), "--grid", str(patch_cohort["grid"]),
                 "--out", str(out), "--history", str(hist), *TINY_PRETRAIN]) == 0
    assert torch.load(out, weights_only=True)["pretrain"]["subjects"] == 4
    shard = tmp_path / "shard-000.parquet"
    assert embed(patch_cohort, shard, "--encoder", "builtin", "--weights", str(out)) == 0
    assert read_embeddings(shard).participant_ids == ["sub-001", "sub-003", "sub-004", "sub-005"]
    assert "left out 1 subject(s) whose scan preprocessing excluded: sub-002" in capsys.readouterr().out
    # a shard whose every scan failed is an empty shard, not an error
    only = tmp_path / "shard-001.parquet"
    assert main(["embed", "--encoder", "intensity", "--patches", str(files[1]), "--grid", str(patch_cohort["grid"]),
                 "--out", str(only), "--threads", "1", "--device", "cpu"]) == 0
    assert read_embeddings(only).values.shape[0] == 0


def _cohort(path, folds: dict) -> None:
    import pandas as pd

    pd.DataFrame({"participant_id": list(folds), "fold": list(folds.values())}).to_parquet(path)


def test_leave_out_fold_pretrains_on_the_other_folds_only(patch_cohort, tmp_path, capsys):
    """embedding.pretrain.scope: fold. Fold 0's encoder is the one pretrained on the other folds'
    subjects alone (sub-005 has patches but no cohort row: left out too), says so in its
    checkpoint and in the shards it embeds, and the whole-cohort encoder's record is unchanged."""
    import shutil

    cohort = tmp_path / "participants.parquet"
    _cohort(cohort, {"sub-001": 0, "sub-002": 1, "sub-003": 0, "sub-004": 1})
    out = tmp_path / "fold-0" / "encoder.pt"
    assert main(["pretrain-encoder", "--patches-dir", str(patch_cohort["dir"]), "--grid", str(patch_cohort["grid"]),
                 "--out", str(out), "--history", str(tmp_path / "fold-0" / "h.tsv"), *TINY_PRETRAIN,
                 "--cohort", str(cohort), "--leave-out-fold", "0"]) == 0
    assert "left out fold 0: 2 subject(s) with patches" in capsys.readouterr().out
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["pretrain"]["pretrained_on"] == ["sub-002", "sub-004"]
    assert ckpt["pretrain"]["scope"] == "fold" and ckpt["pretrain"]["left_out_subjects"] == 2
    # the same encoder weights as pretraining on a patches folder holding only those two subjects
    alone = tmp_path / "alone"
    for i in (2, 4):
        shutil.copytree(patch_cohort["dir"] / f"sub-{i:03d}", alone / f"sub-{i:03d}")
    ref = tmp_path / "alone.pt"
    assert main(["pretrain-encoder", "--patches-dir", str(alone), "--grid", str(patch_cohort["grid"]),
                 "--out", str(ref), "--history", str(tmp_path / "alone.tsv"), *TINY_PRETRAIN]) == 0
    expected = torch.load(ref, weights_only=True)
    assert "scope" not in expected["pretrain"]
    assert all(torch.equal(ckpt["state_dict"][k], expected["state_dict"][k]) for k in expected["state_dict"])
    shard = tmp_path / "shard-000.parquet"
    assert embed(patch_cohort, shard, "--encoder", "builtin", "--weights", str(out)) == 0
    meta = json.loads(pq.read_schema(shard).metadata[b"neurofusion.embedding"])
    assert meta["pretrain"] == {**meta["pretrain"], "scope": "fold", "left_out_fold": 0, "pretrained_on": 2}
    assert read_embeddings(shard).participant_ids == [f"sub-{i:03d}" for i in range(1, 6)]  # every scan embedded


@pytest.mark.parametrize("flags, message", [
    (["--leave-out-fold", "0"], "--cohort and --leave-out-fold go together"),
    (["--cohort", "COHORT", "--leave-out-fold", "7"], "--leave-out-fold 7 is not a fold of the cohort (folds [0, 1])"),
    (["--cohort", "ONEFOLD", "--leave-out-fold", "0"], "no subject outside fold 0 has patches to pretrain on"),
    (["--cohort", "MISSING", "--leave-out-fold", "0"], "cohort table not found"),
])
def test_leave_out_fold_errors_are_one_line_and_write_nothing(patch_cohort, tmp_path, capsys, flags, message):
    _cohort(tmp_path / "c.parquet", {"sub-001": 0, "sub-002": 1})
    _cohort(tmp_path / "one.parquet", {"sub-001": 0, "sub-002": 0})
    names = {"COHORT": "c.parquet", "ONEFOLD": "one.parquet", "MISSING": "none.parquet"}
    flags = [str(tmp_path / names[f]) if f in names else f for f in flags]
    out = tmp_path / "emb" / "encoder.pt"
    assert main(["pretrain-encoder", "--patches-dir", str(patch_cohort["dir"]), "--grid", str(patch_cohort["grid"]),
                 "--out", str(out), "--history", str(tmp_path / "emb" / "h.tsv"), *TINY_PRETRAIN, *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
