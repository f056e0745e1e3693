"""kernels.py: every step asks torch, oneDNN, MKL, NumPy and OpenBLAS for the same CPU kernels."""

import os
import subprocess
import sys

import pytest

from neurofusion.errors import NeurofusionError
from neurofusion.kernels import PORTABLE_X86, VARIABLE, choose_cpu_kernels


def test_portable_by_default_on_x86():
    env = {}
    assert choose_cpu_kernels(env, machine="x86_64") == "portable"
    assert env == PORTABLE_X86


def test_a_users_own_setting_is_kept():
    env = {"ATEN_CPU_CAPABILITY": "default"}
    choose_cpu_kernels(env, machine="x86_64")
    assert env["ATEN_CPU_CAPABILITY"] == "default" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"


@pytest.mark.parametrize("env, machine", [({VARIABLE: "native"}, "x86_64"), ({}, "aarch64")])
def test_native_or_other_architectures_set_nothing(env, machine):
    before = dict(env)
    choose_cpu_kernels(env, machine=machine)
    assert env == before


def test_unknown_mode_is_a_one_line_error():
    with pytest.raises(NeurofusionError, match="NEUROFUSION_CPU_KERNELS='fast' is not a kernel mode"):
        choose_cpu_kernels({VARIABLE: "fast"}, machine="x86_64")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="portable kernels are pinned on x86-64 only")
def test_the_command_line_pins_torch_before_it_loads():
    """In a fresh process, importing the CLI first leaves torch on its AVX2 kernels."""
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE_X86 and k != VARIABLE}
    code = "import neurofusion.cli, torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "AVX2"
