"""runtime.py: the CPU description every benchmark prints, and when bf16 on CPU would not pay off."""

import os

from neurofusion.runtime import cpu_description

CPUINFO = """processor\t: 0
model name\t: Test CPU 9000
flags\t\t: fpu sse2 avx2 fma {extra}

processor\t: 1
model name\t: Test CPU 9000
flags\t\t: fpu sse2 avx2 fma {extra}
"""


def test_avx2_only_machine(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=""))
    text = cpu_description(str(path))
    assert text.startswith(f"Test CPU 9000, {os.cpu_count()} cores, AVX2;") and "AVX-512" not in text


def test_avx512_bf16_and_amx_are_named(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra="avx512f avx512_bf16 amx_tile amx_bf16"))
    assert ", AVX2 AVX-512 AVX512-BF16 AMX;" in cpu_description(str(path))


def test_family_and_model_tell_alike_names_apart(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra="").replace("model name\t: Test CPU 9000\n",
                                                     "cpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n"))
    assert cpu_description(str(path)).startswith(f"AMD EPYC (family 25 model 17), {os.cpu_count()} cores, AVX2;")


def test_no_cpuinfo_still_describes_the_machine(tmp_path):
    text = cpu_description(str(tmp_path / "missing"))
    assert f"{os.cpu_count()} cores, no AVX2" in text


import pytest  # noqa: E402
import torch  # noqa: E402

from neurofusion.runtime import cpu_bf16_warning  # noqa: E402


@pytest.mark.parametrize("capability, bf16, amx, says", [
    ("AVX512", True, False, None),
    ("AVX512", False, True, None),
    ("AVX2", True, True, "torch runs its AVX2 kernels"),
    ("AVX512", False, False, "neither AVX512-BF16 nor AMX"),
    ("AVX2", False, False, "neither AVX512-BF16 nor AMX"),
])
def test_bf16_on_cpu_is_flagged_where_it_is_slower(monkeypatch, capability, bf16, amx, says):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    warning = cpu_bf16_warning()
    if says is None:
        assert warning is None
    else:
        assert says in warning and "cpu_amp: false" in warning


def test_deterministic_flag_without_importing_the_compiler():
    """use_deterministic_algorithms sets torch's flag both ways and leaves torch._inductor unloaded."""
    import subprocess
    import sys

    code = ("import sys, torch\n"
            "from neurofusion.runtime import use_deterministic_algorithms as u\n"
            "u(True); on = torch.are_deterministic_algorithms_enabled()\n"
            "u(False); off = torch.are_deterministic_algorithms_enabled()\n"
            "print(on, off, 'torch._inductor' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


def test_deterministic_flag_reaches_inductor_once_it_is_loaded():
    import torch
    import torch._inductor.config as inductor

    from neurofusion.runtime import use_deterministic_algorithms

    before = torch.are_deterministic_algorithms_enabled()
    try:
        use_deterministic_algorithms(True)
        assert inductor.deterministic and torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)
    assert inductor.deterministic == before


def _threads_probe(call):
    """What a fresh interpreter has after ``call``: torch imported?, OMP_NUM_THREADS, torch's threads."""
    import subprocess
    import sys

    code = ("import os, sys\nfrom neurofusion.runtime import set_threads\n" + call + "\n"
            "t = sys.modules.get('torch')\n"
            "print('torch' in sys.modules, os.environ['OMP_NUM_THREADS'], t.get_num_threads() if t else '-')")
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()


def test_set_threads_sets_torch_and_the_environment():
    assert _threads_probe("set_threads(1)") == ["True", "1", "1"]


def test_set_threads_can_leave_torch_unimported():
    # the demo generator never uses torch: importing it only to set its threads cost ~2 s a run
    assert _threads_probe("set_threads(2, torch=False)") == ["False", "2", "-"]
