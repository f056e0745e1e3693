"""Faithful token attribution for every test subject: the methods side by side, batched.

    method       what a token's value means                                   cost per batch
    occlusion    score lost when the token is masked (model's own masks)       1 + (P + K) B / rows passes
    relevance    gradient-weighted attention relevance (Chefer et al. 2021)     1 forward + 1 backward
    integrated   integrated gradients from the training-mean input (Captum)     steps forward + backward

score = log-odds of the positive class (score.py). ``randomised_copy`` gives the model with
the same architecture and freshly drawn weights for the Adebayo et al. (2018) sanity check:
a map that survives randomisation shows the anatomy or the data, not the model.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..errors import NeurofusionError
from ..model import members_of
from .methods import METHODS
from .integrated import integrated_gradients
from .occlusion import occlusion
from .relevance import relevance


def check_methods(methods) -> list[str]:
    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise NeurofusionError(f"unknown attribution method(s) {', '.join(unknown) or '(none given)'}",
                               fix=f"use any of {', '.join(METHODS)}")
    return methods


def attribute(model, data, methods=METHODS, batch_size: int = 32, device="cpu", ig_steps: int = 32) -> dict:
    """Per method {"mri": [N, P], "protein": [N, K]} (float32, the used modalities) for ``data``
    (a training.data.Batchable), plus "integrated_delta": [N] when integrated gradients ran."""
    device = torch.device(device)
    model = model.to(device).eval()
    parts: dict[str, dict[str, list[np.ndarray]]] = {m: {} for m in methods}
    deltas = []
    for start in range(0, len(data), batch_size):
        index = torch.arange(start, min(start + batch_size, len(data)))
        batch = data.batch(index, device)
        for method in methods:
            if method == "occlusion":
                got = occlusion(model, batch)
            elif method == "relevance":
                got = relevance(model, batch)
            else:
                got, delta = integrated_gradients(model, batch, ig_steps)
                deltas.append(delta.cpu().numpy())
            for key, value in got.items():
                parts[method].setdefault(key, []).append(value.float().cpu().numpy())
    out = {m: {k: np.concatenate(v).astype(np.float32) for k, v in parts[m].items()} for m in methods}
    if deltas:
        out["integrated_delta"] = np.concatenate(deltas)
    return out


def randomised_copy(model, seed: int):
    """The same architecture with every weight drawn afresh (seeded; the original is untouched)."""
    clone = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for module in clone.modules():
            reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
            if callable(reset) and module is not clone:
                reset()
        for member in members_of(clone):
            for name, parameter in member.named_parameters(recurse=False):
                with torch.no_grad():
                    parameter.normal_(0.0, 0.02)  # stand-in tokens for an absent modality
    return clone.eval()
