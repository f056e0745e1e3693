"""One interface over every encoder kind: patches ``[N, 1, D, H, W]`` float -> ``[N, E]``.

    kind         weights                       module
    builtin      encoder.pt (pretrain-encoder)  builtin.BuiltinEncoder
    intensity    none                           intensity.IntensityEncoder
    torchscript  a TorchScript / .pt2 file      torchscript.TorchScriptEncoder
    monai        a state-dict file              monai_encoder.MonaiEncoder (vit | swin_unetr)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from torch import nn

from ..errors import NeurofusionError

KINDS = ("builtin", "intensity", "torchscript", "monai")


@dataclass
class LoadedEncoder:
    module: nn.Module  # forward: [N, 1, D, H, W] float -> [N, E]
    name: str  # written to the shard metadata, e.g. "builtin", "monai:vit"
    width: int  # E
    checkpoint_sha256: str | None  # of the weights file; None for the intensity baseline
    autocast: bool = True  # bf16 autocast on CUDA (off for TorchScript: a scripted graph keeps its own dtypes)
    pretrain: dict | None = None  # builtin only: how its pretraining ended (epochs run/planned, time limit hit)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_encoder(kind: str, weights: str | os.PathLike | None = None, *, patch_size: int = 12,
                 monai_options: dict | None = None) -> LoadedEncoder:
    """Build the encoder of ``kind`` on CPU, in eval mode, from its local weights file."""
    if kind not in KINDS:
        raise NeurofusionError(f"unknown encoder {kind!r}", fix=f"use one of {', '.join(KINDS)}")
    if kind == "intensity":
        from .intensity import IntensityEncoder

        module = IntensityEncoder().eval()
        return LoadedEncoder(module, module.name, module.width, None)
    if weights is None:
        raise NeurofusionError(f"encoder {kind!r} needs a weights file", fix="pass --weights PATH")
    if kind == "builtin":
        from .builtin import load_builtin

        module = load_builtin(weights)
        if int(module.cfg.patch_size) != int(patch_size):  # an encoder pretrained on other patches
            raise NeurofusionError(
                f"the encoder was pretrained on {module.cfg.patch_size}^3-voxel patches, these are {patch_size}^3",
                path=weights, fix="pretrain one on these patches (embedding.encoder: builtin) or cut patches of its "
                                  "size (patches.size_mm / preprocess.resolution)")
    elif kind == "torchscript":
        from .torchscript import load_torchscript

        module = load_torchscript(weights, patch_size)
    else:
        from .monai_encoder import load_monai_encoder, parse_monai_options

        module = load_monai_encoder(weights, parse_monai_options(monai_options or {}))
    return LoadedEncoder(module, module.name, int(module.width), file_sha256(weights), autocast=kind != "torchscript",
                         pretrain=getattr(module, "pretrain_outcome", None))
