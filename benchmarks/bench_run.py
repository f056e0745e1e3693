"""What does Snakemake itself cost when it *runs* a large cohort (not only plans it)?

Builds a BIDS tree of N placeholder subjects (default N = 100, 400, 1,600) and runs the
per-subject part of our workflow on it with the local executor, `--cores 2`: the real
rules (`template`, `patch_grid`, and per subject `preprocess_t1` and `extract_patches`,
with their params, logs, benchmark files, code hashes and metadata) through
`--until extract_patches`, but with a stub `neurofusion` first on PATH that only creates
the output files each command names. The steps then cost almost nothing, so what is left
is orchestration: Snakemake's planning, scheduling, job setup and bookkeeping, plus one
`bash` + stub process per job. In the same run, a bare Snakefile with the same jobs and
edges (`touch` rules, nothing else) gives the floor Snakemake itself sets.

For each workflow and scheduler it prints wall time, wall time per subject (the
orchestration overhead per subject), Snakemake's own CPU per job (user + sys of the
snakemake process and its threads) and that of its child processes (each job's bash and
stub or `touch`; with ilp also the CBC solver runs), then the growth exponent b of
wall ~ N^b and of Snakemake's CPU (least squares over the sizes, and between the last two). Goal: at 1,600 subjects <= 0.2 s per subject, b <= 1.1.
A configuration whose run passes --max-seconds is stopped and reported as such, and
the larger sizes of that configuration are skipped (the default ILP scheduler grows
quadratically; see the README, "Scale").

    .venv/bin/python benchmarks/bench_run.py                           # N = 100, 400, 1600
    .venv/bin/python benchmarks/bench_run.py --sizes 1600 6400 --modes ours:profile bare:profile
    .venv/bin/python benchmarks/bench_run.py --sizes 400 --modes ours:greedy/20 ours:ilp/100
"""

from __future__ import annotations

from neurofusion.kernels import choose_cpu_kernels  # before numpy/torch load: the steps' kernels

choose_cpu_kernels()  # AVX2 kernels unless NEUROFUSION_CPU_KERNELS=native, as every step

import argparse
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from neurofusion.runtime import cpu_description

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dag import copy_workflow as copy_dag_parts  # noqa: E402
from bench_dag import make_bids, scratch_folder, write_our_config  # noqa: E402  (same placeholder cohort)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# profiles/ too: profiles/default is the workflow's own profile, loaded without --profile
WORKFLOW_PARTS = ["Snakefile", "workflow", "config", "src", "profiles"]
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Creates every output path a `neurofusion` command names (the flags below) and nothing else.
STUB = r"""#!/bin/sh
# neurofusion stub for benchmarks/bench_run.py: creates the outputs a command names, no work.
step=$1; shift
case $step in
  template)
    res=""; dir=""
    while [ $# -gt 0 ]; do
      case $1 in
        --resolution) shift
          while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do res="$res $1"; shift; done ;;
        --out-dir) dir=$2; shift 2 ;;
        *) shift ;;
      esac
    done
    mkdir -p "$dir"
    for r in $res; do
      label=$(printf %s "$r" | tr . p)
      for kind in T1w mask; do : > "$dir/tpl-MNI152NLin2009aSym_res-${label}_desc-brain_$kind.nii.gz"; done
    done ;;
  *)
    while [ $# -gt 0 ]; do
      case $1 in
        --out|--mask|--xfm|--qc|--metrics) : > "$2"; shift 2 ;;
        *) shift ;;
      esac
    done ;;
esac
"""

BARE_SNAKEFILE = '''
# The per-subject part of our DAG (template, patch_grid, preprocess_t1, extract_patches),
# job for job and edge for edge, as `touch` rules: no params, logs, benchmarks, resources.
SUBJECTS = [f"{{i:05d}}" for i in range(1, {n} + 1)]
BIDS = "{bids}"
TEMPLATE = expand("out/template/{{r}}_{{k}}.nii.gz", r=("1", "2"), k=("T1w", "mask"))


rule all:
    input:
        expand("out/patch/{{s}}.npy", s=SUBJECTS),


rule template:
    output:
        TEMPLATE,
    shell:
        "touch {{output}}"


rule grid:
    output:
        "out/grid.txt",
    shell:
        "touch {{output}}"


rule prep:
    input:
        BIDS + "/sub-{{s}}/anat/sub-{{s}}_T1w.nii.gz", TEMPLATE,
    output:
        "out/prep/{{s}}.img", "out/prep/{{s}}.mask", "out/prep/{{s}}.mat", "out/prep/{{s}}.qc", "out/prep/{{s}}.json",{group}
    shell:
        "touch {{output}}"


rule patch:
    input:
        "out/prep/{{s}}.img", "out/grid.txt",
    output:
        "out/patch/{{s}}.npy",{group}
    shell:
        "touch {{output}}"
'''
GROUP_LINE = '\n    group:\n        "subject"'


@dataclass
class Result:
    wall: float  # seconds, snakemake start to exit
    own_cpu: float  # user + sys of the snakemake process (all its threads)
    child_cpu: float  # user + sys of the job processes it waited for (bash, stub / touch)
    jobs: int  # jobs Snakemake ran
    log: str
    timed_out: bool = False


def write_stub(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stub = folder / "neurofusion"
    stub.write_text(STUB)
    stub.chmod(0o755)


def copy_workflow(dest: Path) -> None:
    """The checkout's workflow, as bench_dag copies it, with the profiles."""
    copy_dag_parts(dest, WORKFLOW_PARTS)


def _proc_cpu(pid: int) -> tuple[float, float]:
    """(own, waited-for children) user + sys seconds of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def run_snakemake(work: Path, args: list[str], stub_dir: Path | None, max_seconds: float) -> Result:
    """One `snakemake --cores 2` run; its own CPU read from /proc while it is a zombie."""
    path = os.environ.get("PATH", "")
    env = dict(os.environ, PATH=os.pathsep.join([*([str(stub_dir)] if stub_dir else []), str(BIN), path]))
    cmd = [str(BIN / "snakemake"), "--cores", "2", "--nocolor", *args]
    log_path = work / "snakemake.out"
    with open(log_path, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        timed_out = False
        deadline = start + max_seconds
        while True:
            # wait for the exit without reaping, so /proc/PID/stat still holds its totals
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is not None:
                break
            if time.perf_counter() > deadline and not timed_out:
                timed_out = True
                os.killpg(proc.pid, signal.SIGTERM)
                deadline = time.perf_counter() + 30
            elif timed_out and time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
            time.sleep(0.05)
        wall = time.perf_counter() - start
        own, children = _proc_cpu(proc.pid)
        proc.wait()
    log = log_path.read_text()
    if proc.returncode != 0 and not timed_out:
        raise SystemExit(f"snakemake failed in {work} ({' '.join(cmd[:6])} ...):\n{log[-4000:]}")
    jobs = sum(rule != "all" for rule in re.findall(r"^Finished jobid: \d+ \(Rule: (\w+)\)", log, re.MULTILINE))
    return Result(wall, own, children, jobs, log, timed_out)


def prepare(tmp: Path, n: int, kind: str) -> tuple[Path, list[str], Path | None]:
    """A fresh folder for one run: our workflow (with the stub) or the bare one."""
    bids = tmp / "bids"
    work = tmp / f"{kind}-{time.monotonic_ns()}"
    work.mkdir()
    if kind == "ours":
        copy_workflow(work)
        cfg = write_our_config(work, bids)
        return work, ["--configfile", str(cfg), "--until", "extract_patches"], tmp / "stub"
    group = GROUP_LINE if kind == "bare-grouped" else ""
    (work / "Snakefile").write_text(BARE_SNAKEFILE.format(n=n, bids=bids, group=group))
    shutil.copytree(REPO / "profiles", work / "profiles")  # the same settings as ours
    return work, [], None


def scheduler_args(spec: str) -> list[str]:
    """ilp | greedy | greedy/K (at most K ready jobs considered per round) | profile (no flag)."""
    name, _, subsample = spec.partition("/")
    out = [] if name == "profile" else ["--scheduler", name]
    # 0 switches subsampling off, also where the profile sets it
    return out + ([] if name == "profile" else ["--scheduler-subsample", subsample or "0"])


def exponent(points: list[tuple[int, float]]) -> float | None:
    """b of y ~ x^b, least squares in log-log."""
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600], help="subjects per run")
    parser.add_argument(
        "--modes", nargs="+", default=["ours:profile", "bare:profile", "bare-grouped:profile", "ours:greedy", "ours:ilp"],
        help="WORKFLOW:SCHEDULER; WORKFLOW is ours, bare or bare-grouped (bare with `group: subject` "
        "on both per-subject rules); SCHEDULER is profile (no scheduler flags: profiles/default "
        "decides, copied beside both workflows), ilp (Snakemake's default), greedy, or ilp/K, "
        "greedy/K (--scheduler-subsample K: at most K ready jobs considered per round)",
    )
    parser.add_argument("--max-seconds", type=float, default=300,
                        help="stop a run after this long and skip the larger sizes of its mode")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further snakemake arguments for every run (last on the line)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    print(f"cpu: {cpu_description()}", flush=True)  # timings hold for this CPU
    version = subprocess.run([str(BIN / "snakemake"), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"snakemake {version}, local executor, --cores 2; stub steps (outputs created, no work)", flush=True)

    results: dict[str, list[tuple[int, Result]]] = {m: [] for m in args.modes}
    stopped: dict[str, str] = {}
    with scratch_folder("bench_run_", args.keep) as tmp:
        write_stub(tmp / "stub")
        for n in sorted(args.sizes):
            shutil.rmtree(tmp / "bids", ignore_errors=True)
            make_bids(tmp / "bids", n)
            for mode in args.modes:
                kind, _, scheduler = mode.partition(":")
                if mode in stopped:
                    print(f"N={n:>5} {mode:<20} skipped ({stopped[mode]})", flush=True)
                    continue
                work, run_args, stub = prepare(tmp, n, kind)
                run_args += scheduler_args(scheduler)
                r = run_snakemake(work, run_args + args.extra, stub, args.max_seconds)
                expected = 2 * n + 2
                if r.timed_out:
                    stopped[mode] = f"N={n} passed --max-seconds {args.max_seconds:.0f} s"
                    print(f"N={n:>5} {mode:<20} stopped after {r.wall:.0f} s, {r.jobs} of {expected} jobs done "
                          f"({r.jobs / r.wall:.1f} jobs/s; all at that rate: >= {r.wall * expected / max(r.jobs, 1):.0f} s "
                          f"= {r.wall * expected / max(r.jobs, 1) / n:.3f} s/subject)", flush=True)
                    continue
                if r.jobs != expected:
                    raise SystemExit(f"{mode} ran {r.jobs} jobs, expected {expected}:\n{r.log[-3000:]}")
                results[mode].append((n, r))
                print(
                    f"N={n:>5} {mode:<20} {r.jobs:>5} jobs: wall {r.wall:7.1f} s = {r.wall / n:.3f} s/subject; "
                    f"snakemake CPU {r.own_cpu:6.1f} s = {1000 * r.own_cpu / r.jobs:5.1f} ms/job; "
                    f"child processes {1000 * r.child_cpu / r.jobs:4.1f} ms/job",
                    flush=True,
                )
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
        print("\ngrowth exponent b (wall ~ N^b; CPU ~ N^b), least squares over the sizes | last two sizes:")
        for mode, points in results.items():
            if len(points) < 2:
                print(f"  {mode:<20} (fewer than two sizes measured{': ' + stopped[mode] if mode in stopped else ''})")
                continue
            walls = [(n, r.wall) for n, r in points]
            cpus = [(n, r.own_cpu) for n, r in points]
            n_last, r_last = points[-1]
            print(
                f"  {mode:<20} wall b = {exponent(walls):.2f} | {exponent(walls[-2:]):.2f};  "
                f"snakemake CPU b = {exponent(cpus):.2f} | {exponent(cpus[-2:]):.2f};  "
                f"at N={n_last}: {r_last.wall / n_last:.3f} s/subject (goal <= 0.2 s, b <= 1.1)"
                + (f"; {stopped[mode]}" if mode in stopped else "")
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
