"""Per-step preprocessing time for a 1 mm whole-head scan, on 1 and 2 threads.

    .venv/bin/python benchmarks/bench_preprocess.py [--threads 1 2] [--no-baseline]

Input: a synthetic 1 mm whole head with neck (neurofusion.imaging.phantom), rotated and
shifted, int16. Each run is a fresh `neurofusion preprocess` process, so the wall time
includes Python/torch/SimpleITK start-up. Baselines:
  * measured here: the same SimpleITK affine run the way a one-step pipeline would, on the raw
    1 mm head to the 1 mm template brain, with ANTs' 'Affine' levels (shrink 8/4/2/1, smoothing
    3/2/1/0 voxels) and no brain extraction, coarse N4 or 2 mm registration grid;
  * cited, not measured: Clinica t1-linear, ~6 min per scan (N4 + antsRegistration to MNI).
Wall times on a shared machine vary; CPU seconds (all threads) are printed beside them.
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neurofusion.runtime import cpu_description

CLINICA_T1_LINEAR_SECONDS = 360.0
STEPS = ["read", "brain_extraction", "bias_correction", "registration", "resample", "write"]


def make_head(path: Path) -> None:
    import nibabel as nib

    from neurofusion.imaging.phantom import synthetic_head

    img = synthetic_head(1.0, voxel_mm=(1.0, 1.0, 1.0), rotation_deg=(9.0, -5.0, 7.0),
                         translation_mm=(5.0, -7.0, 10.0), axcodes="LAS", seed=11)
    nib.save(img, str(path))


def run_ours(head: Path, out: Path, threads: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "neurofusion", "preprocess", "--t1w", str(head), "--out", str(out / "p.nii.gz"),
           "--mask", str(out / "m.nii.gz"), "--xfm", str(out / "x.mat"), "--qc", str(out / "qc.png"),
           "--metrics", str(out / "metrics.json"), "--timings", str(out / "timings.json"), "--threads", str(threads)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    metrics = dict(json.loads((out / "metrics.json").read_text()), **json.loads((out / "timings.json").read_text()))
    metrics["process_seconds"] = time.perf_counter() - start
    return metrics


def baseline_child(head: str) -> None:
    """Runs in a fresh process (timed without our imports): raw head -> template, 4 levels, 1 ITK thread."""
    import numpy as np

    from neurofusion.imaging.nifti import load_scan
    from neurofusion.imaging.registration import AffineSettings, register_affine, to_itk
    from neurofusion.imaging.template import load_template

    scan = load_scan(head)
    tpl = load_template(1.0)
    settings = AffineSettings(shrink=(8, 4, 2, 1), smooth=(3.0, 2.0, 1.0, 0.0))
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="nf-bench-xfm-") as tmp:
        register_affine(to_itk(tpl.brain, tpl.affine), to_itk(scan.data, scan.affine), str(Path(tmp) / "x.mat"),
                        settings)
    print(json.dumps({"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
                      "voxels": int(np.prod(scan.data.shape))}))


def run_baseline(head: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--baseline-child", str(head)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw-head one-step affine baseline")
    parser.add_argument("--baseline-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU
    if args.baseline_child:
        baseline_child(args.baseline_child)
        return

    with tempfile.TemporaryDirectory(prefix="nf-bench-") as tmp:
        tmp = Path(tmp)
        head = tmp / "sub-001_T1w.nii.gz"
        make_head(head)
        results = {t: run_ours(head, tmp / f"out{t}", t) for t in args.threads}
        baseline = None if args.no_baseline else run_baseline(head)

    print("1 mm whole head (237x273x299 voxels, LAS, rotated), `neurofusion preprocess --resolution 2`")
    print(f"{'step':<18}" + "".join(f"{f'{t} thread(s): wall / cpu s':>30}" for t in args.threads))
    for step in STEPS + ["total"]:
        cells = "".join(f"{m['seconds'][step]:>20.2f} / {m['cpu_seconds'][step]:>7.2f}" for m in results.values())
        print(f"{step:<18}{cells}")
    print(f"{'whole process':<18}" + "".join(f"{m['process_seconds']:>20.2f}{'':>10}" for m in results.values()))
    for t, m in results.items():
        print(f"{t} thread(s): Dice {m['dice']:.3f} with the template mask, r {m['correlation']:.3f}; "
              f"{CLINICA_T1_LINEAR_SECONDS / m['process_seconds']:.0f}x faster than Clinica t1-linear "
              f"(~{CLINICA_T1_LINEAR_SECONDS:.0f} s, cited)")
    if baseline:
        ours = results[min(results)]
        print(f"baseline (measured): one-step 4-level affine of the raw 1 mm head to the 1 mm template brain, 1 thread: "
              f"{baseline['seconds']:.1f} s wall / {baseline['cpu_seconds']:.1f} s CPU, registration alone; "
              f"our whole process on {min(results)} thread(s) is {baseline['seconds'] / ours['process_seconds']:.1f}x "
              f"faster (wall), {baseline['cpu_seconds'] / ours['cpu_seconds']['total']:.1f}x (CPU, steps)")


if __name__ == "__main__":
    main()
