"""Pretraining step time of the built-in encoder, per layout, through `pretrain_builtin` itself.

    .venv/bin/python benchmarks/bench_pretrain.py [--steps 24] [--repeats 3] [--threads 2]

What a step is: the workflow's settings (batch 64, two random views of each 14^3 patch,
the encoder + projection head forward and backward, AdamW), on the AVX2 kernels unless
NEUROFUSION_CPU_KERNELS=native, as `neurofusion pretrain-encoder` runs. Each repeat is one
epoch of ``--steps`` steps from a fresh encoder. One untimed epoch of 2 steps per layout first
takes the process's one-time costs (oneDNN primitive creation, first allocations), which
would otherwise fall on whichever layout runs first. Baseline: the `full` layout (the
default), measured in the same run, interleaved with `strided` in alternating order so that
the machine's drift hits both alike.
The patches are synthetic (smooth noise, some all-zero): the cost does not depend on values.
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import statistics
import time

import numpy as np

from neurofusion.embeddings.builtin import LAYOUTS
from neurofusion.embeddings.pretrain import PretrainConfig, pretrain_builtin
from neurofusion.runtime import cpu_description, set_threads


def synthetic_patches(n: int, side: int = 14, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, side, side, side)).astype(np.float32)
    x = (x + np.roll(x, 1, 1) + np.roll(x, 1, 2) + np.roll(x, 1, 3)) / 2
    x[rng.random(n) < 0.1] = 0.0
    return x.astype(np.float16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24, help="steps per repeat (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="what embedding.threads gives the step (default 2)")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    set_threads(args.threads)
    print(f"cpu: {cpu_description()}; {args.threads} thread(s); batch {args.batch}, two views of 14^3", flush=True)
    patches = synthetic_patches(args.steps * args.batch)
    ms = {layout: [] for layout in LAYOUTS}
    for layout in LAYOUTS:  # untimed warm-up: the process's one-time costs
        pretrain_builtin(patches[:2 * args.batch], PretrainConfig(epochs=1, batch_size=args.batch, layout=layout))
    for repeat in range(args.repeats):
        order = list(LAYOUTS) if repeat % 2 == 0 else list(LAYOUTS)[::-1]  # interleaved, alternating
        for layout in order:
            cfg = PretrainConfig(epochs=1, batch_size=args.batch, patches_per_epoch=len(patches), layout=layout)
            start = time.perf_counter()
            pretrain_builtin(patches, cfg)
            ms[layout].append(1000 * (time.perf_counter() - start) / args.steps)
    base = statistics.median(ms["full"])
    for layout, values in ms.items():
        med = statistics.median(values)
        print(f"{layout:8s} {med:7.1f} ms a step (median of {len(values)}; {min(values):.1f}-{max(values):.1f})"
              f"   {base / med:5.2f}x the full layout")


if __name__ == "__main__":
    main()
