# Two commands do everything on a fresh Debian machine (root or sudo):
#   make demo   set up (MLIR 22 from apt, .venv, pinned deps, build) and run the demo
#   make test   set up and run the whole test suite (lit tests run from pytest)
.PHONY: setup demo test lit wheel-check clean

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
PY := .venv/bin/python

setup:
	@bash tools/setup.sh

demo: setup
	$(PY) -m lce_convert.demo

test: setup
	$(PY) -m pytest -q tests

# Only the lit/FileCheck tests of the passes.
lit: setup
	$(PY) -m pytest -q tests/test_lit.py

# The self-contained wheel (static MLIR/LLVM): built, shown by auditwheel, installed into a fresh
# venv and used there with the system LLVM hidden (tools/wheel_check.sh; needs root).
wheel-check: setup
	@bash tools/wheel_check.sh

clean:
	rm -rf build .venv/.build-stamp
