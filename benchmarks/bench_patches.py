"""Patch extraction time vs (a) just loading the preprocessed NIfTI and (b) TorchIO's GridSampler.

The volume is a real `neurofusion preprocess` output of a synthetic 2 mm head (~10 s to make).
    .venv/bin/python benchmarks/bench_patches.py [--repeats 15] [--resolution 2]

Goals (issue 3): our extraction (load + cut + write .npy) <= 1.2x the plain load, and >= 5x
faster than iterating a TorchIO GridSampler over the same volume. All measured in this run.
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

from neurofusion.runtime import cpu_description
from neurofusion.imaging.grid import build_grid, write_grid
from neurofusion.imaging.patches import extract_patches, write_patches
from neurofusion.imaging.template import load_template


def preprocessed_phantom(tmp: Path, image_path: Path, resolution: float) -> None:
    """A real `preprocess` output (float32 z-scores in the brain) from a synthetic 2 mm head."""
    from neurofusion.imaging.phantom import synthetic_head
    from neurofusion.imaging.preprocess import PreprocessOutputs, preprocess_t1w

    head = tmp / "sub-001_T1w.nii.gz"
    nib.save(synthetic_head(2.0, voxel_mm=(2.0, 2.0, 2.0), rotation_deg=(5.0, 0.0, -4.0)), str(head))
    preprocess_t1w(str(head), PreprocessOutputs(str(image_path), str(tmp / "mask.nii.gz"), str(tmp / "x.mat")),
                   resolution=resolution)


def median_seconds(fns, repeats: int) -> list[float]:
    """Median seconds of each function, calls interleaved so a busy machine slows all alike."""
    for fn in fns:
        fn()  # warm caches and imports
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--resolution", type=float, default=2.0)
    args = parser.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU

    tpl = load_template(args.resolution)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image_path, grid_path, out_path = tmp / "preproc.nii.gz", tmp / "grid.parquet", tmp / "patches.npy"
        preprocessed_phantom(tmp, image_path, args.resolution)
        table, meta = build_grid(args.resolution)
        write_grid(grid_path, table, meta)
        size = meta["patch_size_voxels"]

        def load_only():
            return np.asarray(nib.load(str(image_path)).dataobj, dtype=np.float32)

        def ours():
            return write_patches(image_path, grid_path, out_path)

        image = load_only()

        def cut_only():
            return extract_patches(image, table)

        def torchio_grid():
            import torchio as tio

            subject = tio.Subject(image=tio.ScalarImage(image_path))
            sampler = tio.data.GridSampler(subject, patch_size=size, patch_overlap=0)
            return sum(1 for _ in sampler)

        n_tio = torchio_grid()
        t_load, t_ours, t_cut, t_tio = median_seconds([load_only, ours, cut_only, torchio_grid], args.repeats)

    n = len(table)
    print(f"volume {tpl.shape} at {args.resolution:g} mm, {n} patches of {size}^3 (float16 .npy); "
          f"median of {args.repeats} runs")
    print(f"  load NIfTI only (baseline a)      {t_load * 1e3:8.1f} ms")
    print(f"  neurofusion patches (load+cut+save) {t_ours * 1e3:6.1f} ms   = {t_ours / t_load:.2f}x load (goal <= 1.2x)")
    print(f"    of which cutting the patches      {t_cut * 1e3:6.1f} ms   = {t_cut / t_load:.2f}x load "
          f"(the rest: grid read, .npy write)")
    print(f"  TorchIO GridSampler (baseline b)  {t_tio * 1e3:8.1f} ms for {n_tio} patches "
          f"({t_tio / n_tio * 1e3:.2f} ms/patch)")
    print(f"  speed-up vs TorchIO: {t_tio / t_ours:.1f}x per volume, "
          f"{(t_tio / n_tio) / (t_ours / n):.1f}x per patch (goal >= 5x)")


if __name__ == "__main__":
    main()
