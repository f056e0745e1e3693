"""Brain extraction on the demo's scans: the networks' grids, against each scan's true brain.

    .venv/bin/python benchmarks/bench_brain_extraction.py [--results results] [--scans 20]

On a finished demo run (a results folder with demo/truth.json, which records each scan's pose
and warp), every scan's true brain mask is the template brain the generator drew, carried
through that scan's pose and smooth warp onto its own voxel grid. deepbet runs two networks: a
bounding-box network on the whole head resized to one grid, then the brain network on the
box resized to another. This times them (CPU seconds, one thread, as the step runs) at several
pairs of grids and prints the Dice of each mask with the true one. Baseline: deepbet's own
grids (128^3 for the box, 256^3 for the brain), measured in the same run.
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()

import time
from pathlib import Path

import nibabel as nib
import numpy as np

from neurofusion.demo.anatomy import build_head_model
from neurofusion.demo.deform import SmoothWarp
from neurofusion.imaging.brain_extraction import extract_brain, network_shapes
from neurofusion.imaging.nifti import load_scan
from neurofusion.imaging.qc import dice

from demo_scans import as_read, begin

BASELINE = (128, 256)  # deepbet's BrainExtraction.run_model defaults
DEFAULT = tuple(g[0] for g in network_shapes(2.0))  # the step's grids on the 2 mm path
SETTINGS = (BASELINE, DEFAULT, (96, 192), (128, 160), (96, 160), (64, 160))  # multiples of 32 (its five poolings)


def true_brain_ras(path: Path, scan_truth: dict) -> np.ndarray:
    """The generator's brain on the stored scan's grid, reoriented to RAS as load_scan reads it."""
    from scipy import ndimage

    img = nib.load(str(path))
    head = build_head_model()
    m = np.asarray(scan_truth["native_to_template"], dtype=np.float32)
    w = scan_truth["warp"]
    warp = SmoothWarp(np.array(w["amplitudes_mm"]), np.array(w["wavevectors_rad_per_mm"]), np.array(w["phases_rad"]))
    idx = [np.arange(n, dtype=np.float32).reshape([-1 if k == a else 1 for k in range(3)])
           for a, n in enumerate(img.shape[:3])]
    q = [m[c, 0] * idx[0] + m[c, 1] * idx[1] + m[c, 2] * idx[2] + m[c, 3] for c in range(3)]
    x, y, z = warp.displace(*q)
    inv = np.linalg.inv(head.affine).astype(np.float32)
    coords = np.stack([inv[n, n] * (x, y, z)[n] + inv[n, 3] for n in range(3)])
    brain = ndimage.map_coordinates(head.brain.astype(np.float32), coords, order=1, mode="constant") > 0.5
    return as_read(brain, img).astype(bool)


def main() -> None:
    _, truth, scans = begin(__doc__)
    rows = {s: [] for s in SETTINGS}
    for sub, path in scans:
        scan = load_scan(str(path))
        true = true_brain_ras(path, truth["subjects"][sub]["scan"])
        extract_brain(scan.data, 2.0)  # warm-up: model load, first-call allocations
        for bbox, brain in SETTINGS:
            start = time.process_time()
            mask = extract_brain(scan.data, 2.0, shape=(brain,) * 3, bbox_shape=(bbox,) * 3)
            rows[(bbox, brain)].append((dice(mask, true), time.process_time() - start))
    base_cpu = np.mean([c for _, c in rows[BASELINE]])
    sizes = sorted({"x".join(f"{v:g}" for v in truth["subjects"][s]["scan"]["voxel_size_mm"]) for s, _ in scans})
    print(f"{len(scans)} demo scans, voxels {', '.join(sizes)} mm")
    print(f"{'box grid':>9} {'brain grid':>11} {'Dice mean':>10} {'Dice min':>9} {'CPU s':>7} {'vs baseline':>12}")
    for (bbox, brain), values in rows.items():
        d, cpu = np.mean(values, axis=0)
        low = min(v[0] for v in values)
        tag = "  (baseline: deepbet's grids)" if (bbox, brain) == BASELINE else "  (the step's)" if (bbox, brain) == DEFAULT else ""
        print(f"{bbox:>7}^3 {brain:>9}^3 {d:10.4f} {low:9.4f} {cpu:7.2f} {base_cpu / cpu:11.2f}x{tag}")


if __name__ == "__main__":
    main()
