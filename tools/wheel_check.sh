#!/usr/bin/env bash
# make wheel-check: builds the self-contained wheel (`pip wheel .`: MLIR/LLVM linked statically,
# pyproject.toml's wheel override), shows what auditwheel makes of it, installs it into a fresh
# virtualenv with nothing but its own dependencies, and there converts and runs a larq model with
# the system LLVM made invisible (a private mount namespace with an empty /usr/lib/llvm-<N>, and
# Debian's libLLVM links in the multiarch directory replaced by /dev/null).
# The result must be byte-identical to the development build's conversion. Needs root (unshare).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
OUT=build/wheel-check
LLVM_DIR=/usr/lib/llvm-22
export PATH="$PWD/$VENV/bin:$PATH" TF_USE_LEGACY_KERAS=1 TF_CPP_MIN_LOG_LEVEL=3

echo "== building the wheel"
rm -rf "$OUT/dist"
mkdir -p "$OUT"
"$VENV/bin/pip" wheel . -q --no-deps --no-build-isolation --disable-pip-version-check -w "$OUT/dist"
WHEEL=$(ls "$OUT"/dist/lce_convert-*.whl)
echo "wheel: $WHEEL, $(du -h "$WHEEL" | cut -f1)"

echo "== auditwheel show"
"$VENV/bin/auditwheel" show "$WHEEL"

echo "== a fresh virtualenv with the wheel and its dependencies only"
BASE_PYTHON=$("$VENV/bin/python" -c 'import sys; print(sys._base_executable)')
rm -rf "$OUT/venv"
"$BASE_PYTHON" -m venv "$OUT/venv"
"$OUT/venv/bin/pip" install -q --disable-pip-version-check "$WHEEL"

echo "== a model, and its conversion by the development build"
"$VENV/bin/python" - "$OUT" <<'PY'
import os, sys
sys.path.insert(0, "tests")
import numpy as np
import models
import lce_convert
out = sys.argv[1]
keras_model = models.larq_bnn()
float_tflite = models.tflite_from_keras(keras_model)
open(os.path.join(out, "float.tflite"), "wb").write(float_tflite)
open(os.path.join(out, "expected.tflite"), "wb").write(
    lce_convert.convert_tflite(float_tflite, experimental_enable_bitpacked_activations=True))
x = np.random.default_rng(0).standard_normal((2,) + tuple(keras_model.input_shape[1:])).astype(np.float32)
np.save(os.path.join(out, "x.npy"), x)
np.save(os.path.join(out, "keras.npy"), keras_model(x, training=False).numpy())
PY

if [ "$(id -u)" -ne 0 ]; then
  echo "error: hiding the system LLVM needs a private mount namespace (unshare -m): run as root" >&2
  exit 1
fi
echo "== converting and running it from the wheel, with $LLVM_DIR hidden"
HIDE="mount -t tmpfs none '$LLVM_DIR'"
for lib in /usr/lib/*-linux-gnu/libLLVM*.so* /usr/lib/*-linux-gnu/libMLIR*.so*; do  # Debian's links beside it
  if [ -e "$lib" ]; then HIDE="$HIDE && mount --bind /dev/null '$lib'"; fi
done
unshare -m sh -c "$HIDE && cd '$OUT' && '$PWD/$OUT/venv/bin/python' -" <<'PY'
import os
import numpy as np
import lce_convert
import lce_convert._core as core
assert not os.listdir("/usr/lib/llvm-22"), "the system LLVM is still visible"
maps = open("/proc/self/maps").read()
assert "libMLIR" not in maps and "libLLVM" not in maps, "a shared MLIR/LLVM library was loaded"
converted = lce_convert.convert_tflite(open("float.tflite", "rb").read(),
                                       experimental_enable_bitpacked_activations=True)
assert bytes(converted) == open("expected.tflite", "rb").read(), "the wheel converts differently"
print(converted.report)
y = lce_convert.Interpreter(bytes(converted)).predict(np.load("x.npy"))
keras = np.load("keras.npy")
print("max |wheel runtime - keras| = %.3g" % float(np.max(np.abs(y - keras))))
assert np.allclose(y, keras, rtol=1e-4, atol=1e-4), "the wheel's runtime disagrees with Keras"
print("wheel-check: ok (%s, converter and runtime without the system LLVM)" % os.path.basename(core.__file__))
PY
