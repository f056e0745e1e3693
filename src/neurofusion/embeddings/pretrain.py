"""Self-supervised pretraining of the built-in encoder on the cohort's own patches.

SimCLR-style contrast: two random 3D views of each patch (augment.random_view) go through
encoder + a small projection head; the NT-Xent loss pulls the two views of a patch
together and pushes the other 2B - 2 views of the batch away. Labels are never read.

    patches [M, S, S, S] --(sample patches_per_epoch)--> batch [B, 1, S, S, S]
        view a, view b -> encoder -> [B, E] -> head -> [B, d] -> NT-Xent(a, b)

An epoch is a fresh random sample of ``patches_per_epoch`` patches (all, when fewer), so
the CPU cost per epoch does not grow with the cohort. The budget is in epochs, so a seed
fixes every number on any machine. ``max_seconds`` (off by default) is a safety cap for a
user who wants one: a run it stops depends on the machine's speed and load, and the
summary says so (``stopped_by_max_seconds``, ``epochs_run``), so the report can flag it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import NeurofusionError
from ..runtime import adamw
from .augment import AugmentConfig, random_view
from .builtin import BuiltinConfig, BuiltinEncoder


@dataclass
class PretrainConfig:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 64
    stem_channels: int = 8
    layout: str = "full"  # the encoder's layout (builtin.py): full | strided
    seed: int = 0
    max_seconds: float | None = None  # None: no wall-clock cap (the reproducible default)
    patches_per_epoch: int = 2048
    max_patches: int = 200_000
    temperature: float = 0.2
    projection_dim: int = 32
    weight_decay: float = 1e-4
    intensity_jitter: float = 0.0  # views' intensity scale/offset (augment.py): off keeps intensity meaning


def sample_patches(arrays: Sequence[np.ndarray], max_patches: int, seed: int) -> np.ndarray:
    """Stack the patches of all subjects (``[P_i, S, S, S]`` each) into ``[M, S, S, S]`` float16.

    Past ``max_patches`` in total, the same random fraction is drawn from every subject,
    so a large cohort is not read into memory whole.
    """
    total = sum(len(a) for a in arrays)
    if total == 0:
        raise NeurofusionError("no patches to pretrain on", fix="check the patches step produced arrays")
    rng = np.random.default_rng(seed)
    keep = min(1.0, max_patches / total)
    parts = []
    for arr in arrays:
        if keep < 1.0:
            k = max(1, int(round(len(arr) * keep)))
            rows = np.sort(rng.choice(len(arr), size=k, replace=False))
            parts.append(np.asarray(arr[rows], dtype=np.float16))
        else:
            parts.append(np.asarray(arr, dtype=np.float16))
    return np.concatenate(parts, axis=0)  # [M, S, S, S]


def nt_xent(za: torch.Tensor, zb: torch.Tensor, temperature: float) -> torch.Tensor:
    """Contrastive loss of two views ``[B, d]``: each view must pick its partner among 2B - 1."""
    z = F.normalize(torch.cat([za, zb], dim=0), dim=1)  # [2B, d]
    sim = z @ z.T / temperature  # [2B, 2B]
    n = za.shape[0]
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)  # partner index
    return F.cross_entropy(sim, target)


def _projection_head(width: int, dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, dim))


def _lr_at(step: int, total: int, base: float) -> float:
    """Linear warm-up over the first 5 % of steps, then cosine decay to 5 % of ``base``."""
    warm = max(1, total // 20)
    if step < warm:
        return base * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def pretrain_builtin(patches: np.ndarray, cfg: PretrainConfig, device: str | torch.device = "cpu",
                     log: Callable[[str], None] | None = None) -> tuple[BuiltinEncoder, list[dict], dict]:
    """Train a :class:`BuiltinEncoder` on ``patches [M, S, S, S]``.

    Returns the encoder (eval mode, on CPU), one history row per epoch
    (``epoch, loss, lr, patches``: no wall-clock time, so the same inputs give the same
    bytes; the log has the times) and a summary for the checkpoint.
    """
    device = torch.device(device)
    m, s = patches.shape[0], patches.shape[-1]
    if m < 2:
        raise NeurofusionError(f"only {m} patch(es) to pretrain on; contrastive pretraining needs at least 2")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    encoder = BuiltinEncoder(BuiltinConfig(width=cfg.width, stem_channels=cfg.stem_channels, patch_size=s,
                                           layout=cfg.layout)).to(device)
    head = _projection_head(cfg.width, cfg.projection_dim).to(device)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = adamw(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    per_epoch = min(m, cfg.patches_per_epoch)
    batch = max(2, min(cfg.batch_size, per_epoch))
    steps_per_epoch = per_epoch // batch  # a last batch smaller than `batch` is dropped
    total_steps = max(1, cfg.epochs * steps_per_epoch)
    views = AugmentConfig(intensity_jitter=cfg.intensity_jitter)
    history, step, start, stopped_early = [], 0, time.perf_counter(), False
    encoder.train(), head.train()
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(m, generator=gen)[:per_epoch]
        losses = []
        for k in range(steps_per_epoch):
            idx = order[k * batch:(k + 1) * batch].sort().values.numpy()
            x = torch.from_numpy(patches[idx].astype(np.float32)).unsqueeze(1)  # [B, 1, S, S, S]
            va, vb = random_view(x, gen, views).to(device), random_view(x, gen, views).to(device)
            lr = _lr_at(step, total_steps, cfg.lr)
            for group in opt.param_groups:
                group["lr"] = lr
            loss = nt_xent(head(encoder(va)), head(encoder(vb)), cfg.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
            if cfg.max_seconds is not None and time.perf_counter() - start > cfg.max_seconds:
                stopped_early = True
                break
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "lr": lr, "patches": len(losses) * batch}
        history.append(row)
        elapsed = time.perf_counter() - start
        if log:
            log(f"epoch {epoch:3d}  loss {row['loss']:.4f}  lr {lr:.2e}  {elapsed:.1f}s")
        if stopped_early:
            if log:
                log(f"WARNING: stopped by the time limit after {elapsed:.1f}s, in epoch {epoch} of {cfg.epochs} "
                    f"(max_seconds {cfg.max_seconds:g}); this encoder depends on the machine's speed and load")
            break
    summary = {
        "objective": "simclr_nt_xent",
        "config": asdict(cfg),
        "patches_available": int(m),
        "epochs_run": len(history),
        "epochs_planned": cfg.epochs,
        "stopped_by_max_seconds": stopped_early,
        "first_loss": history[0]["loss"],
        "final_loss": history[-1]["loss"],
    }
    return encoder.cpu().eval(), history, summary
