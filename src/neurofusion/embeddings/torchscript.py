"""A user's own encoder exported as TorchScript (``torch.jit.save``) or ``torch.export``
(``.pt2``): any module mapping patches ``[N, 1, D, H, W]`` to embeddings ``[N, E]``."""

from __future__ import annotations

import os
import warnings

import torch
from torch import nn

from ..errors import NeurofusionError


class TorchScriptEncoder(nn.Module):
    """Wraps the loaded module; ``width`` is found by running one blank patch through it."""

    name = "torchscript"

    def __init__(self, module, patch_size: int, path=None):
        super().__init__()
        self.module = module
        self.width = _probe_width(module, patch_size, path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.module(x)
        return out[0] if isinstance(out, (tuple, list)) else out


def _probe_width(module, patch_size: int, path) -> int:
    with torch.inference_mode():
        try:
            out = module(torch.zeros(2, 1, patch_size, patch_size, patch_size))
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise NeurofusionError(f"module fails on a [2, 1, {patch_size}, {patch_size}, {patch_size}] batch ({first})",
                                   path=path, fix="export a module that maps [N, 1, D, H, W] patches to [N, E]")
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise NeurofusionError(f"module returns {shape} for 2 patches, expected [2, E]", path=path,
                               fix="export a module that maps [N, 1, D, H, W] patches to [N, E]")
    return int(out.shape[1])


def load_torchscript(path: str | os.PathLike, patch_size: int) -> TorchScriptEncoder:
    fix = "point embedding.encoder.torchscript at a file written by torch.jit.save or torch.export.save"
    if not os.path.isfile(path):
        raise NeurofusionError("TorchScript encoder not found", path=path, fix=fix)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated but supported
            if str(path).endswith(".pt2"):
                module = torch.export.load(str(path)).module()
            else:
                module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise NeurofusionError(f"cannot load the TorchScript encoder ({first})", path=path, fix=fix)
    try:
        module.eval()
    except (AttributeError, NotImplementedError, RuntimeError):  # exported programs have no train mode
        pass
    return TorchScriptEncoder(module, patch_size, path)
