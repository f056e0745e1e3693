"""Benchmark the `proteins` step on a generated Olink Explore long table.

Default: 3,000 proteins x 1,000 samples (3 M rows, ~1 min). --full: 3,000 x 10,000
(30 M rows, the issue's scale). Baseline: bare `pyarrow.csv.read_csv` of the same file,
measured in the same run. Each measurement runs in its own subprocess so its peak
memory (ru_maxrss) is its own; the step's peak is also compared with the in-memory
size of the proteins.parquet it writes.

    .venv/bin/python benchmarks/bench_proteins.py [--full] [--proteins P --samples S] [--keep DIR]
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

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from neurofusion.runtime import cpu_description

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time
mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
if mode == "imports":
    import neurofusion.proteomics.build  # noqa: F401  (the step's fixed cost: interpreter + libraries)
    rows = None
elif mode == "baseline":
    import pyarrow.csv as pcsv
    table = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=";"))
    rows = table.num_rows
else:
    from neurofusion.cli import main
    assert main(["proteins", "--table", path, "--categories", sys.argv[4], "--out", out]) == 0
    rows = None
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": rows}))
"""


def generate(path: Path, n_proteins: int, n_samples: int, seed: int = 0) -> int:
    """Olink Explore-style `;` long table: 2% control samples, 1% WARN, ~10% below LOD."""
    rng = np.random.default_rng(seed)
    oid = np.array([f"OID{20000 + i}" for i in range(n_proteins)])
    uni = np.array([f"Q{i:05d}" for i in range(n_proteins)])
    assay = np.array([f"PROT{i}" for i in range(n_proteins)])
    panel = np.array(["Cardiometabolic", "Inflammation", "Neurology", "Oncology"])[np.arange(n_proteins) % 4]
    lod = rng.normal(0.0, 0.3, n_proteins).round(4)
    n_controls = max(1, n_samples // 50)
    ids = np.array([f"sub-{i:05d}" for i in range(n_samples - n_controls)] +
                   [f"CONTROL_SAMPLE_{i}" for i in range(n_controls)])
    types = np.array(["SAMPLE"] * (n_samples - n_controls) + ["CONTROL"] * n_controls)
    schema = pa.schema([(c, pa.string()) for c in ("SampleID", "Sample_Type", "OlinkID", "UniProt", "Assay",
                                                   "Panel", "PlateID", "QC_Warning")]
                       + [("Index", pa.int32()), ("MissingFreq", pa.float64()), ("LOD", pa.float64()),
                          ("NPX", pa.float64()), ("Normalization", pa.string()), ("Assay_Warning", pa.string())])
    rows = 0
    with pcsv.CSVWriter(path, schema, write_options=pcsv.WriteOptions(delimiter=";", quoting_style="none")) as w:
        for s0 in range(0, n_samples, 200):
            s = np.repeat(np.arange(s0, min(n_samples, s0 + 200)), n_proteins)
            p = np.tile(np.arange(n_proteins), len(s) // n_proteins)
            n = len(s)
            w.write_table(pa.table({
                "SampleID": ids[s], "Sample_Type": types[s], "OlinkID": oid[p], "UniProt": uni[p],
                "Assay": assay[p], "Panel": panel[p], "PlateID": np.char.add("PLATE", (s // 88).astype(str)),
                "QC_Warning": np.where(rng.random(n) < 0.01, "WARN", "PASS"),
                "Index": (s % 96 + 1).astype(np.int32), "MissingFreq": np.full(n, 0.05),
                "LOD": lod[p], "NPX": rng.normal(1.0, 1.0, n).round(4),
                "Normalization": np.full(n, "Intensity"), "Assay_Warning": np.full(n, "PASS"),
            }, schema=schema))
            rows += n
    return rows


def measure(mode: str, table: Path, out: Path) -> dict:
    cmd = [sys.executable, "-c", CHILD, mode, str(table), str(out), str(ROOT / "config" / "protein_categories.tsv")]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="3,000 proteins x 10,000 samples (30 M rows)")
    parser.add_argument("--proteins", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="folder for the generated table (reused when present)")
    args = parser.parse_args()
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU
    samples = 10000 if args.full else args.samples
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_proteins_"))
    work.mkdir(parents=True, exist_ok=True)
    table = work / f"npx_{args.proteins}x{samples}.csv"
    if not table.exists():
        t0 = time.perf_counter()
        rows = generate(table, args.proteins, samples)
        print(f"generated {rows:,} rows ({table.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.1f} s")
    idle = measure("imports", table, work / "out")
    base = measure("baseline", table, work / "out")
    step = measure("step", table, work / "out")
    import pyarrow.parquet as pq

    output = pq.read_table(work / "out" / "proteins.parquet")
    out_mb = output.nbytes / 2**20
    print(f"table: {args.proteins} proteins x {samples} samples = {base['rows']:,} rows, "
          f"{table.stat().st_size / 1e9:.2f} GB")
    print(f"baseline pyarrow.csv.read_csv : {base['seconds']:7.2f} s  peak {base['maxrss_mb']:7.0f} MB")
    print(f"neurofusion proteins (step)   : {step['seconds']:7.2f} s  peak {step['maxrss_mb']:7.0f} MB")
    print(f"time ratio step / read_csv    : {step['seconds'] / base['seconds']:.2f}x   (goal <= 2x)")
    print(f"proteins.parquet in memory    : {out_mb:.0f} MB ({output.num_rows:,} rows)")
    print(f"peak memory / output size     : {step['maxrss_mb'] / out_mb:.2f}x   (goal <= 3x)")
    print(f"  same, less the {idle['maxrss_mb']:.0f} MB of interpreter + libraries: "
          f"{(step['maxrss_mb'] - idle['maxrss_mb']) / out_mb:.2f}x")


if __name__ == "__main__":
    main()
