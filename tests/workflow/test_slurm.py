"""The SLURM profile on a real (single-node) SLURM: same results as the local run.

tests/cluster/slurm_up.sh brings up munged, slurmctld and slurmd on this machine (root,
apt-get); the test runs the workflow through `--profile` (profiles/slurm with the test
partition and a 2 s first status check) and compares the outputs with the local tiny
run. To keep it short it does not rerun every subject: it forces one subject's imaging
group job (preprocess_t1 + extract_patches in one SLURM job) and the proteins step, so
every rule downstream of them (pretraining, every shard, all training jobs on the fake
GPU, evaluation, attention, summary) runs as SLURM jobs.

Opt-in: it installs system packages and starts daemons, so it runs only with
NEUROFUSION_TEST_SLURM=1 (`.ci/run` sets it); otherwise it is skipped with a reason that
says so. Opted in, a machine that cannot run it (not root, no apt-get) fails the test
rather than skipping it, so CI cannot hide a broken profile.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from .conftest import BIN, REPO, TinyRun, assert_same_results, rules_of, snakemake_env

pytestmark = pytest.mark.slow

CLUSTER = REPO / "tests" / "cluster"
PARTITION = "nftest"
SUBJECT = "001"


OPT_IN = "NEUROFUSION_TEST_SLURM"


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: it starts munged, slurmctld and slurmd"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "SLURM is not installed and there is no apt-get to install it"
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and not (conf.is_symlink() and "nf-slurm-" in os.readlink(conf)):
        return "this machine has a SLURM setup of its own (/etc/slurm/slurm.conf); not touching it"
    return None


def free_ports(n: int) -> list[int]:
    """Ports nothing listens on now (a leftover cluster may hold SLURM's defaults)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node SLURM; yields the environment for its client commands."""
    if os.environ.get(OPT_IN) != "1":
        pytest.skip(f"opt-in: set {OPT_IN}=1 to run it (as root it installs slurm-wlm and munge with apt-get "
                    "and starts munged, slurmctld and slurmd for the test; .ci/run does this)")
    reason = skip_reason()
    if reason:
        pytest.fail(f"{OPT_IN}=1 but the SLURM test cannot run here: {reason}")
    state = Path(tempfile.mkdtemp(prefix="nf-slurm-", dir="/tmp"))  # munged must reach it
    ctld_port, slurmd_port = free_ports(2)
    env = dict(os.environ, SLURM_PARTITION=PARTITION, SLURMCTLD_PORT=str(ctld_port), SLURMD_PORT=str(slurmd_port))
    start = time.perf_counter()
    up = subprocess.run([str(CLUSTER / "slurm_up.sh"), str(state)], env=env, capture_output=True, text=True,
                        timeout=900)
    if up.returncode != 0:
        pytest.fail(f"slurm_up.sh failed:\n{up.stderr[-4000:]}", pytrace=False)
    print(f"\nSLURM bring-up: {time.perf_counter() - start:.1f} s")
    try:
        yield dict(snakemake_env(), SLURM_CONF=str(state / "slurm.conf"))
    finally:
        subprocess.run([str(CLUSTER / "slurm_down.sh"), str(state)], capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def slurm_test_profile(root: Path) -> Path:
    """profiles/slurm, with the test partition and quick status checks."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    profile["slurm-init-seconds-before-status-checks"] = 2
    profile["retries"] = 0
    profile["slurm-keep-successful-logs"] = True  # the test reads them
    folder = root / "test_profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


def forced_targets(run: TinyRun) -> list[str]:
    """One subject's preprocessing output and the proteins rule."""
    qc = next((run.results / "preprocess" / f"sub-{SUBJECT}" / "anat").glob("*_desc-qc_T1w.png"))
    return [str(qc.relative_to(run.root)), "proteins"]


def test_slurm_profile_matches_local_run(slurm_cluster, tiny_run, tmp_path):
    run = tiny_run.copy(tmp_path / "run")
    profile = slurm_test_profile(run.root)
    targets = forced_targets(run)
    planned = run.dry_run("--forcerun", *targets)
    assert {"preprocess_t1", "extract_patches", "proteins", "pretrain_encoder", "embed_patches", "train",
            "evaluate", "export_attention", "summary"} <= rules_of(planned)

    start_wall = time.time()
    start = time.perf_counter()
    cmd = [str(BIN / "snakemake"), "--profile", str(profile), "--configfile", *map(str, run.configfiles),
           "--forcerun", *targets]
    out = subprocess.run(cmd, cwd=run.root, env=slurm_cluster, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-6000:]
    print(f"\nSLURM run of {len(planned)} jobs: {seconds:.0f} s")

    # the jobs really ran as SLURM jobs, one per job (the subject's group as one)
    # (.snakemake/slurm_logs/rule_<rule>/<wildcards>/<slurm job id>.log, group_<group>_<rules>/...)
    base = run.root / ".snakemake" / "slurm_logs"
    logs = {p.relative_to(base).parts[0] for p in base.rglob("*.log")}
    for rule in ("proteins", "cohort", "pretrain_encoder", "embed_patches", "train", "evaluate",
                 "export_attention", "summary"):
        assert f"rule_{rule}" in logs, f"no SLURM job log for {rule}: {sorted(logs)}"
    assert any(name.startswith("group_subject") for name in logs), (
        f"the subject's jobs did not run as one group job: {sorted(logs)}"
    )
    assert (run.results / "eval" / "metrics.tsv").stat().st_mtime >= start_wall
    # GPU rules asked SLURM for a GPU (the profile's `gpu: 1`), met by the fake GRES
    train_job = next((base / "rule_train").rglob("*.log")).stem
    shown = subprocess.run(["scontrol", "show", "job", "-o", train_job], env=slurm_cluster, capture_output=True,
                           text=True)
    assert "gpu" in shown.stdout, f"train job {train_job} did not request a GPU: {shown.stdout}{shown.stderr}"

    # ... and gave the local run's results, to the byte
    assert_same_results(tiny_run.results, run.results)
