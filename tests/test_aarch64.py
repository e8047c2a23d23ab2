"""The aarch64 runtime, cross-built (tools/build_aarch64.sh) and run here under qemu-user: the
kernel self-test on every aarch64 path (portable, neon, neon_dotprod) against the reference,
path selection from the CPU's features (a Cortex-A72 has no dotprod), the native benchmark, and
the instruction counts of the NEON inner loops (tools/neon_loop_counts.py). The end-to-end
runs of converted models in an arm64 Python are tests/test_aarch64_e2e.py."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "aarch64")
QEMU = shutil.which("qemu-aarch64-static")
SYSROOT = "/usr/aarch64-linux-gnu"  # Debian's cross libc, libstdc++ (g++-aarch64-linux-gnu)

pytestmark = pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-g++") is None or QEMU is None,
    reason="needs g++-aarch64-linux-gnu and qemu-user-static (make setup installs them on x86-64)")


@pytest.fixture(scope="module")
def build():
    """Cross-builds the runtime (incremental); a failing build fails the tests."""
    r = subprocess.run(["bash", os.path.join(ROOT, "tools", "build_aarch64.sh")], capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    probe = subprocess.run([QEMU, "-L", SYSROOT, os.path.join(BUILD, "lce-bench-bconv"), "--help"],
                           capture_output=True, text=True, timeout=60)
    if "usage" not in probe.stderr:
        pytest.skip("qemu-aarch64-static cannot run aarch64 programs here: %s" % probe.stderr[-300:])
    return BUILD


def run(build, program, *args, cpu=None, env=None, timeout=900):
    cmd = [QEMU, "-L", SYSROOT] + (["-cpu", cpu] if cpu else []) + [os.path.join(build, program), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))


def test_kernel_selftest_every_path(build):
    """300 random Bconv2d cases over the ranges of test_kernels.py (channels 1-299, kernels 1-7,
    strides 1-3, dilations 1-2, groups, SAME/VALID, zero/one padding, float with post ops and
    the fused Quantize, int8, bitpacked output, 1-3 threads) and 14 saturated long-depth cases
    (up to 70,000 channels: past the neon path's 16-bit counters), on portable, neon and
    neon_dotprod; bitpacking (NaN, -0.0), Dequantize and BMaxPool on every path."""
    r = run(build, "kernel_selftest", 300, 14)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert r.stdout.strip().endswith("ok (0 failures)")


def test_paths_follow_the_cpu(build):
    """getauxval decides: qemu's "max" CPU has asimddp, a Cortex-A72 only asimd. A forced path the
    CPU lacks is refused with a message naming what there is."""
    selftest = run(build, "kernel_selftest", 20, 0, cpu="cortex-a72")
    assert selftest.returncode == 0, selftest.stdout[-2000:]
    a72 = run(build, "lce-bench-bconv", "--paths", cpu="cortex-a72", env={"LCE_KERNELS_ISA": "neon_dotprod"},
              timeout=60)
    assert "LCE_KERNELS_ISA=neon_dotprod is not an ISA path of this CPU (portable, neon); using neon" in a72.stderr
    for cpu, expected in (("max", "portable neon neon_dotprod (default neon_dotprod)"),
                          ("cortex-a72", "portable neon (default neon)"),
                          ("cortex-a76", "portable neon neon_dotprod (default neon_dotprod)")):
        r = run(build, "lce-bench-bconv", "--paths", cpu=cpu, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "ISA paths here: " + expected


def test_native_benchmark_runs(build):
    """lce-bench-bconv runs every QuickNet shape on the aarch64 paths (its figures under qemu are
    the emulator's, not a CPU's: real ones come from an aarch64 machine)."""
    r = run(build, "lce-bench-bconv", 1)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line[23:].split() for line in r.stdout.splitlines() if line.startswith(("56x56", "28x28", "14x14", "7x7"))]
    assert {row[0] for row in rows} >= {"neon", "neon_dotprod"}
    assert len(rows) == 10 * 5  # 10 shapes x (neon, neon_dotprod, and the best path on 2 threads, bits, +add+q)


def test_neon_inner_loop_instruction_counts(build):
    """The inner loop of each NEON path: exactly the scheme's 24 vector instructions per 1,024
    binary MACs, and at most LCE 0.16's kernel_8x4x4_aarch64 loop (96 vector + 12 loads + 3 loop
    instructions per 4,096 MACs = 27.75 per 1,024) in all."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import neon_loop_counts
    finally:
        sys.path.pop(0)
    if shutil.which("aarch64-linux-gnu-objdump") is None:
        pytest.skip("needs aarch64-linux-gnu-objdump (binutils-aarch64-linux-gnu)")
    counts = neon_loop_counts.report(build)
    for path in ("neon", "neon_dotprod"):
        full = counts[path]["full"]
        assert full["alu"] == 24.0, (path, full)
        assert full["total"] <= 27.75, (path, full)
        assert counts[path]["tail"]["alu"] == 24.0
