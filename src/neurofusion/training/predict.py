"""Inference from a checkpoint alone: probabilities and, on request, cross-attention weights.

Used by training (test-fold predictions) and by the evaluation and attention steps via
``run_inference``; needs nothing of the training run but model.pt and the stage inputs.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..errors import NeurofusionError
from .data import Batchable, Normaliser, Sources, available, eligible, gather, grid_hash, to_tensors


@dataclass
class InferenceResult:
    participant_ids: list[str]
    probabilities: np.ndarray           # [N, C] float32, classes in checkpoint order
    labels: list[str]                   # true label per subject
    label_index: np.ndarray             # [N] int64
    classes: list[str]
    patch_ids: np.ndarray               # [P] patch ids of the attention's MRI axis
    protein_ids: list[str]              # [K] protein ids of the attention's protein axis
    mri_mask: np.ndarray | None = None   # [N, P] bool, True = patch present
    prot_mask: np.ndarray | None = None  # [N, K] bool, True = protein value present (token not masked)
    attention: list[dict] | None = None  # per cross layer {"mri_to_protein": [N,(H,)P,K], "protein_to_mri": [N,(H,)K,P]}
    extra: dict = field(default_factory=dict)


def autocast(device: torch.device, cuda: bool, cpu: bool = False):
    """bf16 autocast where enabled for the device type, else a no-op."""
    if (device.type == "cuda" and cuda) or (device.type == "cpu" and cpu):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict(model, data: Batchable, batch_size: int, device, return_attention: bool = False,
            per_head: bool = False, amp: bool = True, cpu_amp: bool = False) -> tuple[np.ndarray, list[dict] | None]:
    """(probabilities [N, C], attention per cross layer or None), in ``data`` order."""
    device = torch.device(device)
    model.eval()
    probs, layers = [], None
    for start in range(0, len(data), batch_size):
        index = torch.arange(start, min(start + batch_size, len(data)))
        with autocast(device, amp, cpu_amp):
            out = model(**data.batch(index, device), return_attention=return_attention, per_head=per_head)
        probs.append(out["logits"].float().softmax(dim=-1).cpu())
        if return_attention:
            got = [{k: v.float().cpu() for k, v in layer.items()} for layer in out["attention"]]
            layers = [[g] for g in got] if layers is None else [acc + [g] for acc, g in zip(layers, got)]
    p = torch.cat(probs).numpy() if probs else np.zeros((0, model.cfg.num_classes), np.float32)
    if not return_attention:
        return p, None
    attention = [{k: torch.cat([g[k] for g in acc]).numpy() for k in acc[0]} for acc in (layers or [])]
    return p, attention


def inputs_for(ckpt: dict, src: Sources, ids: Sequence[str]) -> Batchable:
    """Model inputs of ``ids`` arranged and normalised exactly as at training time."""
    width = int(ckpt["model_config"]["embed_dim"])
    patch_ids = np.asarray(ckpt["grid"]["patch_ids"], np.int64)
    raw = gather(src, available(src), ids, patch_ids, ckpt["proteins"]["protein_ids"], width)
    return to_tensors(raw, Normaliser.from_dict(ckpt["normalisation"]), np.asarray(ckpt["grid"]["coords"], np.float32),
                      np.asarray(ckpt["proteins"]["category_id"]), np.asarray(ckpt["proteins"]["position_in_category"]))


def run_inference(checkpoint, cohort, embeddings, grid, proteins, catalog,
                  participant_ids: Sequence[str] | None = None, return_attention: bool = False,
                  per_head: bool = False, batch_size: int = 32, device="cpu") -> InferenceResult:
    """Predict from a checkpoint (path, or the (model, ckpt) pair of load_checkpoint).

    Without ``participant_ids``: every cohort subject the checkpoint's variant can use
    (by default those with both modalities), sorted by id.
    """
    from .checkpoint import load_checkpoint
    from .data import load_sources

    model, ckpt = load_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    if isinstance(embeddings, (str, os.PathLike)):
        embeddings = [embeddings]
    src = load_sources(cohort, embeddings, grid, proteins, catalog)
    if grid_hash(src.grid, src.grid_meta) != ckpt["grid"]["sha256"]:
        raise NeurofusionError("patch grid differs from the one the model was trained with", path=grid,
                               fix="use the grid.parquet of the training run, or retrain")
    pool = available(src)
    if participant_ids is None:
        used, _ = eligible(pool, ckpt["variant"], ckpt["training_config"]["subjects"])
        ids = sorted(used["participant_id"])
    else:
        ids = [str(s) for s in participant_ids]
        unknown = [s for s in ids if s not in set(pool["participant_id"])]
        if unknown:
            raise NeurofusionError(f"{len(unknown)} participant(s) are not in the cohort, e.g. {unknown[0]}",
                                   path=cohort, fix="pass ids from participants.parquet")
    data = inputs_for(ckpt, src, ids)
    dev = torch.device(device)
    model.to(dev)
    tc = ckpt["training_config"]
    probs, attention = predict(model, data, batch_size, dev, return_attention, per_head,
                               bool(tc.get("amp", True)), bool(tc.get("cpu_amp", False)))
    classes = list(ckpt["classes"])
    index = data.labels.numpy()
    return InferenceResult(ids, probs, [classes[i] for i in index], index, classes,
                           np.asarray(ckpt["grid"]["patch_ids"], np.int64), list(ckpt["proteins"]["protein_ids"]),
                           data.mri_mask.numpy(), data.prot_mask.numpy(), attention)
