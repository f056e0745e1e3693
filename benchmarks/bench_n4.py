"""N4 settings against the demo's true bias fields: how much bias is left, and at what CPU cost.

On a finished demo run (a results folder with truth.json, which records each scan's planted
multiplicative bias field), every scan is brain-extracted once, then bias-corrected with each
setting below (neurofusion.imaging.preprocess._bias_corrected, one ITK thread). What is left
of the bias inside the brain mask is the SD of log(true field) - log(estimated field), both
centred (a global scale is not bias); "uncorrected" is the SD of the centred true log field.
The baseline is the earlier default (4 mm grid, 3 levels of 10), measured in the same run.

    .venv/bin/python benchmarks/bench_n4.py --results results [--scans 20]
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import time
from pathlib import Path

import nibabel as nib
import numpy as np

import neurofusion.imaging.preprocess as preprocess
from neurofusion.demo.acquisition import BiasField
from neurofusion.imaging.brain_extraction import extract_brain
from neurofusion.imaging.nifti import load_scan

from demo_scans import as_read, begin

BASELINE = (4.0, (10, 10, 10))
SETTINGS = [BASELINE, (4.0, (10, 10)), (6.0, (10, 10)), (6.0, (5, 5)), (6.0, (20,)), (8.0, (10, 10))]


def true_field_ras(path: Path, bias: dict) -> np.ndarray:
    """The planted field on the stored array's grid, reoriented to RAS as load_scan reads it."""
    img = nib.load(str(path))
    field = BiasField(np.array(bias["linear"]), np.array(bias["quadratic"]), bias["cross"]).evaluate(img.shape)
    return as_read(field, img)


def residual_sd(data: np.ndarray, corrected: np.ndarray, field: np.ndarray, mask: np.ndarray) -> float:
    estimate = np.clip(data, 0, None)[mask] / np.maximum(corrected[mask], 1e-6)
    lt, le = np.log(field[mask]), np.log(np.maximum(estimate, 1e-6))
    return float(((lt - lt.mean()) - (le - le.mean())).std())


def main() -> None:
    _, truth, scans = begin(__doc__)
    rows = {s: [] for s in SETTINGS}
    uncorrected = []
    for sub, path in scans:
        scan = load_scan(str(path))
        mask = extract_brain(scan.data, 2.0)
        field = true_field_ras(path, truth["subjects"][sub]["scan"]["bias"])
        lt = np.log(field[mask])
        uncorrected.append(float((lt - lt.mean()).std()))
        for grid, iterations in SETTINGS:
            preprocess.N4_GRID_MM, preprocess.N4_ITERATIONS = grid, iterations
            start = time.process_time()
            corrected = preprocess._bias_corrected(scan, mask)
            rows[(grid, iterations)].append((residual_sd(scan.data, corrected, field, mask),
                                             time.process_time() - start))
    base_cpu = np.mean([c for _, c in rows[BASELINE]])
    print(f"{len(scans)} demo scans; bias left inside the brain when uncorrected: SD {np.mean(uncorrected):.4f}")
    print(f"{'grid':>6} {'levels':>10} {'bias left (SD)':>15} {'CPU s':>7} {'vs baseline':>12}")
    for (grid, iterations), values in rows.items():
        sd, cpu = np.mean(values, axis=0)
        tag = "  (baseline)" if (grid, iterations) == BASELINE else ""
        print(f"{grid:5.0f}mm {'x'.join(map(str, iterations)):>10} {sd:15.4f} {cpu:7.2f} {base_cpu / cpu:11.2f}x{tag}")


if __name__ == "__main__":
    main()
