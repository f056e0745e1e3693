"""Normalisation fitted on the training subjects only, stored in the checkpoint.

- proteins: per-protein robust z-score, (x - median) / IQR, NaN ignored when fitting;
  a protein with no spread (or no value) in the training part gets scale 1.
- embeddings: per-feature mean / standard deviation over the present patches of the
  training subjects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ProteinScaler:
    median: np.ndarray  # [K] float32
    iqr: np.ndarray     # [K] float32, > 0

    @classmethod
    def fit(cls, values: np.ndarray) -> "ProteinScaler":
        """values [N, K] of the training subjects, NaN = missing."""
        k = values.shape[1]
        median, iqr = np.zeros(k, np.float32), np.ones(k, np.float32)
        for j in range(k):  # per column: nan-quantiles warn on all-NaN columns
            col = values[:, j]
            col = col[np.isfinite(col)]
            if col.size:
                q1, q2, q3 = np.quantile(col.astype(np.float64), [0.25, 0.5, 0.75])
                median[j] = q2
                iqr[j] = q3 - q1 if q3 - q1 > 1e-12 else 1.0
        return cls(median, iqr)

    def transform(self, values: np.ndarray, clip: float) -> np.ndarray:
        z = (values - self.median) / self.iqr          # [N, K], NaN stays NaN
        return np.clip(z, -clip, clip).astype(np.float32)

    def to_dict(self) -> dict:
        return {"median": self.median.tolist(), "iqr": self.iqr.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "ProteinScaler":
        return cls(np.asarray(d["median"], np.float32), np.asarray(d["iqr"], np.float32))


@dataclass
class EmbeddingScaler:
    mean: np.ndarray  # [E] float32
    std: np.ndarray   # [E] float32, > 0

    @classmethod
    def fit(cls, values: np.ndarray, mask: np.ndarray) -> "EmbeddingScaler":
        """values [N, P, E], mask [N, P] True = present (training subjects only)."""
        present = values[mask].astype(np.float64)      # [n_present, E]
        if present.shape[0] == 0:
            e = values.shape[-1]
            return cls(np.zeros(e, np.float32), np.ones(e, np.float32))
        std = present.std(axis=0)
        return cls(present.mean(axis=0).astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32))

    @classmethod
    def identity(cls, width: int) -> "EmbeddingScaler":
        return cls(np.zeros(width, np.float32), np.ones(width, np.float32))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)   # [N, P, E]

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "EmbeddingScaler":
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32))
