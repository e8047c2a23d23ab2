#!/usr/bin/env bash
# Installs everything lce_convert needs on a Debian bookworm machine, idempotently:
#   1. Debian's LLVM/MLIR 22 (libmlir-22-dev, mlir-22-tools, llvm-22-dev, llvm-22-tools), and on
#      x86-64 the aarch64 cross compiler, qemu-user and debootstrap (the aarch64 runtime is
#      cross-built and tested under emulation: tools/build_aarch64.sh, tools/arm64_userland.py);
#   2. a virtualenv .venv with the pinned Python dependencies (pyproject.toml, extra [test]);
#   3. the project itself, editable, built with CMake + Ninja by scikit-build-core.
# Each step is skipped when already done, so a re-run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools"
if [ "$(uname -m)" = x86_64 ]; then
  APT_PACKAGES="$APT_PACKAGES g++-aarch64-linux-gnu qemu-user-static debootstrap"
fi
VENV=.venv

if ! dpkg -s $APT_PACKAGES >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  echo "== installing $APT_PACKAGES"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $APT_PACKAGES
fi

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON=""
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))'; then
      PYTHON=$candidate; break
    fi
  done
  if [ -z "$PYTHON" ]; then echo "error: need Python 3.10-3.12 (TensorFlow 2.21 + LCE 0.16 wheels)" >&2; exit 1; fi
  echo "== creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi

# Dependencies: reinstalled only when pyproject.toml changes.
DEPS_STAMP="$VENV/.deps-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$DEPS_STAMP" ]; then
  echo "== installing pinned Python dependencies"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "scikit-build-core==1.1.2" "pybind11==3.1.0" "cmake>=3.25,<5" "ninja>=1.11"
  "$VENV/bin/python" - <<'PY' > "$VENV/.requirements.txt"
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))
PY
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$VENV/.requirements.txt"
  rm -f "$VENV"/.deps-* "$VENV/.build-stamp"
  touch "$DEPS_STAMP"
fi

# larq-zoo 2.4.0 for tests/test_larq_zoo.py: its pins (protobuf<3.21, tensorflow_datasets) do not
# install beside TensorFlow 2.21, so it and zookeeper go without dependencies into a test-only
# folder (tests/zoo_stubs stands in for the tensorflow_datasets names they import).
ZOO_DIR="$VENV/larq-zoo"
ZOO_PINS="larq-zoo==2.4.0 zookeeper==1.4.0 click==8.5.1 typeguard==4.6.0"
ZOO_STAMP="$ZOO_DIR/.stamp-$(echo "$ZOO_PINS" | sha256sum | cut -c1-16)"
if [ ! -f "$ZOO_STAMP" ]; then
  echo "== installing larq-zoo for the tests (no dependencies) into $ZOO_DIR"
  rm -rf "$ZOO_DIR"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --target "$ZOO_DIR" $ZOO_PINS
  touch "$ZOO_STAMP"
fi

# The project: rebuilt when a C++/CMake/packaging source is newer than the last build.
BUILD_STAMP="$VENV/.build-stamp"
if [ ! -f "$BUILD_STAMP" ] || [ -n "$(find CMakeLists.txt pyproject.toml passes kernels benchmarks -newer "$BUILD_STAMP" -print -quit)" ] \
   || ! "$VENV/bin/python" -c 'import lce_convert._core' >/dev/null 2>&1; then
  echo "== building lce_convert (C++ passes and extension)"
  PATH="$PWD/$VENV/bin:$PATH" "$VENV/bin/pip" install -q --disable-pip-version-check \
    --no-build-isolation --no-deps -e .
  touch "$BUILD_STAMP"
fi
