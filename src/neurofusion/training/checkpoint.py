"""The self-describing checkpoint (model.pt) and the resume state (last.pt).

model.pt holds plain Python values and tensors only (loads with ``weights_only=True``):

    format, package_version, torch_version, variant, fold, classes
    model_config        FusionConfig as a dict: rebuilds the exact model
    training_config     TrainConfig as a dict
    normalisation       protein median/IQR, embedding mean/std, clip, missing-value policy
    proteins            protein ids in model order, category ids, positions, the catalog rows
    grid                sha256, patch ids in model order, their template mm centres
    encoder             the embedding shards' metadata (encoder name, width, weights hash)
    best_epoch, subjects (train/val/test ids), fingerprint, state_dict
    ensemble            members (absent = 1); with more, state_dict holds members.<k>.* and
                        members_best_epoch / members_epochs_run one value per member
"""

from __future__ import annotations

import os

import torch

from ..errors import NeurofusionError
from ..io import atomic_output
from ..torchfile import save_torch
from ..model import FusionConfig, build_model

FORMAT = "neurofusion.checkpoint/1"
RESUME_FORMAT = "neurofusion.resume/1"


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` (with ``state_dict``) atomically."""
    with atomic_output(path) as tmp:
        save_torch({"format": FORMAT, **payload}, tmp)


def load_format(path, map_location, expected: str) -> dict:
    """The dict of a torch file whose ``format`` is ``expected``; one-line errors otherwise."""
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise NeurofusionError("checkpoint not found", path=path, fix="run the train step first")
    except Exception as exc:  # unpickling errors come in several types
        raise NeurofusionError(f"not a readable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})",
                               path=path, fix="delete it and rerun the train step")
    if not isinstance(data, dict) or data.get("format") != expected:
        raise NeurofusionError(f"not a {expected} file", path=path, fix="delete it and rerun the train step")
    return data


def load_checkpoint(path: str | os.PathLike, map_location="cpu"):
    """(model in eval mode with the trained weights, the checkpoint dict): a FusionModel, or a
    FusionEnsemble for a checkpoint of several members."""
    ckpt = load_format(path, map_location, FORMAT)
    model = build_model(FusionConfig.from_dict(ckpt["model_config"]), int(ckpt.get("ensemble", 1)))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


def save_resume_state(path: str | os.PathLike, state: dict) -> None:
    with atomic_output(path) as tmp:
        save_torch({"format": RESUME_FORMAT, **state}, tmp)


def load_resume_state(path: str | os.PathLike) -> dict | None:
    """The saved state, or None when the file is unreadable (then training starts fresh)."""
    try:
        return load_format(path, "cpu", RESUME_FORMAT)
    except NeurofusionError:
        return None
