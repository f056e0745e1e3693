"""What the benchmarks that run on a finished demo share: its scans, their truth, the RAS grid.

A results folder of `make demo` holds demo/truth.json, which records each scan's planted
geometry and bias field; a benchmark rebuilds the truth on the scan's grid from it and
reorients it as `load_scan` reads the scan (RAS).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np


def begin(doc: str, scans: int = 20) -> tuple[argparse.Namespace, dict, list[tuple[str, Path]]]:
    """Parse --results/--scans, pin one thread (as the step runs), print the CPU; the scans."""
    from neurofusion.runtime import cpu_description, set_threads

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="a finished demo run")
    parser.add_argument("--scans", type=int, default=scans, help="the first N scans (default %(default)s)")
    args = parser.parse_args()
    set_threads(1)
    truth, pairs = demo_scans(args.results, args.scans)
    print(f"cpu: {cpu_description()}", flush=True)  # CPU seconds hold for this CPU
    return args, truth, pairs


def demo_scans(results: Path, n: int) -> tuple[dict, list[tuple[str, Path]]]:
    """truth.json and the first ``n`` (subject, scan path) pairs of the demo under ``results``."""
    truth = json.loads((results / "demo" / "truth.json").read_text())
    subjects = [s for s, v in truth["subjects"].items() if v["has_scan"]][:n]
    return truth, [(s, results / "demo" / "bids" / s / "anat" / f"{s}_T1w.nii.gz") for s in subjects]


def as_read(array: np.ndarray, img) -> np.ndarray:
    """``array`` on the stored image's voxel grid, reoriented to RAS as load_scan reads it."""
    ornt = nib.orientations.ornt_transform(nib.orientations.io_orientation(img.affine),
                                           nib.orientations.axcodes2ornt("RAS"))
    return nib.orientations.apply_orientation(array, ornt)
