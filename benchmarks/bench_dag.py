"""How long does Snakemake take to plan our workflow for a large cohort?

Builds a BIDS tree of N subjects (default 10,000) with empty placeholder scans and a
participants.tsv in a temporary folder, then times `snakemake -n` of our workflow on it
against a bare Snakemake workflow with exactly as many jobs, planned in the same run.
The bare workflow has our DAG, job for job and edge for edge, and nothing else (no
input functions, params, code hashes, logs, benchmarks, resources, groups or report()
outputs): the floor Snakemake itself sets. Goal: ratio <= 1.5.

    .venv/bin/python benchmarks/bench_dag.py                 # 10,000 subjects, 3 repeats
    .venv/bin/python benchmarks/bench_dag.py --subjects 2000 --repeats 1
    .venv/bin/python benchmarks/bench_dag.py --profile      # + cProfile of our dry run
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import contextlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neurofusion.runtime import cpu_description

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKFLOW_PARTS = ["Snakefile", "workflow", "config", "src"]


def make_bids(root: Path, n_subjects: int) -> None:
    """sub-00001 .. sub-NNNNN, each with an empty anat/sub-*_T1w.nii.gz."""
    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "bench", "BIDSVersion": "1.9.0"}\n')
    rows = ["participant_id\tdiagnosis\tage\tsex"]
    for i in range(1, n_subjects + 1):
        sub = f"sub-{i:05d}"
        anat = root / sub / "anat"
        anat.mkdir(parents=True)
        (anat / f"{sub}_T1w.nii.gz").touch()
        rows.append(f"{sub}\t{'AD' if i % 2 else 'CN'}\t70\tF")
    (root / "participants.tsv").write_text("\n".join(rows) + "\n")


def copy_workflow(dest: Path, parts=WORKFLOW_PARTS) -> None:
    """The parts of the checkout a run needs (src/ too: the rules hash it)."""
    for part in parts:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, dest / part)


BATCHED_SCANS_PER_JOB = 6  # config/config.yaml's preprocess.scans_per_job


def write_our_config(work: Path, bids: Path, scans_per_job: int = 1, name: str = "bench.yaml") -> Path:
    """Point our workflow at the placeholder cohort; inputs that no rule makes are stubs.

    One preprocessing job per scan by default, the DAG the bare workflow copies; the default
    config's batches (`scans_per_job` 6) make fewer, bigger jobs."""
    (work / "olink.csv").write_text("SampleID;OlinkID;UniProt;Assay;Panel;NPX\n")
    (work / "categories.tsv").write_text("gene\tcategory\n")
    (work / "model.yaml").write_text("{}\n")
    cfg = work / name
    cfg.write_text(
        f"bids_dir: {bids}\n"
        "proteomics: [olink.csv]\n"
        "results: results\n"
        "model_config: model.yaml\n"
        "proteins: {categories: categories.tsv, warn_policy: flag, lod_policy: keep, match_participants: true}\n"
        f"preprocess: {{scans_per_job: {scans_per_job}}}\n"
    )
    return cfg


BARE_SNAKEFILE = '''
# The DAG of our workflow on a user cohort, job for job and edge for edge, with nothing
# else: no input functions, params, logs, benchmarks, resources, groups or report flags.
N = {n}
SHARD = {shard}
SUBJECTS = [f"{{i:05d}}" for i in range(1, N + 1)]
SHARDS = [f"{{k:03d}}" for k in range((N + SHARD - 1) // SHARD)]
VARIANTS = ("fusion", "mri", "protein", "baseline_fusion", "baseline_mri", "baseline_protein")
MODELS = [f"{{v}}_{{f}}" for v in VARIANTS for f in range({folds})]
SHUFFLED = [f"fusion_{{f}}" for f in range({folds})]  # the shuffled-label controls of the attribution
BIDS = "{bids}"


rule all:
    input:
        "out/cohort.txt", "out/proteins.txt", "out/metrics.txt", "out/summary.txt",
        expand("out/prep/{{s}}.qc", s=SUBJECTS), "out/attention.txt",


rule template:
    output:
        "out/template.txt",
    shell:
        "touch {{output}}"


rule grid:
    output:
        "out/grid.txt",
    shell:
        "touch {{output}}"


rule prep:
    input:
        BIDS + "/sub-{{s}}/anat/sub-{{s}}_T1w.nii.gz", "out/template.txt",
    output:
        "out/prep/{{s}}.img", "out/prep/{{s}}.mask", "out/prep/{{s}}.mat", "out/prep/{{s}}.qc", "out/prep/{{s}}.json",
    shell:
        "touch {{output}}"


rule patch:
    input:
        "out/prep/{{s}}.img", "out/grid.txt",
    output:
        "out/patch/{{s}}.npy",
    shell:
        "touch {{output}}"


rule proteins:
    input:
        "olink.csv", "categories.tsv", BIDS + "/participants.tsv",
    output:
        "out/proteins.txt", "out/matrix.txt",
    shell:
        "touch {{output}}"


rule cohort:
    input:
        BIDS + "/participants.tsv", "out/matrix.txt", expand("out/prep/{{s}}.json", s=SUBJECTS),
    output:
        "out/cohort.txt",
    shell:
        "touch {{output}}"


rule pretrain:
    input:
        expand("out/patch/{{s}}.npy", s=SUBJECTS), "out/grid.txt",
    output:
        "out/encoder.txt",
    shell:
        "touch {{output}}"


rule shard:
    input:
        lambda w: expand("out/patch/{{s}}.npy", s=SUBJECTS[int(w.k) * SHARD : (int(w.k) + 1) * SHARD]),
        "out/grid.txt", "out/encoder.txt",
    output:
        "out/shard/{{k}}.txt",
    shell:
        "touch {{output}}"


rule model:
    input:
        "out/cohort.txt", expand("out/shard/{{k}}.txt", k=SHARDS), "out/grid.txt", "out/matrix.txt", "model.yaml",
    output:
        "out/model/{{m}}.txt",
    shell:
        "touch {{output}}"


rule shuffled:
    input:
        "out/cohort.txt", expand("out/shard/{{k}}.txt", k=SHARDS), "out/grid.txt", "out/matrix.txt", "model.yaml",
    output:
        "out/shuffled/{{m}}.txt",
    shell:
        "touch {{output}}"


rule evaluate:
    input:
        expand("out/model/{{m}}.txt", m=MODELS),
    output:
        "out/metrics.txt",
    shell:
        "touch {{output}}"


rule attention:
    input:
        expand("out/model/{{m}}.txt", m=[m for m in MODELS if m.startswith("fusion")]),
        expand("out/shuffled/{{m}}.txt", m=SHUFFLED), "out/cohort.txt", expand("out/shard/{{k}}.txt", k=SHARDS), "out/grid.txt", "out/matrix.txt",
    output:
        "out/attention.txt",
    shell:
        "touch {{output}}"


rule summary:
    input:
        "out/metrics.txt", expand("out/model/{{m}}.txt", m=MODELS), "out/attention.txt", "out/cohort.txt",
        "model.yaml",
    output:
        "out/summary.txt",
    shell:
        "touch {{output}}"
'''


def write_bare_workflow(work: Path, bids: Path, n: int, shard: int, folds: int) -> None:
    (work / "Snakefile").write_text(BARE_SNAKEFILE.format(n=n, shard=shard, folds=folds, bids=bids))
    for stub in ("olink.csv", "categories.tsv", "model.yaml"):
        (work / stub).write_text("")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run(work: Path, extra: list[str]) -> tuple[float, float, int, str]:
    """Wall and CPU seconds of one `snakemake -n`, the job total it planned, its output.

    CPU time (user + sys of the child) is reported beside wall time because a shared
    machine's load inflates wall time of whichever run it hits.
    """
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(BIN / "snakemake"), "-n", "--cores", "2", "--quiet", "rules", *extra]
    cpu0, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n failed in {work}:\n{text[-3000:]}")
    m = re.search(r"^total\s+(\d+)", text, re.MULTILINE)
    if not m:
        raise SystemExit(f"no job total in the output of {cmd}:\n{text[-3000:]}")
    return seconds, cpu, int(m.group(1)), text


def profile_ours(work: Path, cfg: Path, top: int = 25) -> None:
    """cProfile of our dry run, printed by cumulative time (where planning time goes)."""
    prof = work / "ours.prof"
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [
        str(BIN / "python"), "-m", "cProfile", "-o", str(prof), str(BIN / "snakemake"),
        "-n", "--cores", "2", "--quiet", "rules", "--configfile", str(cfg),
    ]
    subprocess.run(cmd, cwd=work, env=env, capture_output=True, check=True)
    import pstats

    pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(top)



@contextlib.contextmanager
def scratch_folder(prefix: str, keep: bool):
    """A temporary folder for one benchmark run: removed afterwards unless ``keep`` (--keep)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shard-size", type=int, default=64, help="must match config embedding.shard_size")
    parser.add_argument("--folds", type=int, default=3, help="must match config cohort.folds")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of our dry run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    print(f"cpu: {cpu_description()}", flush=True)  # ratios hold for this CPU

    with scratch_folder("bench_dag_", args.keep) as tmp:
        t0 = time.perf_counter()
        bids = tmp / "bids"
        make_bids(bids, args.subjects)
        ours = tmp / "ours"
        ours.mkdir()
        copy_workflow(ours)
        cfg = write_our_config(ours, bids)
        print(f"built {args.subjects} subjects in {time.perf_counter() - t0:.1f} s ({tmp})")

        _, _, our_jobs, _ = dry_run(ours, ["--configfile", str(cfg)])  # warm-up; also the job count
        bare = tmp / "bare"
        bare.mkdir()
        write_bare_workflow(bare, bids, args.subjects, args.shard_size, args.folds)
        _, _, bare_jobs, _ = dry_run(bare, [])
        if bare_jobs != our_jobs:
            raise SystemExit(f"job counts differ: ours {our_jobs}, bare {bare_jobs}")

        # the default config's preprocessing batches: fewer jobs, one rule per batch
        batched_cfg = write_our_config(ours, bids, BATCHED_SCANS_PER_JOB, "bench_batched.yaml")
        _, _, batched_jobs, _ = dry_run(ours, ["--configfile", str(batched_cfg)])
        runs = {"neurofusion": [], "bare": [], "batched": []}
        for _ in range(args.repeats):  # interleaved, so drift hits all alike
            runs["neurofusion"].append(dry_run(ours, ["--configfile", str(cfg)])[:2])
            runs["bare"].append(dry_run(bare, [])[:2])
            runs["batched"].append(dry_run(ours, ["--configfile", str(batched_cfg)])[:2])
        print(f"subjects: {args.subjects}   jobs planned: {our_jobs} (neurofusion, one preprocessing job per scan, "
              f"and bare); {batched_jobs} (batched: neurofusion with preprocess.scans_per_job {BATCHED_SCANS_PER_JOB})")
        med = {}
        for name, times in runs.items():
            wall = statistics.median(t[0] for t in times)
            cpu = statistics.median(t[1] for t in times)
            med[name] = (wall, cpu)
            print(
                f"{name:<11} snakemake -n: median wall {wall:.2f} s, CPU {cpu:.2f} s"
                f"  (wall runs: {', '.join(f'{t[0]:.2f}' for t in times)})"
            )
        print(
            f"ratio neurofusion / bare: wall {med['neurofusion'][0] / med['bare'][0]:.2f}x, "
            f"CPU {med['neurofusion'][1] / med['bare'][1]:.2f}x   (goal <= 1.5x); "
            f"batched / bare: wall {med['batched'][0] / med['bare'][0]:.2f}x, CPU {med['batched'][1] / med['bare'][1]:.2f}x"
        )
        if args.profile:
            profile_ours(ours, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
