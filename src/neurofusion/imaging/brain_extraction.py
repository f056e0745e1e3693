"""Brain extraction with deepbet (weights ship inside the package; nothing is downloaded)."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=1)
def _deepbet():
    import warnings

    from deepbet.bet import BrainExtraction

    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: deepbet ships TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        return BrainExtraction(no_gpu=True)


def network_shape(resolution: float) -> tuple[int, int, int]:
    """Grid the brain's bounding box is resized to for the network.

    deepbet was trained at 256^3; 192^3 costs ~2.4x less and, measured on synthetic heads,
    lost 0.003 Dice against the true mask (128^3 lost 0.05), so the 2 mm path uses 192^3.
    """
    return (256, 256, 256) if resolution < 1.5 else (192, 192, 192)


def extract_brain(data: np.ndarray, resolution: float = 2.0) -> np.ndarray:
    """bool [X, Y, Z] brain mask of a whole-head RAS volume float32 [X, Y, Z].

    Same steps as deepbet's own ``BrainExtraction.run`` (bounding-box network, brain network,
    largest component, hole filling), without its file round trip.
    """
    import torch

    bet = _deepbet()
    with torch.inference_mode():
        prob = bet.run_model(np.array(data, dtype=np.float32, copy=True), shape=network_shape(resolution))
    mask = prob > 0.5
    if not mask.any():
        return mask
    return np.asarray(bet.postprocess(mask), dtype=bool)
