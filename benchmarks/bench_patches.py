"""Patch extraction time vs (a) just loading the preprocessed NIfTI and (b) TorchIO's GridSampler;
then a batch of images in one process against one process per image.

The volume is a real `neurofusion preprocess` output of a synthetic 2 mm head (~10 s to make).
    .venv/bin/python benchmarks/bench_patches.py [--repeats 15] [--resolution 2] [--batch 6]

Goals (issue 3): our extraction (load + cut + write .npy) <= 1.2x the plain load, and >= 5x
faster than iterating a TorchIO GridSampler over the same volume. All measured in this run.
Batch (`--batch N`, what the workflow's extract_patches_batch_* jobs do with the preprocessing
batches): `neurofusion patches` for N images in one process, against N processes of one image
each (the per-subject extract_patches jobs), median of --batch-repeats, outputs compared byte for byte.
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import shutil
import statistics
import subprocess
import sys
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


def _patches_process(images: list[Path], outs: list[Path], grid: Path) -> float:
    """One `neurofusion patches` process for ``images``; its wall seconds."""
    cmd = [sys.executable, "-m", "neurofusion", "patches", "--in", *map(str, images), "--grid", str(grid),
           "--out", *map(str, outs)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def run_batch(image: Path, grid: Path, tmp: Path, n: int, repeats: int) -> dict:
    """N copies of the image: one process per image (the baseline) against one process for all,
    taking turns; byte-identical outputs?"""
    images = []
    for i in range(n):
        images.append(tmp / f"sub-{i:03d}_desc-preproc_T1w.nii.gz")
        shutil.copy(image, images[-1])
    alone = [tmp / "alone" / f"{i}.npy" for i in range(n)]
    batch = [tmp / "batch" / f"{i}.npy" for i in range(n)]
    per_process, batched = [], []
    for _ in range(repeats):
        per_process.append(sum(_patches_process([im], [out], grid) for im, out in zip(images, alone)))
        batched.append(_patches_process(images, batch, grid))
    same = all(a.read_bytes() == b.read_bytes() for a, b in zip(alone, batch))
    return {"per_process": statistics.median(per_process), "batched": statistics.median(batched), "same": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--resolution", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=6, help="images in the batch comparison (0: skip it)")
    parser.add_argument("--batch-repeats", type=int, default=3)
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
        batch = run_batch(image_path, grid_path, tmp, args.batch, args.batch_repeats) if args.batch > 0 else None

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
    if batch:
        k = args.batch
        print(f"batch of {k} images, median of {args.batch_repeats}: one process for all {batch['batched']:.2f} s "
              f"({batch['batched'] / k * 1e3:.0f} ms an image) against one process per image "
              f"{batch['per_process']:.2f} s ({batch['per_process'] / k * 1e3:.0f} ms an image): "
              f"**{batch['per_process'] / batch['batched']:.2f}x**; outputs "
              f"{'byte-identical' if batch['same'] else 'DIFFERENT (a bug: batching must not change results)'}")


if __name__ == "__main__":
    main()
