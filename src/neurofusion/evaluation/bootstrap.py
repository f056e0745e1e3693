"""Subject-level bootstrap: resampling counts, percentile CIs and paired differences.

Resampling is stratified by true class (each repeat keeps the class sizes of the data),
so every repeat has both positives and negatives and AUC is always defined. A repeat is
a row of counts ``[n]`` (how often each subject was drawn); repeats are generated in
chunks and evaluated together by the vectorised metrics.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

CHUNK = 250  # repeats per chunk: bounds memory at CHUNK x n floats


def stream_seed(seed: int, name: str) -> np.random.SeedSequence:
    """An independent, reproducible random stream per (seed, name), e.g. per variant."""
    return np.random.SeedSequence([int(seed), zlib.crc32(name.encode())])


def resample_counts(labels: np.ndarray, n_boot: int, rng: np.random.Generator,
                    chunk: int = CHUNK) -> Iterator[np.ndarray]:
    """Yield count matrices ``[b, n]`` (b <= chunk) summing to ``n_boot`` rows in total."""
    n = len(labels)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        drawn = np.concatenate([g[rng.integers(0, len(g), size=(b, len(g)))] for g in groups], axis=1)  # [b, n]
        offsets = (np.arange(b) * n)[:, None]
        counts = np.bincount((drawn + offsets).ravel(), minlength=b * n).reshape(b, n)
        done += b
        yield counts.astype(np.float64)


@dataclass
class Interval:
    estimate: float
    low: float
    high: float


def percentile_interval(estimate: float, samples: np.ndarray, level: float = 0.95) -> Interval:
    finite = samples[np.isfinite(samples)]
    if not np.isfinite(estimate) or finite.size == 0:
        return Interval(float(estimate), float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


def bootstrap_samples(statistic: Callable[[np.ndarray], dict[str, np.ndarray]], labels: np.ndarray,
                      n_boot: int, seed: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """Evaluate ``statistic(weights [b, n]) -> {name: [b]}`` on ``n_boot`` stratified repeats."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {}
    for counts in resample_counts(labels, n_boot, rng):
        for name, values in statistic(counts).items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(v) for name, v in parts.items()}


def paired_p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value for 'no difference': twice the smaller tail share of
    repeats at or beyond zero, with the +1 correction so it is never exactly 0."""
    d = differences[np.isfinite(differences)]
    if d.size == 0:
        return float("nan")
    below = (np.count_nonzero(d <= 0) + 1) / (d.size + 1)
    above = (np.count_nonzero(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2 * min(below, above)))
