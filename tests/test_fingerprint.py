"""fingerprint.py and `neurofusion kernel-check`: the bits the steps' CPU kernels give.

The central check runs the fingerprint on emulated AVX2-only CPUs (QEMU's user-mode
emulator: `qemu-x86_64 -cpu EPYC-Milan`, an AMD EPYC with no AVX-512 and 32 KiB L1d / 512 KiB
L2 per core where this project's machines have AVX-512 and 48 KiB / 1 MiB; and
`-cpu Haswell-v4`, an Intel CPU) and requires the host's fingerprint back. It skips where qemu-user is not installed (`apt-get install qemu-user`;
.ci/run installs it). The emulator computes floating point to IEEE rules, like the CPU does.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import pytest

from neurofusion.cli import main
from neurofusion.fingerprint import PROBES, cpu_features, fingerprint
from neurofusion.kernels import PORTABLE_X86, VARIABLE

X86 = platform.machine().lower() in ("x86_64", "amd64")
QEMU = shutil.which("qemu-x86_64")
# an AVX2-only AMD EPYC (Zen 3) and an Intel Haswell: MKL, for one, takes other code paths on
# Intel than on AMD, and oneDNN sizes some blockings by the caches
EMULATED_CPUS = ("EPYC-Milan", "Haswell-v4")


def _kernel_check(tmp_path, name: str, prefix: tuple[str, ...] = (), **env) -> dict:
    """`neurofusion kernel-check --save` in a fresh process (optionally under an emulator)."""
    out = tmp_path / f"{name}.json"
    environ = {k: v for k, v in os.environ.items() if k not in PORTABLE_X86 and k != VARIABLE}
    environ.update(env)
    proc = subprocess.run([*prefix, sys.executable, "-m", "neurofusion", "kernel-check", "--save", str(out)],
                          env=environ, capture_output=True, text=True, timeout=900)
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


@pytest.mark.slow
@pytest.mark.skipif(not X86, reason="the portable kernels and the emulated CPU are x86-64")
@pytest.mark.skipif(QEMU is None, reason="needs QEMU's user-mode emulator: apt-get install qemu-user "
                                         "(.ci/run installs it when run as root)")
@pytest.mark.parametrize("cpu", EMULATED_CPUS)
def test_an_emulated_avx2_only_cpu_gives_the_same_bits(tmp_path, cpu):
    here = _kernel_check(tmp_path, "host")
    emulated = _kernel_check(tmp_path, "emulated", prefix=(QEMU, "-cpu", cpu))
    assert emulated["cpu_features"]["AVX2"] and not emulated["cpu_features"]["AVX512F"], \
        "the emulated CPU should offer AVX2 but not AVX-512"
    differ = [name for name in here["probes"] if here["probes"][name] != emulated["probes"][name]]
    assert not differ, f"an emulated {cpu} computes these blocks to other bits: {differ}"
