"""The built-in encoder: a compact 3D CNN that `pretrain-encoder` trains without labels.

Two layouts (``BuiltinConfig.layout``); every block is conv + GroupNorm + GELU:

    patch [N, 1, S, S, S]                    "full"                        "strided"
      full resolution   conv3 (c)                        [c,  S   ]    -
      down1             conv3 stride 2 (2c), conv3 (2c)  [2c, S/2 ]    the same, from the patch
      down2             conv3 stride 2 (E)               [E,  S/4 ]    the same
      last              conv3 (E)                        [E,  S/4 ]    conv1 (E)
      -> mean and max pool over space, concatenated, linear           [N, E]

"full" (the default, and the layout of every checkpoint written before the option) has
157,416 weights at E = 64, c = 8. "strided" drops the convolution at the patch's full
resolution (down1's stride-2 3^3 kernels still read every voxel) and mixes the last grid's
channels with a 1^3 kernel instead of a 3^3 one (on the 4^3 grid of a 14^3 patch, 42 % of its
taps are padding): 47,664 weights and 2.3-2.5x less time a pretraining step
(benchmarks/bench_pretrain.py); its AUCs differ from full's by about what the pretraining
seed moves alone (README, Embeddings).

GroupNorm (not BatchNorm) keeps one patch's embedding independent of what else is in its
batch, so sharding and batch size never change the numbers beyond float rounding.
The checkpoint is a plain dict (loadable with ``weights_only=True``) holding the config
that builds the network, its weights and a summary of the pretraining run.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import NeurofusionError
from ..torchfile import save_torch

CHECKPOINT_FORMAT = "neurofusion.builtin_encoder"
CHECKPOINT_VERSION = 1


@dataclass
class BuiltinConfig:
    width: int = 64  # E, the embedding size
    stem_channels: int = 8  # c
    patch_size: int = 12  # S, voxels per side the encoder was pretrained on
    layout: str = "full"  # "full" | "strided" (module docstring); a checkpoint without it is "full"


LAYOUTS = {"full": (True, 3), "strided": (False, 1)}  # layout -> (full-resolution stem, last kernel)


def _conv_block(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    groups = 8 if c_out % 8 == 0 else 1
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel_size=kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.GroupNorm(groups, c_out),
        nn.GELU(),
    )


class BuiltinEncoder(nn.Module):
    """patches [N, 1, D, H, W] -> embeddings [N, width]."""

    name = "builtin"

    def __init__(self, cfg: BuiltinConfig):
        super().__init__()
        self.cfg = cfg
        c, e = cfg.stem_channels, cfg.width
        if cfg.layout not in LAYOUTS:
            raise NeurofusionError(f"unknown built-in encoder layout {cfg.layout!r}",
                                   fix=f"use one of {', '.join(LAYOUTS)}")
        full, last_kernel = LAYOUTS[cfg.layout]
        self.features = nn.Sequential(
            *([_conv_block(1, c)] if full else []),
            _conv_block(c if full else 1, 2 * c, stride=2),
            _conv_block(2 * c, 2 * c),
            _conv_block(2 * c, e, stride=2),
            _conv_block(e, e, kernel=last_kernel),
        )
        self.pool_proj = nn.Linear(2 * e, e)
        self.width = e

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)  # [N, E, d, h, w]
        pooled = torch.cat([f.mean(dim=(2, 3, 4)), f.amax(dim=(2, 3, 4))], dim=1)  # [N, 2E]
        return self.pool_proj(pooled)  # [N, E]


def save_builtin(path: str | os.PathLike, encoder: BuiltinEncoder, pretrain_summary: dict) -> None:
    """Write the checkpoint dict to ``path`` (the caller makes it atomic); same bytes on rerun."""
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    save_torch({
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": asdict(encoder.cfg),
        "state_dict": state,
        "pretrain": pretrain_summary,
    }, path)


def load_builtin(path: str | os.PathLike) -> BuiltinEncoder:
    """Rebuild the encoder from its checkpoint; a missing or damaged file is a one-line error."""
    fix = ("rerun the pretrain_encoder step (delete the file first if it is damaged), or point "
           "embedding.encoder.builtin at a checkpoint `neurofusion pretrain-encoder` wrote")
    if not os.path.isfile(path):
        raise NeurofusionError("encoder checkpoint not found", path=path, fix=fix)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged zip/pickle
        raise NeurofusionError(f"cannot read the encoder checkpoint ({type(exc).__name__})", path=path, fix=fix)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise NeurofusionError("not a built-in encoder checkpoint", path=path,
                               fix="give other weights as embedding.encoder {torchscript: PATH} or {monai: ...} "
                                   "(CLI: --encoder torchscript | monai), or rerun pretrain_encoder")
    try:
        encoder = BuiltinEncoder(BuiltinConfig(**ckpt["config"]))
        encoder.load_state_dict(ckpt["state_dict"], strict=True)
    except (KeyError, TypeError, RuntimeError, NeurofusionError) as exc:  # NeurofusionError: an unknown layout
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NeurofusionError(f"checkpoint does not match the built-in encoder ({first})", path=path, fix=fix)
    encoder.pretrain_outcome = pretrain_outcome(ckpt.get("pretrain") or {})
    return encoder.eval()


def pretrain_outcome(summary: dict) -> dict:
    """What the embedding shards (and so the report) carry about how pretraining ended, and,
    for an encoder pretrained without one fold (``embedding.pretrain.scope: fold``), which."""
    outcome = {"epochs_run": summary.get("epochs_run"), "epochs_planned": summary.get("epochs_planned"),
               "stopped_by_max_seconds": bool(summary.get("stopped_by_max_seconds", False)),
               "max_seconds": (summary.get("config") or {}).get("max_seconds")}
    if summary.get("scope") == "fold":  # absent for the whole-cohort encoder: its shards keep their bytes
        outcome.update(scope="fold", left_out_fold=summary["left_out_fold"],
                       pretrained_on=len(summary.get("pretrained_on", [])))
    return outcome
