"""One complete tiny run of the whole workflow, shared by the workflow tests.

`tiny_run` (session scope) copies the workflow (Snakefile, workflow/, config/, src/,
profiles/) into a temporary folder and runs `snakemake --cores 2` there on a tiny demo
cohort once. Tests that change something work on `tiny_copy`, a private copy of that
finished run (file times kept, .snakemake metadata included), and only dry-run it.
Nothing writes into `tiny_run` itself: under pytest-xdist (`make test`) another worker may
be copying it or comparing its files with its own run's at the same moment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv running pytest: snakemake and neurofusion live here
WORKFLOW_PARTS = ("Snakefile", "workflow", "config", "src", "profiles")
CORES = 2

# Small enough for ~minutes on 2 cores, big enough for 2 folds x 3 variants and 2 shards.
TINY_CONFIG = {
    "demo_cohort": {"n_subjects": 14, "n_without_scan": 1, "seed": 7},
    "cohort": {"folds": 2},
    # one job per scan, so that tests can name a subject's job; test_preprocess_batches.py runs batches
    "preprocess": {"scans_per_job": 1},
    "embedding": {"shard_size": 8, "pretrain": {"epochs": 2}},
    "evaluate": {"bootstrap": 200},
    "model_config": "tiny_model.yaml",
}
TINY_TRAINING = {"epochs": 4, "patience": 2, "warmup_epochs": 1}


def snakemake_env() -> dict[str, str]:
    """The environment for snakemake subprocesses: the venv's bin first on PATH."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def copy_workflow(dest: Path) -> None:
    """The parts of the checkout a run needs; src/ too, because the rules hash it."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, dest / part)


def write_tiny_config(dest: Path) -> Path:
    """tiny.yaml (overrides of config/config.yaml) and tiny_model.yaml (fewer epochs)."""
    model = yaml.safe_load((REPO / "config" / "model.yaml").read_text())
    model["training"].update(TINY_TRAINING)
    (dest / "tiny_model.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
    path = dest / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_CONFIG, sort_keys=False))
    return path


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: dict[str, str] = field(default_factory=dict)

    @property
    def subject(self) -> str | None:
        return self.wildcards.get("subject")


_RULE_LINE = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")
_WILDCARDS_LINE = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(output: str) -> list[Job]:
    """The jobs a `snakemake -n` output lists (rule and wildcards), `all` left out.

    A job is a `rule NAME:` line followed by indented fields; jobs of a group
    (`group: subject`) are printed indented under a "Group job" line.
    """
    jobs: list[Job] = []
    for line in output.splitlines():
        rule = _RULE_LINE.match(line)
        if rule:
            jobs.append(Job(rule.group(1)))
            continue
        wildcards = _WILDCARDS_LINE.match(line)
        if wildcards and jobs and not jobs[-1].wildcards:
            for item in wildcards.group(1).split(", "):
                key, _, value = item.partition("=")
                jobs[-1].wildcards[key.strip()] = value.strip()
    return [j for j in jobs if j.rule != "all"]


def rules_of(jobs: list[Job]) -> set[str]:
    return {j.rule for j in jobs}


@dataclass
class TinyRun:
    """A workflow folder with a finished (or to-be-run) tiny run."""

    root: Path
    configfiles: list[Path]
    # The shared run (``tiny_run``) is read by every worker: a Snakemake call on it (dry run,
    # --summary, --report: they may write under .snakemake/) holds this file's exclusive lock,
    # a copy its shared lock, so no copy sees a half-written file. Private copies have none.
    lock: Path | None = None

    def snakemake(self, *args: str, timeout: float = 900, cores: int = CORES) -> subprocess.CompletedProcess:
        # one --configfile with every file (a second flag would replace the first), last, because
        # it takes every value after it: targets in ``args`` must come before it
        cmd = [str(BIN / "snakemake"), "--cores", str(cores), *args, "--configfile", *map(str, self.configfiles)]
        with self._locked(fcntl.LOCK_EX):
            return subprocess.run(
                cmd, cwd=self.root, env=snakemake_env(), capture_output=True, text=True, timeout=timeout
            )

    @contextlib.contextmanager
    def _locked(self, mode: int):
        if self.lock is None:
            yield
            return
        with open(self.lock, "a") as handle:
            fcntl.flock(handle, mode)
            yield

    def dry_run(self, *args: str) -> list[Job]:
        out = self.snakemake("-n", *args)
        assert out.returncode == 0, f"snakemake -n failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return planned_jobs(out.stdout + out.stderr)

    def copy(self, dest: Path) -> "TinyRun":
        """A private copy: file times and .snakemake metadata kept, so it is equally up to date."""
        with self._locked(fcntl.LOCK_SH):
            shutil.copytree(self.root, dest, symlinks=True, copy_function=shutil.copy2)
        return TinyRun(dest, [dest / c.relative_to(self.root) for c in self.configfiles])

    @property
    def results(self) -> Path:
        return self.root / "results"


def failure_report(out: subprocess.CompletedProcess, root: Path) -> str:
    """The end of Snakemake's output and of every step log, to see why a run failed."""
    parts = [out.stdout[-4000:], out.stderr[-6000:]]
    for log in sorted((root / "results" / "logs").rglob("*.log")):
        text = log.read_text(errors="replace")
        if "error" in text.lower() or "traceback" in text.lower():
            parts.append(f"--- {log.relative_to(root)}\n{text[-2000:]}")
    return "\n".join(parts)


def run_tiny(root: Path, *extra: str) -> tuple[TinyRun, float]:
    """Copy the workflow into root and run it completely; returns the run and its seconds."""
    copy_workflow(root)
    run = TinyRun(root, [write_tiny_config(root)])
    start = time.perf_counter()
    out = run.snakemake(*extra, timeout=1800)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        pytest.fail(f"the tiny workflow run failed (rc {out.returncode}):\n{failure_report(out, root)}", pytrace=False)
    return run, seconds


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    """The whole workflow, run once on the tiny demo cohort (local, 2 cores).

    Once per test session, also under pytest-xdist (`make test` runs two workers): the
    worker that needs it first builds it in the folder the workers share, under an
    exclusive lock, while a worker that needs it too waits on that lock. A failed build is
    written down, so the other worker fails with the same report instead of building again.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root, done, failed = shared / "tiny" / "run", shared / "tiny.done", shared / "tiny.failed"
    run = TinyRun(root, [root / "tiny.yaml"], lock=shared / "tiny.lock")  # write_tiny_config's file
    with run._locked(fcntl.LOCK_EX):
        if failed.exists():
            pytest.fail(failed.read_text(), pytrace=False)
        if not done.exists():
            try:
                _, seconds = run_tiny(root)
            except BaseException as exc:  # pytest.fail raises a BaseException
                failed.write_text(str(exc) or type(exc).__name__)
                raise
            done.write_text(f"{seconds:.0f}\n")
            print(f"\ntiny workflow run: {seconds:.0f} s")
    return run


@pytest.fixture
def tiny_copy(tiny_run, tmp_path) -> TinyRun:
    """A private copy of the finished tiny run, for a test that changes something."""
    return tiny_run.copy(tmp_path / "run")


# Outputs that may differ between two runs of the same inputs: logs (times per step among
# them) and Snakemake's resource benchmarks. Everything else must repeat byte for byte.
_RUN_DEPENDENT = ("logs", "benchmarks")


def result_files(results: Path) -> list[Path]:
    """Every output file of a run, relative to its results folder, logs and benchmarks left out."""
    return sorted(p.relative_to(results) for p in results.rglob("*")
                  if p.is_file() and p.relative_to(results).parts[0] not in _RUN_DEPENDENT)


def assert_same_results(expected: Path, actual: Path) -> None:
    """Two results folders hold the same files with the same bytes (logs and benchmarks aside)."""
    files = result_files(expected)
    assert files == result_files(actual), "the two runs wrote different sets of files"
    differ = [str(rel) for rel in files if (expected / rel).read_bytes() != (actual / rel).read_bytes()]
    assert not differ, f"{len(differ)} of {len(files)} outputs differ: {differ[:20]}"
