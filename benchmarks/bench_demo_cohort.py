"""Benchmark the demo cohort generator (`neurofusion demo-cohort`).

Measured in one run (CPU seconds of this process and its workers, and wall seconds):
  1. building the template-space head model (once per process);
  2. rendering one scan (warp + trilinear sampling + atrophy + bias + Rician noise +
     int16 + gzip) against the baseline `nibabel.processing.resample_from_to` of the
     same head volume onto the same native grid (affine only, order 1, no noise, no I/O);
  3. the whole cohort of --n subjects with 1 worker and with 2 workers.

    .venv/bin/python benchmarks/bench_demo_cohort.py [--n 12] [--seed 7]

The default demo is 60 subjects (58 scans); on an idle 2-core machine it is about the
per-scan time x 58 / workers, plus the head model.
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neurofusion.runtime import cpu_description

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = _cpu() - self.cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12, help="subjects in the whole-cohort runs (default 12)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU

    import nibabel as nib
    from nibabel.processing import resample_from_to

    from neurofusion.demo.anatomy import build_head_model
    from neurofusion.demo.cohort import generate_cohort
    from neurofusion.demo.scans import nifti_gz_bytes, plan_scan, render_scan
    from neurofusion.demo.settings import DemoSettings

    settings = DemoSettings()
    with Timer() as t_head:
        head = build_head_model()
    print(f"head model build             wall {t_head.wall:6.2f} s  cpu {t_head.cpu:6.2f} s  shape {head.intensity.shape}")

    ours, base, voxels = [], [], []
    head_img = nib.Nifti1Image(head.intensity, head.affine)
    for k in range(5):
        rng = np.random.default_rng([args.seed, 99, k])
        plan = plan_scan(1.5, head.bounds_mm, settings, rng)
        with Timer() as t:
            nifti_gz_bytes(render_scan(plan, head, settings, rng), plan.grid.affine)
        ours.append(t.cpu)
        # baseline: resample the head onto the same grid with the pose's affine alone
        world_head = nib.Nifti1Image(head.intensity, plan.pose @ head.affine)
        with Timer() as t:
            resample_from_to(world_head, (plan.grid.shape, plan.grid.affine), order=1)
        base.append(t.cpu)
        voxels.append(np.prod(plan.grid.shape))
    del head_img
    print(f"one scan, ours (full render)  cpu {np.mean(ours):6.3f} s   ({np.mean(voxels) / 1e6:.2f} M voxels on average)")
    print(f"one scan, baseline nibabel resample_from_to  cpu {np.mean(base):6.3f} s")
    print(f"ratio ours / baseline: {np.mean(ours) / np.mean(base):.2f}")

    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for workers in (1, 2):
            cohort = DemoSettings(n_subjects=args.n, n_without_scan=min(2, args.n - 2))
            with Timer() as t:
                generate_cohort(Path(tmp) / f"w{workers}", cohort, seed=args.seed, workers=workers, log=lambda m: None)
            runs[workers] = t
            print(f"cohort of {args.n} ({args.n - cohort.n_without_scan} scans), {workers} worker(s): "
                  f"wall {t.wall:6.2f} s  cpu {t.cpu:6.2f} s")
        print(f"ratio wall 2 workers / 1 worker: {runs[2].wall / runs[1].wall:.2f}")
        per_scan = runs[1].cpu / (args.n - min(2, args.n - 2))
        print(f"projected default demo (58 scans): {per_scan * 58:.0f} cpu s -> ~{per_scan * 58 / 2 + t_head.wall:.0f} s wall on 2 idle cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
