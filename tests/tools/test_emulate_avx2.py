"""tools/emulate-avx2: every `neurofusion` step a command starts runs under qemu-x86_64 -cpu X.

The emulator itself is exercised by tests/test_fingerprint.py; here a stand-in qemu-x86_64
(a script that logs its arguments and runs the rest natively) checks what the tool hands it,
from folders whose names hold spaces and quotes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "emulate-avx2"


@pytest.fixture()
def stand_in(tmp_path):
    """A qemu-x86_64 on PATH, in a folder named with spaces, quotes and a dollar sign, that logs its call."""
    folder = tmp_path / 'q "emu\'s" $HOME'
    folder.mkdir()
    log = tmp_path / "calls.log"
    qemu = folder / "qemu-x86_64"
    qemu.write_text('#!/usr/bin/env bash\n'
                    f'printf "%s\\n" "$*" >> {str(log)!r}\n'
                    '[ "$1" = -cpu ] || exit 97\n'
                    'shift 2\nexec "$@"\n')
    qemu.chmod(0o755)
    env = dict(os.environ, PATH=f"{folder}:{os.environ['PATH']}", PYTHON=sys.executable)
    return env, log


def _run(args, env):
    return subprocess.run([shutil.which("bash"), str(TOOL), *args], env=env, capture_output=True, text=True, timeout=300)


def test_a_neurofusion_step_runs_under_the_emulator_with_the_cpu_asked_for(stand_in):
    env, log = stand_in
    proc = _run(["neurofusion", "--version"], dict(env, EMULATED_CPU="Haswell-v4"))
    assert proc.returncode == 0, proc.stderr
    assert "neurofusion" in proc.stdout
    assert log.read_text().split()[:2] == ["-cpu", "Haswell-v4"]
    assert "-m neurofusion --version" in log.read_text()


def test_a_workflow_command_finds_the_wrapped_neurofusion_on_path(stand_in):
    env, log = stand_in
    proc = _run(["bash", "-c", "neurofusion --version && command -v neurofusion"], env)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.splitlines()[-1]).parent != Path(sys.executable).parent
    assert log.read_text().startswith("-cpu EPYC-Milan ")  # the default CPU


def test_the_step_s_exit_status_comes_back(stand_in):
    env, _ = stand_in
    proc = _run(["neurofusion", "no-such-step"], env)
    assert proc.returncode == 2  # argparse's status for an unknown command


def _path_without_qemu(folder: Path) -> str:
    """A PATH with just the tools the script itself calls, and no qemu-x86_64."""
    folder.mkdir()
    for tool in ("bash", "dirname", "basename", "mktemp", "rm", "cat", "chmod", "grep"):
        (folder / tool).symlink_to(shutil.which(tool))
    return str(folder)


@pytest.mark.parametrize("args, env_change, says", [
    ([], {}, "no command given"),
    (["neurofusion", "--version"], {"PYTHON": "/no/such/python"}, "is not an executable Python"),
    (["neurofusion", "--version"], {"PATH": None}, "qemu-x86_64 not found"),
])
def test_a_missing_part_is_a_one_line_error(stand_in, tmp_path, args, env_change, says):
    env, _ = stand_in
    if "PATH" in env_change:
        env_change = {"PATH": _path_without_qemu(tmp_path / "bin")}
    proc = _run(args, dict(env, **env_change))
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and says in proc.stderr
