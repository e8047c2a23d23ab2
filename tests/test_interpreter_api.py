"""LCE 0.16's Interpreter API on lce_convert.Interpreter, with LCE's meanings: the constructor's
use_reference_bconv / use_indirect_bgemm / use_xnnpack, the input_*/output_* attributes and
predict(x, verbose) over arrays, lists and iterators of samples; compared with LCE 0.16's own
Interpreter on the same models. Small models only (the fuzzer's seed models)."""
import os

import numpy as np
import pytest

import lce_convert
from lce_convert import InvalidInputError

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "seeds")
# Seed models LCE 0.16 runs too (ours_zero_padding needs our runtime).
BOTH = ["ours_float", "ours_bitpacked", "ours_int8", "ours_maxpool", "lce_quicknet", "lce_birealnet", "while_loop"]
ATTRIBUTES = ["input_types", "input_shapes", "input_scales", "input_zero_points",
              "output_types", "output_shapes", "output_scales", "output_zero_points"]


def seed_model(name):
    with open(os.path.join(SEEDS, name + ".tflite"), "rb") as f:
        return f.read()


def lce_interpreter(model_bytes, **kwargs):
    from larq_compute_engine.tflite.python.interpreter import Interpreter
    return Interpreter(model_bytes, **kwargs)


def samples(interpreter, batch, seed=0):
    """A batch of seeded inputs, as a list with one array per input (scalars stay 0-d)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype in zip(interpreter.input_shapes, interpreter.input_types):
        if not shape:
            out.append(np.asarray(3, dtype))
        elif np.issubdtype(dtype, np.integer):
            out.append(rng.integers(-100, 100, size=(batch,) + shape[1:]).astype(dtype))
        else:
            out.append((rng.normal(size=(batch,) + shape[1:]) * 2).astype(dtype))
    return out


def assert_close(got, expected):
    """Float results of different float kernels: within 1e-5 of the output's scale."""
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert float(np.max(np.abs(np.asarray(got, np.float64) - expected))) / scale < 1e-5


@pytest.mark.parametrize("name", BOTH)
def test_attributes_equal_lce(name):
    model_bytes = seed_model(name)
    ours, lce = lce_convert.Interpreter(model_bytes), lce_interpreter(model_bytes)
    for attribute in ATTRIBUTES:
        assert getattr(ours, attribute) == getattr(lce, attribute), attribute
    # the model's declared shapes, whatever batch predict ran last
    if name != "while_loop":
        before = ours.input_shapes, ours.output_shapes
        ours.predict(samples(ours, 5)[0])
        assert (ours.input_shapes, ours.output_shapes) == before


def test_int8_attributes_are_the_quantization():
    ours = lce_convert.Interpreter(seed_model("ours_int8"))
    assert ours.input_types == [np.dtype(np.int8)] and ours.output_types == [np.dtype(np.int8)]
    d = ours.input_details[0]
    assert ours.input_scales == [pytest.approx(float(d["quantization"][0]))]
    assert ours.input_zero_points == [int(d["quantization"][1])]
    assert isinstance(ours.input_scales[0], float) and ours.input_scales[0] > 0
    floats = lce_convert.Interpreter(seed_model("ours_float"))
    assert floats.input_scales == [None] and floats.output_zero_points == [None]


@pytest.mark.parametrize("name", ["ours_float", "ours_int8", "lce_quicknet", "ours_bitpacked"])
@pytest.mark.parametrize("xnnpack", [False, True])
def test_predict_matches_lce_with_the_same_options(name, xnnpack):
    """The same arguments in both interpreters give the same results: binary and int8 exactly
    (int8 ops under XNNPACK round differently from TFLite's builtin kernels, by up to 24 steps
    on ours_int8, in LCE's interpreter as in ours: use_xnnpack means the same in both); float
    ops to rounding."""
    model_bytes = seed_model(name)
    lce = lce_interpreter(model_bytes, use_xnnpack=xnnpack)
    x = samples(lce, 6)[0]
    expected = lce.predict(x)
    for kwargs in ({}, {"use_reference_bconv": True}, {"use_indirect_bgemm": True}):
        got = lce_convert.Interpreter(model_bytes, use_xnnpack=xnnpack, **kwargs).predict(x)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        if got.dtype == np.int8:
            np.testing.assert_array_equal(got, expected)
        else:
            assert_close(got, expected)


@pytest.mark.parametrize("name", ["ours_float", "ours_bitpacked", "ours_int8", "ours_zero_padding", "lce_quicknet"])
@pytest.mark.parametrize("runtime", ["litert", "tf"])
def test_reference_bconv_gives_the_same_bits(name, runtime):
    model_bytes = seed_model(name)
    default = lce_convert.Interpreter(model_bytes, runtime=runtime)
    x = samples(default, 4, seed=1)[0]
    expected = default.predict(x)
    for fuse in (True, False):
        reference = lce_convert.Interpreter(model_bytes, runtime=runtime, use_reference_bconv=True, fuse=fuse)
        np.testing.assert_array_equal(reference.predict(x), expected)


def _profiled_op_names(model_bytes, x, **options):
    """The names our delegate's per-node profile gives the nodes it ran (lce-benchmark --profile
    reads the same entries)."""
    import ctypes
    from lce_convert.interpreter import delegate_path
    lib = ctypes.CDLL(delegate_path())
    lib.lce_delegate_profile_entry.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                               ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_double),
                                               ctypes.POINTER(ctypes.c_int64)]
    interpreter = lce_convert.Interpreter(model_bytes, **options)
    lib.lce_delegate_profile_reset()
    lib.lce_delegate_profile_enable(1)
    try:
        y = interpreter.predict(x)
    finally:
        lib.lce_delegate_profile_enable(0)
    names, name = [], ctypes.c_char_p()
    for i in range(max(0, lib.lce_delegate_profile_entry(-1, None, None, None, None))):
        lib.lce_delegate_profile_entry(i, None, ctypes.byref(name), None, None)
        names.append(name.value.decode())
    lib.lce_delegate_profile_reset()
    return names, y


def test_reference_bconv_runs_the_reference_kernel():
    """The option reaches the delegate: its profile names every Bconv2d node as run by the
    reference kernel (and none without the option), with the same bits."""
    model_bytes = seed_model("lce_quicknet")
    x = samples(lce_convert.Interpreter(model_bytes), 2, seed=2)[0]
    fast_names, fast = _profiled_op_names(model_bytes, x)
    slow_names, slow = _profiled_op_names(model_bytes, x, use_reference_bconv=True)
    np.testing.assert_array_equal(slow, fast)
    bconv = [n for n in fast_names if n.startswith("LceBconv2d")]
    assert bconv and not any("reference" in n for n in fast_names)
    assert sorted(slow_names) == sorted(n + " (reference kernel)" if n.startswith("LceBconv2d") else n
                                        for n in fast_names)


def _delegate_nodes(interpreter):
    return sum(1 for op in interpreter._interpreter._get_ops_details() if op["op_name"] == "DELEGATE")


@pytest.mark.parametrize("runtime", ["litert", "tf"])
def test_use_xnnpack_false_keeps_xnnpack_off(runtime):
    """Delegated partitions replace nodes: with XNNPACK, its partitions come on top of ours."""
    model_bytes = seed_model("ours_float")
    on = lce_convert.Interpreter(model_bytes, runtime=runtime)
    off = lce_convert.Interpreter(model_bytes, runtime=runtime, use_xnnpack=False)
    assert on.use_xnnpack and not off.use_xnnpack
    assert _delegate_nodes(on) > _delegate_nodes(off) >= 1
    x = samples(on, 3)[0]
    assert_close(off.predict(x), on.predict(x))


@pytest.mark.parametrize("bad", [{"use_reference_bconv": "yes"}, {"use_indirect_bgemm": 1},
                                 {"use_xnnpack": None}, {"fuse": "no"}])
def test_bad_flags_are_refused(bad):
    with pytest.raises(InvalidInputError, match="must be True or False"):
        lce_convert.Interpreter(seed_model("ours_float"), **bad)


def test_positional_arguments_as_lce():
    model_bytes = seed_model("ours_float")
    ours = lce_convert.Interpreter(model_bytes, 2, False, True, False)
    assert (ours.use_reference_bconv, ours.use_indirect_bgemm, ours.use_xnnpack) == (False, True, False)
    assert _delegate_nodes(ours) < _delegate_nodes(lce_convert.Interpreter(model_bytes, 2))


@pytest.mark.parametrize("name", ["ours_float", "ours_int8"])
def test_predict_forms_and_progress(name, capsys):
    """Arrays, lists and iterators of samples give the same outputs as one batched predict;
    verbose=1 draws a tqdm bar over the samples on stderr (and chunks the batch)."""
    model_bytes = seed_model(name)
    ours = lce_convert.Interpreter(model_bytes)
    x = samples(ours, lce_convert.interpreter.PREDICT_CHUNK + 7, seed=3)[0]
    expected = ours.predict(x)
    capsys.readouterr()
    np.testing.assert_array_equal(ours.predict(x, verbose=1), expected)
    err = capsys.readouterr().err
    assert "%d/%d" % (len(x), len(x)) in err and "sample" in err
    np.testing.assert_array_equal(ours.predict([x], verbose=0), expected)
    np.testing.assert_array_equal(ours.predict(iter(x)), expected)
    np.testing.assert_array_equal(ours.predict((s for s in x), verbose=1), expected)
    assert "%dsample" % len(x) in capsys.readouterr().err.replace(" ", "")
    np.testing.assert_array_equal(ours.predict(iter([[s] for s in x])), expected)
    lce = lce_interpreter(model_bytes, use_xnnpack=True)  # ours: XNNPACK on by default
    got, want = ours.predict(iter(x)), lce.predict(iter(x))
    if got.dtype == np.int8:
        np.testing.assert_array_equal(got, want)
    else:
        assert_close(got, want)


def test_predict_list_with_a_scalar_input():
    """while_loop has a float vector input and an int32 scalar (0-d): a list of arrays, as
    LCE's wrapper takes it for one invoke."""
    ours = lce_convert.Interpreter(seed_model("while_loop"))
    vec = np.arange(4, dtype=np.float32).reshape(4)
    n = np.asarray(3, np.int32)
    expected = ours.predict([vec, n])
    lce = lce_interpreter(seed_model("while_loop"))
    np.testing.assert_allclose(expected, lce.interpreter.predict([vec, n])[0], rtol=1e-6)


def test_predict_bad_inputs():
    ours = lce_convert.Interpreter(seed_model("ours_float"))
    with pytest.raises(InvalidInputError, match="verbose"):
        ours.predict(samples(ours, 1)[0], verbose="yes")
    with pytest.raises(InvalidInputError, match="no samples"):
        ours.predict(iter([]))
    shape = ours.input_shapes[0][1:]
    with pytest.raises(InvalidInputError, match="different shapes"):
        ours.predict(iter([np.zeros(shape, np.float32), np.zeros((3, 3, 3), np.float32)]))
    with pytest.raises(InvalidInputError, match="expects float32"):
        ours.predict(iter([np.zeros(shape, np.int8)]))
    with pytest.raises(InvalidInputError, match="1 inputs, sample 0 of the iterator has 2"):
        ours.predict(iter([[np.zeros(shape, np.float32)] * 2]))


# ---- runtime-only install: the Interpreter and the delegate without TensorFlow ----------------

_RUNTIME_ONLY = r'''
import sys
BLOCKED = ("tensorflow", "tf_keras", "keras", "larq", "larq_compute_engine")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or (name == "lce_convert._core" and "--no-core" in sys.argv):
            raise ImportError("No module named %r (blocked by the test)" % name)
sys.meta_path.insert(0, Block())
import numpy as np
import lce_convert
model = open(sys.argv[1], "rb").read()
it = lce_convert.Interpreter(model, use_xnnpack=False)
x = np.random.default_rng(0).normal(size=(3,) + it.input_shapes[0][1:]).astype(np.float32)
y = it.predict(x, verbose=1)
np.save(sys.argv[2], y)
assert it.runtime == "litert" and y.shape == (3, 10)
for name in sys.modules:
    assert name.split(".")[0] not in BLOCKED, name
try:
    lce_convert.convert_keras_model(None)
except lce_convert.LceConvertError as e:
    print("keras:", e)
try:
    lce_convert.convert_tflite(model)
    print("tflite: converted")
except lce_convert.LceConvertError as e:
    print("tflite:", e)
'''


@pytest.mark.parametrize("core", [True, False])
def test_runtime_without_tensorflow(core, tmp_path):
    """In a process where TensorFlow, Keras, larq and LCE cannot be imported (and, for a
    runtime-only build, lce_convert._core neither): the Interpreter runs a model on
    ai_edge_litert with the delegate, the same bits as here; the converter says what to
    install."""
    import subprocess
    import sys
    model_path = os.path.join(SEEDS, "ours_float.tflite")
    out = tmp_path / "y.npy"
    script = tmp_path / "runtime_only.py"
    script.write_text(_RUNTIME_ONLY)
    argv = [sys.executable, str(script), model_path, str(out)] + ([] if core else ["--no-core"])
    r = subprocess.run(argv, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ours = lce_convert.Interpreter(seed_model("ours_float"), use_xnnpack=False)
    x = np.random.default_rng(0).normal(size=(3,) + ours.input_shapes[0][1:]).astype(np.float32)
    np.testing.assert_array_equal(np.load(out), ours.predict(x))
    assert "keras: converting needs TensorFlow, which is not installed" in r.stdout
    assert "pip install 'lce_convert[tf]'" in r.stdout
    if core:
        assert "tflite: converted" in r.stdout  # .tflite in, .tflite out: MLIR only, no TensorFlow
    else:
        assert "tflite: the converter's compiled extension lce_convert._core cannot be loaded" in r.stdout
    assert "3/3" in r.stderr  # predict's progress bar


def test_base_dependencies_have_no_tensorflow():
    """pyproject.toml: the base install is the runtime (ai_edge_litert, tqdm, numpy,
    flatbuffers); TensorFlow, tf-keras and larq come with the [tf] extra."""
    import tomllib
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    base = {d.split("=")[0].split(">")[0].split("<")[0].lower() for d in project["dependencies"]}
    assert {"ai-edge-litert", "tqdm", "numpy", "flatbuffers"} <= base
    assert not base & {"tensorflow", "tf-keras", "larq", "keras"}
    tf_extra = {d.split("=")[0].lower() for d in project["optional-dependencies"]["tf"]}
    assert {"tensorflow", "tf-keras", "larq"} <= tf_extra


def test_not_a_tflite_model(tmp_path):
    """Bytes that are no .tflite flatbuffer at all: one sentence saying what they are."""
    import models
    model = models.larq_bnn()
    model.save(str(tmp_path / "m.h5"))
    model.save(str(tmp_path / "m.keras"))
    with pytest.raises(lce_convert.InvalidModelError, match=r"Keras model \(HDF5, .h5\).*convert_keras_model"):
        lce_convert.Interpreter((tmp_path / "m.h5").read_bytes())
    with pytest.raises(lce_convert.InvalidModelError, match=r"Keras model \(a zip archive, .keras\)"):
        lce_convert.Interpreter((tmp_path / "m.keras").read_bytes())
    with pytest.raises(lce_convert.InvalidModelError, match="no TFL3 file identifier"):
        lce_convert.Interpreter(b"garbage bytes, not a model")
    with pytest.raises(lce_convert.InvalidModelError, match="empty"):
        lce_convert.Interpreter(b"")
    with pytest.raises(lce_convert.InvalidModelError, match=r"open\(path, 'rb'\).read\(\)"):
        lce_convert.Interpreter(str(tmp_path / "m.h5"))


def test_delegate_reference_option_values():
    """The delegate's `reference` option (behind use_reference_bconv) takes "0" or "1" only."""
    from ai_edge_litert.interpreter import load_delegate
    from lce_convert.interpreter import delegate_path
    for good in ("0", "1"):
        assert load_delegate(delegate_path(), options={"reference": good}) is not None
    for bad in ("2", "yes", "", "true"):
        with pytest.raises((ValueError, RuntimeError)):
            load_delegate(delegate_path(), options={"reference": bad})
