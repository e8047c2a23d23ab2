"""Runs the lit/FileCheck tests of passes/test from pytest, one test per file, so that pytest
prints the final line. lce-opt comes from the CMake build tree that `make` sets up."""
import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIT_DIR = os.path.join(ROOT, "passes", "test")
LIT_FILES = sorted(glob.glob(os.path.join(LIT_DIR, "*.mlir")) + glob.glob(os.path.join(LIT_DIR, "*.test")))


def lce_opt_dir():
    candidates = glob.glob(os.path.join(ROOT, "build", "*", "bin", "lce-opt"))
    if not candidates:
        pytest.fail("lce-opt is not built: run `make test` (or tools/setup.sh) first")
    return os.path.dirname(max(candidates, key=os.path.getmtime))


def run_lit(path):
    cmd = [sys.executable, "-c", "from lit.main import main; main()", "-v", "--param", "lce_opt_dir=" + lce_opt_dir(),
           "--param", "python=" + sys.executable, path]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_lit_files_exist():
    assert len(LIT_FILES) >= 5


@pytest.mark.parametrize("path", LIT_FILES, ids=[os.path.basename(p) for p in LIT_FILES])
def test_lit(path):
    r = run_lit(path)
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-4000:]
    assert "Passed: 1" in r.stdout


def test_lit_reports_a_wrong_check(tmp_path):
    """The harness can fail: a CHECK that does not match makes lit (and so this test) fail."""
    bad = tmp_path / "wrong.mlir"
    bad.write_text("// RUN: lce-opt %s | FileCheck %s\n"
                   "// CHECK: lq.Dequantize\n"
                   "func.func @f(%x: tensor<1x40xf32>) -> tensor<1x2xi32> {\n"
                   "  %0 = lq.Quantize %x : tensor<1x40xf32> -> tensor<1x2xi32>\n"
                   "  return %0 : tensor<1x2xi32>\n}\n")
    (tmp_path / "lit.cfg.py").write_text(open(os.path.join(LIT_DIR, "lit.cfg.py")).read()
                                          .replace("os.path.dirname(__file__)", repr(str(tmp_path))))
    r = run_lit(str(bad))
    assert r.returncode != 0 and "Failed: 1" in r.stdout
