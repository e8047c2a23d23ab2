"""The self-contained wheel (`make wheel-check`, tools/wheel_check.sh): built with MLIR/LLVM
linked statically, installed into a fresh virtualenv, and used there to convert and run a model
with the system LLVM hidden. Slow (a build from scratch, about 7 minutes on 2 cores): run with
LCE_CONVERT_SLOW_TESTS=1 or -m slow."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="hiding the system LLVM needs root and unshare (a private mount namespace)")
def test_wheel_is_self_contained():
    r = subprocess.run(["bash", os.path.join(ROOT, "tools", "wheel_check.sh")], capture_output=True, text=True,
                       timeout=3600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "wheel-check: ok" in r.stdout
    assert 'consistent with the\nfollowing platform tag: "manylinux_' in r.stdout
