"""Threads, seeds and device choice, set the same way by every step."""

from __future__ import annotations

import os
import random
import sys

import numpy as np


def set_threads(n: int | None, *, torch: bool = True) -> int:
    """Use ``n`` CPU threads (the rule's ``threads``) in torch, ITK and BLAS.

    ``torch=False`` leaves torch unimported (~2 s of a step's start-up) for a step that never
    uses it; the environment variables still reach any library it imports later.
    """
    n = max(1, int(n or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ[var] = str(n)
    if not torch:
        return n
    try:
        import torch as _torch

        _torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return n


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def pick_device(requested: str = "auto"):
    """``auto`` -> CUDA when visible, else CPU; ``cpu``/``cuda`` force one."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def cpu_bf16_warning() -> str | None:
    """Why bf16 autocast on this CPU (``cpu_amp: true``) would be slower than float32, or None.

    bf16 pays off on CPUs with AVX512-BF16 or AMX, through kernels that use them: with the
    portable AVX2 kernels (the default, kernels.py) or on an AVX2-only CPU, torch emulates bf16
    in float32 and converts at every op (benchmarks/bench_model.py, AVX2 kernels on an AVX-512
    EPYC: training at 0.2x the speed of float32).
    """
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    hardware = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    if capability.startswith("AVX512") and hardware:
        return None
    why = (f"torch runs its {capability} kernels (NEUROFUSION_CPU_KERNELS is not native)" if hardware
           else "this CPU has neither AVX512-BF16 nor AMX")
    return (f"cpu_amp: bf16 autocast on this CPU is slower than float32, because {why}; "
            "set cpu_amp: false, or NEUROFUSION_CPU_KERNELS=native on an AVX512-BF16/AMX CPU")


# vector extensions that change how fast (not what) this workload computes, as /proc/cpuinfo
# names them: AVX-512 with BF16 and AMX make bf16 autocast on CPU pay off
_EXTENSIONS = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"), ("amx_tile", "AMX"))


def cpu_description(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU model, its core count and vector extensions, e.g.
    'AMD EPYC (family 25 model 17), 2 cores, AVX2 AVX-512'.

    Printed by every benchmark beside its ratios, because a figure measured on an
    AVX-512/AMX machine does not hold on an AVX2-only one. The x86 family and model numbers
    tell apart CPUs that a virtual machine names alike ('AMD EPYC' is Rome, Milan or Genoa:
    family 23 model 49, family 25 model 1, family 25 model 17), whose speeds differ.
    """
    import platform

    model, flags, numbers = "", set(), {}
    try:
        with open(cpuinfo) as f:
            for line in f:
                key, _, value = (part.strip() for part in line.partition(":"))
                if key == "model name" and not model:
                    model = value
                elif key in ("cpu family", "model") and key not in numbers:
                    numbers[key] = value
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:  # not Linux: platform's name is all there is
        pass
    if model and len(numbers) == 2:
        model = f"{model} (family {numbers['cpu family']} model {numbers['model']})"
    found = [name for flag, name in _EXTENSIONS if flag in flags] or ["no AVX2"]
    try:
        import torch

        kernels = f"; torch kernels {torch.backends.cpu.get_cpu_capability()}"
    except (ImportError, AttributeError):  # pragma: no cover
        kernels = ""
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count() or 1} cores, " \
           f"{' '.join(found)}{kernels}"


def use_deterministic_algorithms(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)`` without its import of torch._inductor.

    torch's function imports ``torch._inductor.config`` (the compiler stack, ~1.1 s on its
    own) only to copy ``mode`` into inductor's flag, which matters to ``torch.compile`` alone.
    Each training job paid ~0.6 s of it (net: the optimiser loads torch._dynamo anyway) for
    a flag it never read (it compiles on CUDA only, where the flag stays off). The flag is
    still set when inductor is already loaded.
    """
    import torch

    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = mode
    torch._C._set_deterministic_algorithms(bool(mode))


# what adamw() builds, in the resume fingerprint: a last.pt from another optimiser is not resumed
OPTIMISER = "adamw-fused"


def adamw(params, lr: float, weight_decay: float):
    """AdamW as every training step (pretraining, the models) runs it: torch's fused kernel.

    The unfused AdamW takes each step's square root through MKL's vector math library,
    which picks its kernel from the CPU (AVX-512 here, AVX2 elsewhere) whatever MKL_CBWR
    says, and those kernels round ~13 % of square roots differently (measured against an
    emulated AVX2-only EPYC). The fused kernel is torch's own vectorised code, on the
    kernels kernels.py pins, and its square root is the CPU's correctly rounded one.
    """
    import torch

    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
