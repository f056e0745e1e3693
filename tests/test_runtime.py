"""runtime.py: the CPU description every benchmark prints."""

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


def test_no_cpuinfo_still_describes_the_machine(tmp_path):
    text = cpu_description(str(tmp_path / "missing"))
    assert f"{os.cpu_count()} cores, no AVX2" in text
