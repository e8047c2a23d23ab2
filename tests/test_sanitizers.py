"""The kernel library under AddressSanitizer + UndefinedBehaviorSanitizer: a separate build of
kernels/src with a self-checking driver (kernels/tests/kernel_selftest.cc), compiled here with
each source's own ISA flags."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "kernels")


def cmake_sources():
    """{source: extra flags} of the kernel library on x86-64, read from kernels/CMakeLists.txt (its
    LCE_KERNEL_SOURCES, the x86-64 branch's additions and their per-file COMPILE_OPTIONS), so
    that this build cannot miss a source the library has."""
    import re
    with open(os.path.join(KERNELS, "CMakeLists.txt")) as f:
        text = f.read()
    sources = re.search(r"set\(LCE_KERNEL_SOURCES\s+([^)]*)\)", text).group(1).split()
    x86 = re.search(r'if\(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64\|AMD64"\)(.*?)\nelseif\(', text, re.S).group(1)
    for block in re.findall(r"list\(APPEND LCE_KERNEL_SOURCES\s+([^)]*)\)", x86):
        sources += block.split()
    flags = {src: [] for src in sources}
    for src, options in re.findall(r'set_source_files_properties\((\S+)\s+PROPERTIES\s+COMPILE_OPTIONS\s+"?([^")]*)"?\)', x86):
        flags[src] = options.split(";")
    return flags


SOURCES = dict(cmake_sources(), **{"tests/kernel_selftest.cc": []})  # source -> extra flags
FLAGS = ["-std=c++17", "-O1", "-g", "-fno-omit-frame-pointer", "-ffp-contract=off",
         "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-I" + os.path.join(KERNELS, "include")]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_kernels_under_asan_and_ubsan(tmp_path):
    objects = []
    for src, extra in SOURCES.items():
        obj = tmp_path / (os.path.basename(src) + ".o")
        subprocess.run(["g++", *FLAGS, *extra, "-c", os.path.join(KERNELS, src), "-o", str(obj)],
                       check=True, capture_output=True, timeout=300)
        objects.append(str(obj))
    exe = tmp_path / "kernel_selftest"
    subprocess.run(["g++", *FLAGS, *objects, "-pthread", "-o", str(exe)], check=True, capture_output=True, timeout=300)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1", UBSAN_OPTIONS="print_stacktrace=1")
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert r.stdout.strip().endswith("ok (0 failures)")
