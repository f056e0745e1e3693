"""Threads, seeds and device choice, set the same way by every step."""

from __future__ import annotations

import os
import random

import numpy as np


def set_threads(n: int | None) -> int:
    """Use ``n`` CPU threads (the rule's ``threads``) in torch, ITK and BLAS."""
    n = max(1, int(n or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ[var] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return n


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def pick_device(requested: str = "auto"):
    """``auto`` -> CUDA when visible, else CPU; ``cpu``/``cuda`` force one."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
