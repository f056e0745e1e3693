"""Per-step preprocessing time for a 1 mm whole-head scan, on 1 and 2 threads; then a batch.

    .venv/bin/python benchmarks/bench_preprocess.py [--threads 1 2] [--no-baseline] [--batch 4]

Input: a synthetic 1 mm whole head with neck (neurofusion.imaging.phantom), rotated and
shifted, int16. Each run is a fresh `neurofusion preprocess` process, so the wall time
includes Python/torch/SimpleITK start-up. Baselines:
  * measured here: the same SimpleITK affine run the way a one-step pipeline would, on the raw
    1 mm head to the 1 mm template brain, with ANTs' 'Affine' levels (shrink 8/4/2/1, smoothing
    3/2/1/0 voxels) and no brain extraction, coarse N4 or 2 mm registration grid;
  * cited, not measured: Clinica t1-linear, ~6 min per scan (N4 + antsRegistration to MNI).
Batch (`--batch N`, what `preprocess.scans_per_job` does in the workflow): N different heads
in one process against the baseline of one process per head, same run, 1 thread, with the
outputs compared byte for byte.
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


def make_head(path: Path, seed: int = 11) -> None:
    import nibabel as nib

    from neurofusion.imaging.phantom import synthetic_head

    img = synthetic_head(1.0, voxel_mm=(1.0, 1.0, 1.0), rotation_deg=(9.0, -5.0, 7.0),
                         translation_mm=(5.0, -7.0, 10.0), axcodes="LAS", seed=seed)
    nib.save(img, str(path))


OUTPUTS = (("--out", "p.nii.gz"), ("--mask", "m.nii.gz"), ("--xfm", "x.mat"), ("--qc", "qc.png"),
           ("--metrics", "metrics.json"), ("--timings", "timings.json"))


def _preprocess(heads: list[Path], outs: list[Path], threads: int) -> float:
    """One `neurofusion preprocess` process for ``heads`` (outputs in ``outs``); its wall seconds."""
    cmd = [sys.executable, "-m", "neurofusion", "preprocess", "--t1w", *map(str, heads), "--threads", str(threads)]
    for flag, name in OUTPUTS:
        cmd += [flag, *(str(out / name) for out in outs)]
    for out in outs:
        out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def run_ours(head: Path, out: Path, threads: int) -> dict:
    seconds = _preprocess([head], [out], threads)
    metrics = dict(json.loads((out / "metrics.json").read_text()), **json.loads((out / "timings.json").read_text()))
    metrics["process_seconds"] = seconds
    return metrics


def run_batch(heads: list[Path], tmp: Path) -> dict:
    """One process per head (the baseline), then one process for all; byte-identical outputs?"""
    alone = [tmp / "alone" / h.name.split("_")[0] for h in heads]
    batch = [tmp / "batch" / h.name.split("_")[0] for h in heads]
    per_process = sum(_preprocess([h], [o], 1) for h, o in zip(heads, alone))
    batched = _preprocess(heads, batch, 1)
    same = all((a / name).read_bytes() == (b / name).read_bytes()
               for a, b in zip(alone, batch) for _, name in OUTPUTS if name != "timings.json")
    steps = [json.loads((b / "timings.json").read_text())["seconds"]["total"] for b in batch]
    return {"per_process": per_process, "batched": batched, "same": same, "steps": steps}


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
    parser.add_argument("--batch", type=int, default=4, help="heads in the batch comparison (0: skip it)")
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
        batch = None
        if args.batch > 0:
            heads = [tmp / f"sub-{i:03d}_T1w.nii.gz" for i in range(2, args.batch + 2)]
            for i, path in enumerate(heads):
                make_head(path, seed=20 + i)
            batch = run_batch(heads, tmp)

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

    if batch:
        n = len(batch["steps"])
        print(f"batch of {n} heads, 1 thread: one process for all {batch['batched']:.1f} s "
              f"({batch['batched'] / n:.1f} s a head; steps of each: "
              f"{', '.join(f'{t:.1f}' for t in batch['steps'])} s) against one process per head "
              f"{batch['per_process']:.1f} s ({batch['per_process'] / n:.1f} s a head): "
              f"**{batch['per_process'] / batch['batched']:.2f}x**; outputs "
              f"{'byte-identical' if batch['same'] else 'DIFFERENT (a bug: batching must not change results)'}")


if __name__ == "__main__":
    main()
