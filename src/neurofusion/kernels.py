"""Portable CPU kernels: the same bits on an AVX2-only machine and on an AVX-512/AMX one.

PyTorch, oneDNN, MKL, NumPy and OpenBLAS each pick their CPU kernels at run time from
what the processor offers. Kernels of another vector width add floats in another order,
so the same step gives other last bits on another CPU, and a few epochs of training turn
those bits into another encoder and other AUCs. By default every ``neurofusion`` step
therefore asks each library for its AVX2 kernels, which every x86-64 machine this
project runs on has (measured on an AVX-512 machine: the encoder's weights after one
epoch differ between the native and the AVX2 kernels of torch, and again of oneDNN), and
MKL for its vendor-independent branch. ``neurofusion kernel-check`` (fingerprint.py) shows
whether two machines then compute the same bits; tests/test_fingerprint.py runs it on
emulated AVX2-only CPUs.

``NEUROFUSION_CPU_KERNELS=native`` lets each library use everything the CPU has (faster
on AVX-512/AMX, needed for ``cpu_amp``'s bf16 speed-up, but results then hold for that
CPU family only). Variables a user set already are left alone. It must run before torch
or NumPy is imported: the command-line entry point calls it first thing.
"""

from __future__ import annotations

import os
import platform
from typing import MutableMapping

VARIABLE = "NEUROFUSION_CPU_KERNELS"
MODES = ("portable", "native")
PORTABLE_X86 = {
    "ATEN_CPU_CAPABILITY": "avx2",                      # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",                       # oneDNN: convolutions, some matmuls
    # MKL (torch's GEMMs on x86): its AVX2 branch holds on Intel CPUs only, and on AMD MKL
    # falls back to its automatic choice (measured: other bits on an emulated AVX2-only EPYC
    # and on an emulated Intel Haswell). COMPATIBLE (SSE2, no rcpps/rsqrtps) is the branch
    # MKL's reproducibility guide gives for Intel and non-Intel CPUs alike.
    "MKL_CBWR": "COMPATIBLE",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # NumPy's AVX-512 dispatch targets
    "OPENBLAS_CORETYPE": "Haswell",                     # NumPy/SciPy's OpenBLAS: its AVX2 kernels
}


def is_x86(machine: str | None = None) -> bool:
    """Whether the portable-kernel variables apply here (they name x86-64 instruction sets)."""
    return (machine or platform.machine()).lower() in ("x86_64", "amd64")


def choose_cpu_kernels(environ: MutableMapping[str, str] = os.environ, machine: str | None = None) -> str:
    """Set the portable-kernel variables in ``environ`` (unless native is asked for); the mode."""
    mode = environ.get(VARIABLE, "portable").strip().lower() or "portable"
    if mode not in MODES:
        from .errors import NeurofusionError

        raise NeurofusionError(f"{VARIABLE}={environ[VARIABLE]!r} is not a kernel mode",
                               fix=f"set it to {' or '.join(MODES)}, or unset it")
    if mode == "portable" and is_x86(machine):
        for key, value in PORTABLE_X86.items():
            environ.setdefault(key, value)
    return mode
