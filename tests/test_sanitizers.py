"""The kernel library under AddressSanitizer + UndefinedBehaviorSanitizer: a separate build of
kernels/src with a self-checking driver (kernels/tests/kernel_selftest.cc), compiled here with
each source's own ISA flags."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "kernels")
SOURCES = {  # source -> extra flags (mirrors kernels/CMakeLists.txt)
    "src/isa.cc": [], "src/bitpack.cc": [], "src/bitpack_avx2.cc": [], "src/bitpack_avx512.cc": [],
    "src/bconv2d_reference.cc": [], "src/bconv2d_indirect.cc": [], "src/bconv2d_indirect_portable.cc": [],
    "src/bconv2d_indirect_popcnt.cc": ["-mpopcnt"], "src/bconv2d_indirect_avx2.cc": ["-mavx2", "-mpopcnt"],
    "src/bconv2d_indirect_avx512.cc": ["-mavx512f", "-mavx512bw", "-mavx512vpopcntdq", "-mpopcnt"],
    "src/bmaxpool.cc": [], "src/thread_pool.cc": [],
    "tests/kernel_selftest.cc": [],
}
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
