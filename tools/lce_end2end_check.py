"""Runs LCE 0.16's own end-to-end tests with LCE's converter and Interpreter replaced by ours.

The tests are larq_compute_engine/tests/end2end_test.py (and the preprocess.py it imports) of
Larq Compute Engine, https://github.com/larq/compute-engine, tag v0.16.0. They are not part of
this repository; get them with

    git clone --depth 1 --branch v0.16.0 https://github.com/larq/compute-engine <dir>

and run, from the repository root,

    TF_USE_LEGACY_KERAS=1 .venv/bin/python tools/lce_end2end_check.py <dir> [--synthetic-data] [pytest args]

The clone is only read: the two files are copied into a temporary directory beside a conftest.py
that puts lce_convert in the place of larq_compute_engine before the test module is imported:
  larq_compute_engine.mlir.python.converter.convert_keras_model / convert_saved_model
      -> lce_convert.convert_keras_model / convert_saved_model
  larq_compute_engine.tflite.python.interpreter.Interpreter -> lce_convert.Interpreter
(the real larq_compute_engine package is never imported; the conftest checks that the test
module holds our functions). Everything else is the test as LCE wrote it: the same models,
options, tolerances and assertions.

test_simple_model trains every model for one epoch on 100 images of tf_flowers, which
tensorflow_datasets downloads. Without tensorflow_datasets (or with --synthetic-data) a stand-in
for tfds.load gives 100 seeded random uint8 images of 240x320 with labels 0..4 instead: the models
are then trained on noise, which still sets their BatchNorm statistics, and the comparisons
against Keras are the same. The summary line says which data ran.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

TESTS = "larq_compute_engine/tests"

_CONFTEST = r'''
import importlib.util
import os
import sys
import types

import lce_convert

SYNTHETIC = os.environ.get("LCE_E2E_SYNTHETIC") == "1"


def _package(name):
    module = types.ModuleType(name)
    module.__path__ = []
    sys.modules[name] = module
    return module


for _name in ("larq_compute_engine", "larq_compute_engine.mlir", "larq_compute_engine.mlir.python",
              "larq_compute_engine.tflite", "larq_compute_engine.tflite.python", "larq_compute_engine.tests"):
    _package(_name)
_converter = types.ModuleType("larq_compute_engine.mlir.python.converter")
_converter.convert_keras_model = lce_convert.convert_keras_model
_converter.convert_saved_model = lce_convert.convert_saved_model
sys.modules[_converter.__name__] = _converter
_interpreter = types.ModuleType("larq_compute_engine.tflite.python.interpreter")
_interpreter.Interpreter = lce_convert.Interpreter
sys.modules[_interpreter.__name__] = _interpreter
_spec = importlib.util.spec_from_file_location("larq_compute_engine.tests.preprocess",
                                               os.path.join(os.path.dirname(__file__), "preprocess.py"))
_preprocess = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _preprocess
_spec.loader.exec_module(_preprocess)

try:
    if SYNTHETIC:
        raise ImportError
    import tensorflow_datasets  # noqa: F401  (the real one: tf_flowers is downloaded)
    DATA = "tf_flowers (tensorflow_datasets)"
except ImportError:
    import numpy as np
    import tensorflow as tf

    def _load(name, split=None, try_gcs=False, **kwargs):
        """Stand-in for tfds.load: 100 seeded random images (240x320x3 uint8), labels 0..4."""
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(100, 240, 320, 3), dtype=np.uint8)
        labels = rng.integers(0, 5, size=(100,), dtype=np.int64)
        return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})

    _tfds = types.ModuleType("tensorflow_datasets")
    _tfds.load = _load
    sys.modules["tensorflow_datasets"] = _tfds
    DATA = "synthetic stand-in for tf_flowers (100 seeded random images)"


def pytest_collection_finish(session):
    import end2end_test as t
    assert t.convert_keras_model is lce_convert.convert_keras_model
    assert t.convert_saved_model is lce_convert.convert_saved_model
    assert t.Interpreter is lce_convert.Interpreter
    assert "larq_compute_engine.mlir._tf_tfl_flatbuffer" not in sys.modules


def pytest_report_header(config):
    return ["LCE 0.16 end2end_test.py with lce_convert %s as converter and Interpreter; data: %s"
            % (lce_convert.__version__, DATA)]


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line("converter and Interpreter: lce_convert %s; data: %s" % (lce_convert.__version__, DATA))
'''


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Get the tests: git clone --depth 1 --branch v0.16.0 "
                                     "https://github.com/larq/compute-engine <dir>")
    parser.add_argument("lce_repo", help="a clone of github.com/larq/compute-engine at v0.16.0")
    parser.add_argument("--synthetic-data", action="store_true",
                        help="train on seeded random images instead of tf_flowers (no download)")
    args, pytest_args = parser.parse_known_args(argv)
    sources = [os.path.join(args.lce_repo, TESTS, f) for f in ("end2end_test.py", "preprocess.py")]
    missing = [s for s in sources if not os.path.isfile(s)]
    if missing:
        print("lce_end2end_check: error: %s not found; clone the tests with: git clone --depth 1 --branch v0.16.0 "
              "https://github.com/larq/compute-engine <dir>" % ", ".join(missing), file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="lce_end2end_")
    try:
        for s in sources:
            shutil.copy(s, work)
        with open(os.path.join(work, "conftest.py"), "w") as f:
            f.write(_CONFTEST)
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        if args.synthetic_data:
            env["LCE_E2E_SYNTHETIC"] = "1"
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", work,
               os.path.join(work, "end2end_test.py")] + (pytest_args or ["-q"])
        return subprocess.call(cmd, cwd=work, env=env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
