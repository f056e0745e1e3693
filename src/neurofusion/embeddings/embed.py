"""Batched inference: every patch of every subject of a shard through one encoder.

Batches run across subject boundaries (the last patches of one subject share a batch with
the first of the next), under ``torch.inference_mode``. On CUDA the batch is moved as
channels-last 3D and run under bf16 autocast (TorchScript modules keep their own dtypes); on CPU everything stays float32, and the
same inputs with the same batch size give the same bytes.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np
import torch

from ..errors import NeurofusionError
from .encoders import LoadedEncoder


def prepare_module(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    module = module.to(device)
    if device.type == "cuda":
        with contextlib.suppress(Exception):  # not every module (e.g. an exported program) supports it
            module = module.to(memory_format=torch.channels_last_3d)
    return module


def to_device(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """float16/float32 ``[B, S, S, S]`` numpy -> float32 ``[B, 1, S, S, S]`` on ``device``.

    On CUDA the batch crosses as it is stored (float16: half the bytes) and is widened there.
    """
    if device.type != "cuda":
        return torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).unsqueeze(1)  # [B, 1, S, S, S]
    x = torch.from_numpy(np.ascontiguousarray(batch)).pin_memory().to(device, non_blocking=True)
    return x.float().unsqueeze(1).contiguous(memory_format=torch.channels_last_3d)  # [B, 1, S, S, S]


def autocast_for(device: torch.device, enabled: bool = True):
    if device.type == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def iter_batches(arrays: Sequence[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive ``[B, S, S, S]`` batches over all rows of all arrays, in order."""
    pending: list[np.ndarray] = []
    have = 0
    for arr in arrays:
        start = 0
        while start < len(arr):
            take = min(batch_size - have, len(arr) - start)
            pending.append(arr[start:start + take])
            have += take
            start += take
            if have == batch_size:
                yield np.concatenate(pending, axis=0)
                pending, have = [], 0
    if have:
        yield np.concatenate(pending, axis=0)


def encode_arrays(encoder: LoadedEncoder, arrays: Sequence[np.ndarray], *, batch_size: int = 64,
                  device: str | torch.device = "cpu", names: Sequence[str] | None = None) -> np.ndarray:
    """Embed every patch of ``arrays`` (each ``[P_i, S, S, S]``) -> float32 ``[sum P_i, E]``."""
    device = torch.device(device)
    module = prepare_module(encoder.module, device).eval()
    total = sum(len(a) for a in arrays)
    out = np.empty((total, encoder.width), dtype=np.float32)  # [sum P, E]
    row = 0
    with torch.inference_mode(), autocast_for(device, encoder.autocast):
        for batch in iter_batches(arrays, max(1, int(batch_size))):
            emb = module(to_device(batch, device))  # [B, E]
            if emb.ndim != 2 or emb.shape != (len(batch), encoder.width):
                raise NeurofusionError(f"encoder {encoder.name} returned {tuple(emb.shape)} for "
                                       f"{len(batch)} patches, expected [{len(batch)}, {encoder.width}]")
            out[row:row + len(batch)] = emb.float().cpu().numpy()
            row += len(batch)
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:
        owner = _owner_of_row(arrays, int(bad[0]), names)
        raise NeurofusionError(f"encoder {encoder.name} gave non-finite embeddings for {bad.size} patch(es), "
                               f"first: {owner}", fix="check the patch array and the encoder weights")
    return out


def _owner_of_row(arrays, row: int, names) -> str:
    for i, a in enumerate(arrays):
        if row < len(a):
            return f"{names[i] if names else f'array {i}'} patch {row}"
        row -= len(a)
    return f"row {row}"
