#!/usr/bin/env bash
# Cross-builds the aarch64 runtime with Debian's g++-aarch64-linux-gnu (tools/setup.sh installs
# it) and cmake/aarch64-linux-gnu.cmake:
#   build/aarch64/liblce_delegate.so, kernel_selftest, lce-bench-bconv   (cmake -S kernels)
#   build/aarch64/dist/lce_convert-<version>-py3-none-linux_aarch64.whl  (the runtime-only wheel:
#       the Python package and the delegate, no converter, no MLIR; what
#       `pip install . -C cmake.define.LCE_RUNTIME_ONLY=ON` builds on an aarch64 machine)
# Incremental: a second run rebuilds only what changed. Run them here with
#   qemu-aarch64-static -L /usr/aarch64-linux-gnu build/aarch64/kernel_selftest
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/aarch64
VENV=.venv
if ! command -v aarch64-linux-gnu-g++ >/dev/null 2>&1; then
  echo "error: aarch64-linux-gnu-g++ not found: install g++-aarch64-linux-gnu (make setup does)" >&2
  exit 1
fi
export PATH="$PWD/$VENV/bin:$PATH"  # cmake and ninja from the venv
TOOLCHAIN="$PWD/cmake/aarch64-linux-gnu.cmake"

echo "== cross-building the aarch64 runtime in $OUT"
cmake -S kernels -B "$OUT" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$OUT"

echo "== building the aarch64 runtime-only wheel in $OUT/dist"
rm -rf "$OUT/dist"
_PYTHON_HOST_PLATFORM=linux-aarch64 "$VENV/bin/pip" wheel . -q --no-deps --no-build-isolation \
  --disable-pip-version-check -w "$OUT/dist" \
  -C cmake.define.LCE_RUNTIME_ONLY=ON -C cmake.define.CMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
  -C wheel.py-api=py3 -C build-dir=build/aarch64-wheel
ls "$OUT"/dist/*.whl
