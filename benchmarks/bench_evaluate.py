"""Bootstrap CIs of the evaluation metrics: vectorised (neurofusion) vs a per-repeat loop.

Baseline: the obvious implementation, one scikit-learn call per metric per bootstrap
repeat. Both sides score exactly the same resamples, so the CIs must agree; the script
checks that and prints absolute times and the speed-up.

    .venv/bin/python benchmarks/bench_evaluate.py                 # 300 subjects, 1000 repeats, 3 variants
    .venv/bin/python benchmarks/bench_evaluate.py --subjects 2000 --repeats 2000
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import time

import numpy as np
from sklearn import metrics as skm

from neurofusion.runtime import cpu_description
from neurofusion.evaluation.bootstrap import bootstrap_samples, resample_counts, stream_seed
from neurofusion.evaluation.metrics import METRICS, all_metrics


def synthetic(n: int, strength: float, rng) -> tuple[np.ndarray, np.ndarray]:
    labels = (np.arange(n) % 2).astype(np.int64)
    p = 1 / (1 + np.exp(-(strength * (2 * labels - 1) + rng.normal(size=n))))
    return labels, np.column_stack([1 - p, p])


def naive_ece(labels, probs, n_bins=10):
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            total += inside.mean() * abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
    return total


def naive_metrics(labels, probs) -> dict[str, float]:
    pred = probs.argmax(axis=1)
    return {"auc": skm.roc_auc_score(labels, probs[:, 1]),
            "balanced_accuracy": skm.balanced_accuracy_score(labels, pred),
            "sensitivity": skm.recall_score(labels, pred, pos_label=1),
            "specificity": skm.recall_score(labels, pred, pos_label=0),
            "f1": skm.f1_score(labels, pred), "brier": skm.brier_score_loss(labels, probs[:, 1]),
            "ece": naive_ece(labels, probs)}


def naive_bootstrap(labels, probs, repeats, seed) -> dict[str, np.ndarray]:
    """Same resamples as the vectorised path, scored one repeat at a time."""
    out = {m: [] for m in METRICS}
    rng = np.random.default_rng(seed)
    for counts in resample_counts(labels, repeats, rng):
        for row in counts.astype(np.int64):
            idx = np.repeat(np.arange(len(labels)), row)
            for name, value in naive_metrics(labels[idx], probs[idx]).items():
                out[name].append(value)
    return {k: np.asarray(v) for k, v in out.items()}


def intervals(samples: dict[str, np.ndarray]) -> np.ndarray:
    return np.array([np.percentile(samples[m], [2.5, 97.5]) for m in METRICS])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=3)
    args = parser.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU
    rng = np.random.default_rng(0)
    data = [synthetic(args.subjects, s, rng) for s in np.linspace(2.0, 0.5, args.variants)]
    seeds = [stream_seed(0, f"variant-{i}") for i in range(args.variants)]

    t0 = time.perf_counter()
    fast = [bootstrap_samples(lambda w, y=y, p=p: all_metrics(y, p, w), y, args.repeats, s)
            for (y, p), s in zip(data, seeds)]
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = [naive_bootstrap(y, p, args.repeats, s) for (y, p), s in zip(data, seeds)]
    t_slow = time.perf_counter() - t0

    diff = max(np.abs(intervals(a) - intervals(b)).max() for a, b in zip(fast, slow))
    print(f"bootstrap CIs of {len(METRICS)} metrics: {args.variants} variants x {args.repeats} repeats x "
          f"{args.subjects} subjects")
    print(f"  baseline  per-repeat scikit-learn loop : {t_slow:8.3f} s")
    print(f"  neurofusion vectorised (numpy)        : {t_fast:8.3f} s")
    print(f"  speed-up vs baseline                  : {t_slow / t_fast:8.1f} x")
    print(f"  largest CI difference between the two : {diff:.2e}")
    if diff > 1e-9:
        raise SystemExit("the vectorised and the per-repeat bootstrap disagree")


if __name__ == "__main__":
    main()
