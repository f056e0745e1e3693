"""fingerprint.py and `neurofusion kernel-check`: the bits the steps' CPU kernels give.

The central check runs the fingerprint on emulated AVX2-only CPUs (QEMU's user-mode
emulator: `qemu-x86_64 -cpu EPYC-Milan`, an AMD EPYC with no AVX-512 and 32 KiB L1d / 512 KiB
L2 per core where this project's machines have AVX-512 and 48 KiB / 1 MiB; and
`-cpu Haswell-v4`, an Intel CPU) and requires the host's fingerprint back. It runs with NEUROFUSION_TEST_EMULATED=1 (.ci/run sets
it) and skips where qemu-user is not installed (`apt-get install qemu-user`; .ci/run installs it).
The emulator computes floating point to IEEE rules, like the CPU does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from neurofusion.cli import main
from neurofusion.fingerprint import PROBES, cpu_features, fingerprint
from neurofusion.kernels import PORTABLE_X86, VARIABLE, is_x86

X86 = is_x86()
QEMU = shutil.which("qemu-x86_64")
# opt-in, like the SLURM test: emulation costs minutes of both cores (about 1.5 min per CPU quiet on
# this project's EPYC machines, twice that loaded; 11-16 min each on an Intel Xeon host with the
# earlier two-step pretraining probe, ~7.5 min with one), more than a user's `make test` should spend unasked
OPT_IN = "NEUROFUSION_TEST_EMULATED"
OPTED_IN = os.environ.get(OPT_IN) == "1"


def _qemu_version(qemu: str | None) -> tuple[int, ...]:
    """(major, minor) of qemu-x86_64 --version, () when it is missing or says nothing readable."""
    if qemu is None:
        return ()
    try:
        first = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=30).stdout
        return tuple(int(x) for x in re.search(r"version (\d+)\.(\d+)", first).groups())
    except (OSError, subprocess.SubprocessError, AttributeError):
        return ()


# QEMU before 7.2 lacks the AVX2 this check needs (its TCG gained AVX/AVX2 in 7.2); asked only when opted in
QEMU_VERSION = _qemu_version(QEMU) if OPTED_IN else ()
# an AVX2-only AMD EPYC (Zen 3) and an Intel Haswell: MKL, for one, takes other code paths on
# Intel than on AMD, and oneDNN sizes some blockings by the caches
EMULATED_CPUS = ("EPYC-Milan", "Haswell-v4")


# A guard against a hung process, not a budget: how long emulation takes depends on the host
# (on an Intel Xeon host 16 min per emulated CPU with the earlier two-step pretraining probe and
# 7.5 min with one, quiet; an EPYC host needs 1.5 min)
HANG_SECONDS = {"host": 900, "emulated": 3600}


def _kernel_check(tmp_path, name: str, prefix: tuple[str, ...] = (), **env) -> dict:
    """`neurofusion kernel-check --save` in a fresh process (optionally under an emulator)."""
    out = tmp_path / f"{name}.json"
    environ = {k: v for k, v in os.environ.items() if k not in PORTABLE_X86 and k != VARIABLE}
    environ.update(env)
    proc = subprocess.run([*prefix, sys.executable, "-m", "neurofusion", "kernel-check", "--save", str(out)],
                          env=environ, capture_output=True, text=True,
                          timeout=HANG_SECONDS["emulated" if prefix else "host"])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_every_probe_gives_the_same_digest_twice():
    first, second = fingerprint(), fingerprint()
    assert first == second
    assert list(first) == [*PROBES, "fingerprint"]
    assert len(set(first.values())) == len(first)  # each probe hashes something of its own


def test_kernel_check_saves_and_compares(tmp_path, capsys):
    saved = tmp_path / "a.json"
    assert main(["kernel-check", "--save", str(saved)]) == 0
    record = json.loads(saved.read_text())
    assert record["probes"] == fingerprint()
    assert main(["kernel-check", "--against", str(saved)]) == 0
    assert "the same bits as" in capsys.readouterr().out


def test_a_difference_names_the_blocks_that_differ(tmp_path, capsys):
    saved = tmp_path / "a.json"
    main(["kernel-check", "--save", str(saved)])
    record = json.loads(saved.read_text())
    record["probes"]["ITK N4"] = "f" * 64
    saved.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["kernel-check", "--against", str(saved)]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.endswith("DIFFERS from " + str(saved) + " in: ITK N4")


def test_a_file_that_is_no_fingerprint_is_a_one_line_error(tmp_path, capsys):
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    assert main(["kernel-check", "--against", str(junk)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(junk) in err and "kernel-check --save" in err


@pytest.mark.skipif(not (X86 and cpu_features()["AVX512F"]), reason="needs an AVX-512 CPU to compare against")
def test_native_kernels_change_the_fingerprint(tmp_path):
    """The probes see a change of kernels: on AVX-512, native kernels give other bits."""
    portable = _kernel_check(tmp_path, "portable")
    native = _kernel_check(tmp_path, "native", **{VARIABLE: "native"})
    assert portable["probes"]["fingerprint"] != native["probes"]["fingerprint"]
    assert native["probes"]["encoder pretraining"] != portable["probes"]["encoder pretraining"]


needs_qemu = [
    pytest.mark.slow,
    pytest.mark.skipif(not OPTED_IN,
                       reason=f"opt-in: set {OPT_IN}=1 to run it (needs qemu-user: apt-get install qemu-user; "
                              ".ci/run sets it and installs qemu-user)"),
    pytest.mark.skipif(not X86, reason="the portable kernels and the emulated CPU are x86-64"),
    pytest.mark.skipif(QEMU is None, reason="needs QEMU's user-mode emulator: apt-get install qemu-user "
                                            "(.ci/run installs it when run as root)"),
    pytest.mark.skipif(OPTED_IN and QEMU is not None and QEMU_VERSION < (7, 2),
                       reason=f"needs QEMU 7.2 or later (AVX2 emulation); {QEMU} is "
                              f"{'.'.join(map(str, QEMU_VERSION)) or 'of an unknown version'}"),
]


@pytest.fixture(scope="module")
def host_fingerprint(tmp_path_factory) -> dict:
    """The host's own fingerprint, computed once for every emulated CPU."""
    return _kernel_check(tmp_path_factory.mktemp("host"), "host")


@pytest.mark.parametrize("cpu", [pytest.param(cpu, marks=needs_qemu) for cpu in EMULATED_CPUS])
def test_an_emulated_avx2_only_cpu_gives_the_same_bits(tmp_path, cpu, host_fingerprint):
    here = host_fingerprint
    emulated = _kernel_check(tmp_path, "emulated", prefix=(QEMU, "-cpu", cpu))
    assert emulated["cpu_features"]["AVX2"] and not emulated["cpu_features"]["AVX512F"], \
        "the emulated CPU should offer AVX2 but not AVX-512"
    differ = [name for name in here["probes"] if here["probes"][name] != emulated["probes"][name]]
    assert not differ, f"an emulated {cpu} computes these blocks to other bits: {differ}"


def test_off_x86_kernel_check_says_the_libraries_chose(tmp_path, monkeypatch, capsys):
    """On an ARM machine no portable-kernel variable applies; the record must not say portable."""
    import neurofusion.kernels as kernels

    monkeypatch.setattr(kernels.platform, "machine", lambda: "aarch64")
    monkeypatch.delenv(VARIABLE, raising=False)
    saved = tmp_path / "arm.json"
    assert main(["kernel-check", "--save", str(saved)]) == 0
    assert json.loads(saved.read_text())["kernels"].startswith("library defaults (not x86-64")
    assert "kernel mode library defaults" in capsys.readouterr().out
