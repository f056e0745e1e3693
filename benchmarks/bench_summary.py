"""The summary page of a finished run: as the step builds it, against the same build without
keeping the imported libraries out of the garbage collector (the baseline).

nilearn runs a full ``gc.collect()`` every time it reads an image's data; with matplotlib's and
nilearn's objects alive, each of those walks is long. ``neurofusion summary`` freezes what its
imports created first (cli/summary.py). Each side is a fresh process building the page of the
same results folder into its own temporary folder; the figures must come out byte-identical.

    .venv/bin/python benchmarks/bench_summary.py --results results [--repeats 2]
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neurofusion.runtime import cpu_description

BUILD = """
import sys, time
from pathlib import Path
from neurofusion.kernels import choose_cpu_kernels
choose_cpu_kernels()
from neurofusion.cli import summary as cli
from neurofusion.report.summary import SummaryInputs, build_summary
r, out, freeze = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
start = time.process_time()
if freeze:
    cli._freeze_collected_objects()
else:  # the same imports, nothing frozen
    import matplotlib.pyplot
    from nilearn import plotting
attention = sorted(p for p in (r / "attention").iterdir() if (p / "attention.parquet").exists() or (p / "attribution.parquet").exists())
inputs = SummaryInputs(eval_dir=r / "eval", train_dir=r / "train", attention_dirs=attention,
                       cohort=r / "cohort" / "participants.parquet", excluded=r / "cohort" / "excluded.tsv",
                       model_configs=[Path("config/model.yaml")], settings=None, settings_text=None,
                       embedding_shard=next(iter(sorted((r / "embeddings").glob("shard-*.parquet"))), None),
                       ceiling=(r / "eval" / "ceiling.tsv") if (r / "eval" / "ceiling.tsv").exists() else None)
build_summary(inputs, 110, 15, out / "summary.html")
print(time.process_time() - start)
"""


def build(results: Path, out: Path, freeze: bool) -> tuple[float, float]:
    """(wall s, CPU s of the build after start-up) of one fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", BUILD, str(results), str(out), "1" if freeze else "0"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr[-2000:])
    return time.perf_counter() - start, float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU
    times = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            for freeze in (True, False):
                out = Path(tmp) / f"{'frozen' if freeze else 'baseline'}-{k}"
                out.mkdir()
                times[freeze].append(build(args.results.resolve(), out, freeze))
        figures = sorted(p.name for p in (Path(tmp) / "frozen-0" / "figures").glob("*.png"))
        same = all((Path(tmp) / "frozen-0" / "figures" / f).read_bytes()
                   == (Path(tmp) / "baseline-0" / "figures" / f).read_bytes() for f in figures)
    best = {f: min(t, key=lambda x: x[1]) for f, t in times.items()}
    print(f"summary of {args.results}: {len(figures)} figures, byte-identical on both sides: {same}")
    print(f"  frozen (the step):   {best[True][0]:6.2f} s wall, {best[True][1]:6.2f} s CPU building")
    print(f"  baseline (no freeze): {best[False][0]:6.2f} s wall, {best[False][1]:6.2f} s CPU building")
    print(f"  speed-up: {best[False][1] / best[True][1]:.2f}x CPU, {best[False][0] / best[True][0]:.2f}x wall "
          f"(best of {args.repeats})")
    if not same:
        sys.exit("the figures differ between the two builds")


if __name__ == "__main__":
    main()
