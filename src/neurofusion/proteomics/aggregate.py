"""Measurements of all files -> one cell per (participant, protein); replicates averaged.

Cells are addressed as participant * K + protein on a dense [N, K] grid, so merging,
averaging and flag combination are single `np.bincount` passes (no sorting, no
Python loops over rows). The grid is the training matrix itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import NeurofusionError

MAX_CELLS = 500_000_000


@dataclass
class Cells:
    n: int                    # participants
    k: int                    # proteins (catalog order)
    count: np.ndarray         # [N*K] int32 measurements per cell
    value: np.ndarray         # [N*K] float64 mean of the non-missing measurements (NaN = none)
    below_lod: np.ndarray     # [N*K] bool, any measurement below LOD
    qc_warning: np.ndarray    # [N*K] bool, any measurement with a QC warning
    source: np.ndarray        # [N*K] int32 file of the first measurement (-1 = none)


def combine(participant: np.ndarray, protein: np.ndarray, value: np.ndarray, below: np.ndarray,
            warn: np.ndarray, source: np.ndarray, n: int, k: int) -> Cells:
    """All inputs are [M] arrays with global codes (participant in 0..n-1, protein in 0..k-1)."""
    if n * k > MAX_CELLS:
        raise NeurofusionError(f"{n} participants x {k} proteins is too large a matrix",
                               fix="split the protein tables or select fewer proteins")
    key = participant.astype(np.int64) * k + protein          # [M]
    size = n * k
    count = np.bincount(key, minlength=size).astype(np.int32)
    if count.max(initial=0) <= 1:  # no replicates: scatter directly
        mean = np.full(size, np.nan)
        mean[key] = value
        below_c = np.zeros(size, bool)
        below_c[key] = below
        warn_c = np.zeros(size, bool)
        warn_c[key] = warn
        src = np.full(size, -1, np.int32)
        src[key] = source
        return Cells(n, k, count, mean, below_c, warn_c, src)
    finite = ~np.isnan(value)
    total = np.bincount(key, weights=np.where(finite, value, 0.0), minlength=size)
    valid = np.bincount(key, weights=finite, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid > 0, total / np.maximum(valid, 1), np.nan)
    del total, valid
    below_c = np.bincount(key, weights=below, minlength=size) > 0
    warn_c = np.bincount(key, weights=warn, minlength=size) > 0
    src = np.full(size, -1, np.int32)
    src[key[::-1]] = source[::-1]  # the last write wins: reversed, that is the first measurement
    return Cells(n, k, count, mean, below_c, warn_c, src)
