"""A config that names a user's own pretrained encoder file runs through the real workflow.

`embedding.encoder` may be `{torchscript: PATH}` or `{monai: {name, weights: PATH, ...}}`
instead of `builtin`. Each test takes a private copy of the finished tiny run, writes a
small encoder file outside it (as a user would have one on disk), adds a config file that
points at it, and runs Snakemake for real up to the embedding shards and one training job:

    patches (unchanged) --> embed_patches (per shard, the user's encoder) --> train fusion fold 0
                                                                      (and baseline_fusion fold 0, its linear start)

With a user's encoder there is no `pretrain_encoder` job at all; each shard records the
encoder kind, its width E and the sha256 of the weights file in its Parquet metadata.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from torch import nn

from .conftest import TINY_CONFIG, TinyRun, failure_report, planned_jobs, rules_of

pytestmark = pytest.mark.slow

SHARD_META_KEY = b"neurofusion.embedding"
N_TRAIN = TINY_CONFIG["cohort"]["folds"]  # one job per fold trains every variant (baselines too)
TRAIN_TARGET = "results/train/fusion/fold-0/model.pt"
UPSTREAM = {"demo_cohort", "preprocess_t1", "patch_grid", "extract_patches", "cohort", "proteins"}

TS_WIDTH = 10
VIT = {"img_size": [16, 16, 16], "patch_size": 8, "hidden_size": 24, "mlp_dim": 48, "num_layers": 1, "num_heads": 2}


class _PatchEncoder(nn.Module):
    """patches [N, 1, D, H, W] -> [N, E]: one strided conv, mean+max pooled, a linear head."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv3d(1, 4, kernel_size=3, stride=2)
        self.head = nn.Linear(8, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x))  # [N, 4, d, h, w]
        pooled = torch.cat([h.mean(dim=(2, 3, 4)), h.amax(dim=(2, 3, 4))], dim=1)  # [N, 8]
        return self.head(pooled)  # [N, E]


def _torchscript_file(folder: Path) -> tuple[Path, torch.jit.ScriptModule]:
    torch.manual_seed(0)
    path = folder / "my_encoder.ts.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, still what users export
        module = torch.jit.script(_PatchEncoder(TS_WIDTH).eval())
        torch.jit.save(module, str(path))
    return path, module


def _vit_state_dict() -> dict[str, torch.Tensor]:
    """A randomly initialised tiny MONAI ViT, as a user would save it (state dict only)."""
    from monai.networks.nets import ViT

    torch.manual_seed(0)
    net = ViT(in_channels=1, img_size=VIT["img_size"], patch_size=VIT["patch_size"],
              hidden_size=VIT["hidden_size"], mlp_dim=VIT["mlp_dim"], num_layers=VIT["num_layers"],
              num_heads=VIT["num_heads"])
    return net.state_dict()


def _with_encoder(run: TinyRun, encoder, folder: Path) -> TinyRun:
    """The same run folder with one more config file setting `embedding.encoder`."""
    override = folder / "user_encoder.yaml"
    override.write_text(yaml.safe_dump({"embedding": {"encoder": encoder}}, sort_keys=False))
    return TinyRun(run.root, [*run.configfiles, override])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shards(run: TinyRun) -> list[Path]:
    return sorted((run.results / "embeddings").glob("shard-*.parquet"))


def _embedding_matrix(table: pa.Table, width: int) -> np.ndarray:
    return table.column("embedding").combine_chunks().flatten().to_numpy().reshape(-1, width)  # [rows, E]


def _user_encoder_setup(kind: str, folder: Path):
    """(config value, expected shard encoder name, E, weights file, module to recompute with or None)."""
    if kind == "torchscript":
        path, module = _torchscript_file(folder)
        return {"torchscript": str(path)}, "torchscript", TS_WIDTH, path, module
    path = folder / "my_vit.pt"
    torch.save(_vit_state_dict(), path)
    return {"monai": {"name": "vit", "weights": str(path), **VIT}}, "monai:vit", VIT["hidden_size"], path, None


@pytest.mark.parametrize("kind", ["torchscript", "monai"])
def test_user_encoder_embeds_and_trains(kind, tiny_copy, tmp_path):
    folder = tmp_path / "encoders"
    folder.mkdir()
    encoder, name, width, weights, module = _user_encoder_setup(kind, folder)
    run = _with_encoder(tiny_copy, encoder, folder)
    builtin_ckpt = run.results / "embeddings" / "encoder.pt"
    builtin_mtime = builtin_ckpt.stat().st_mtime_ns
    shards_before = _shards(run)
    assert len(shards_before) == 2, shards_before

    targets = [str(s.relative_to(run.root)) for s in shards_before] + [TRAIN_TARGET]
    out = run.snakemake(*targets, timeout=600)
    assert out.returncode == 0, failure_report(out, run.root)

    # what ran: one embed job per shard and fold 0's train job (every variant); no pretraining,
    # nothing upstream
    ran = planned_jobs(out.stdout + out.stderr)
    assert "pretrain_encoder" not in rules_of(ran)
    assert not rules_of(ran) & UPSTREAM, sorted(rules_of(ran))
    assert sorted(j.wildcards.get("shard") for j in ran if j.rule == "embed_patches") == ["000", "001"]
    assert [j.wildcards for j in ran if j.rule == "train"] == [{"fold": "0"}]
    assert builtin_ckpt.stat().st_mtime_ns == builtin_mtime  # the old pretrained encoder was not touched

    # the shards: the user's encoder named in the metadata, E wide, its file's hash
    digest = _sha256(weights)
    assert _shards(run) == shards_before
    for shard in shards_before:
        schema = pq.read_schema(shard)
        meta = json.loads(schema.metadata[SHARD_META_KEY])
        assert meta == {"encoder": name, "width": width, "checkpoint_sha256": digest, "dtype": "float32"}
        column = schema.field("embedding").type
        assert pa.types.is_fixed_size_list(column) and column.list_size == width, column
        table = pq.read_table(shard)
        values = _embedding_matrix(table, width)  # [rows, E]
        assert values.shape == (table.num_rows, width)
        assert np.isfinite(values).all() and values.std(axis=0).max() > 0

    if module is not None:  # the shard rows are what the user's module gives for that subject's patches
        table = pq.read_table(shards_before[0])
        subject = table.column("participant_id")[0].as_py()
        rows = table.filter(pc.equal(table.column("participant_id"), subject))
        stored = _embedding_matrix(rows, width)  # [P, E]
        patch_file = next((run.results / "patches" / subject).glob("*_desc-patches.npy"))
        patches = torch.from_numpy(np.load(patch_file).astype(np.float32)).unsqueeze(1)  # [P, 1, S, S, S]
        with torch.inference_mode():
            expected = module(patches).numpy()  # [P, E]
        # exact on CPU; the tolerance leaves room for TF32 convolutions where device: auto finds a GPU
        np.testing.assert_allclose(stored, expected, rtol=2e-3, atol=2e-3)

    # training ran on them: the model is E wide and records the same encoder
    ckpt = torch.load(run.root / TRAIN_TARGET, map_location="cpu", weights_only=True)
    assert ckpt["model_config"]["embed_dim"] == width
    assert ckpt["encoder"]["encoder"] == name and ckpt["encoder"]["checkpoint_sha256"] == digest

    # and afterwards the embedding stage is up to date; only the other train jobs onward remain
    after = run.dry_run()
    assert not rules_of(after) & ({"pretrain_encoder", "embed_patches"} | UPSTREAM), sorted(rules_of(after))
    trains = [j.wildcards for j in after if j.rule == "train"]
    assert len(trains) == N_TRAIN - 1 and {"fold": "0"} not in trains


def test_monai_weights_with_wrong_keys_fail_cleanly(tiny_copy, tmp_path):
    folder = tmp_path / "encoders"
    folder.mkdir()
    # a state dict from a differently named implementation: blocks.* saved as layers.*
    state = {k.replace("blocks.", "layers.", 1): v for k, v in _vit_state_dict().items()}
    weights = folder / "not_monai_vit.pt"
    torch.save(state, weights)
    run = _with_encoder(tiny_copy, {"monai": {"name": "vit", "weights": str(weights), **VIT}}, folder)
    embeddings = run.results / "embeddings"
    targets = [str(s.relative_to(run.root)) for s in _shards(run)]
    for shard in _shards(run):  # the builtin run's shards: so any shard seen afterwards is new
        shard.unlink()

    out = run.snakemake(*targets, timeout=300)
    assert out.returncode != 0, out.stdout[-3000:]
    assert "embed_patches" in out.stdout + out.stderr

    errors = []
    for log in sorted((run.results / "logs" / "embed").glob("shard-*.log")):
        text = log.read_text()
        lines = [line for line in text.splitlines() if line.startswith("neurofusion embed: error:")]
        if lines:
            assert len(lines) == 1 and "Traceback" not in text, text[-3000:]
            errors += lines
    assert errors, failure_report(out, run.root)
    for line in errors:
        assert str(weights) in line, line
        assert "missing keys [blocks." in line and "unexpected keys [layers." in line, line

    assert not list(embeddings.glob("shard-*.parquet"))
    assert not [p.name for p in embeddings.iterdir() if p.name.startswith(".shard-")]
