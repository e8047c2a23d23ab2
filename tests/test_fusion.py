"""Fused epilogues in the delegate (kernels/delegate/delegate.cc): for LCE-compatible models the
delegate claims the float ops after a Bconv2d (per-channel MUL/ADD, residual ADD, ReLU-family,
the LceQuantize of the result) and applies them in the Bconv2d's output pass. The outputs must
be identical, bit for bit, to running the ops separately (fuse=False: TFLite/XNNPACK runs them),
in both interpreters, and the profile must say what was fused."""
import ctypes
import os
import sys

import numpy as np
import pytest

import bnn_zoo
import lce_convert
from lce_convert import LceConvertError
from lce_convert.interpreter import delegate_path

HERE = os.path.dirname(os.path.abspath(__file__))
_cache = {}


def converted(name, bitpacked):
    key = (name, bitpacked)
    if key not in _cache:
        model, _, _ = bnn_zoo.ZOO[name]()
        _cache[key] = (model, bytes(lce_convert.convert_keras_model(
            model, experimental_enable_bitpacked_activations=bitpacked)))
    return _cache[key]


def profiled_labels(model_bytes, x, **kwargs):
    """Runs the model with the delegate's profile on; returns the outputs and the op names of
    the delegate's nodes."""
    lib = ctypes.CDLL(delegate_path())
    lib.lce_delegate_profile_entry.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                               ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_double),
                                               ctypes.POINTER(ctypes.c_int64)]
    lib.lce_delegate_profile_reset()
    lib.lce_delegate_profile_enable(1)
    try:
        y = lce_convert.Interpreter(model_bytes, **kwargs).predict(x)
        labels = []
        for i in range(max(0, lib.lce_delegate_profile_entry(-1, None, None, None, None))):
            op = ctypes.c_char_p()
            lib.lce_delegate_profile_entry(i, None, ctypes.byref(op), None, None)
            labels.append(op.value.decode())
    finally:
        lib.lce_delegate_profile_enable(0)
        lib.lce_delegate_profile_reset()
    return y, labels


def assert_fusion_identical(model_bytes, x, runtime=None, threads=1):
    fused = lce_convert.Interpreter(model_bytes, runtime=runtime, num_threads=threads, fuse=True).predict(x)
    separate = lce_convert.Interpreter(model_bytes, runtime=runtime, num_threads=threads, fuse=False).predict(x)
    for a, b in zip(fused if isinstance(fused, list) else [fused], separate if isinstance(separate, list) else [separate]):
        assert a.dtype == b.dtype and a.shape == b.shape
        # identical bits (array_equal would take -0.0 for 0.0)
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def inputs(model, batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch,) + tuple(model.input_shape[1:])).astype(np.float32)


@pytest.mark.parametrize("name", sorted(bnn_zoo.ZOO))
def test_zoo_fused_equals_separate(name):
    model, model_bytes = converted(name, True)
    assert_fusion_identical(model_bytes, inputs(model))


@pytest.mark.parametrize("runtime", ["litert", "tf"])
@pytest.mark.parametrize("bitpacked", [False, True])
@pytest.mark.parametrize("name", ["quicknet_like", "birealnet_like", "batchnorm_placement"])
def test_fused_equals_separate_both_runtimes(name, bitpacked, runtime):
    model, model_bytes = converted(name, bitpacked)
    for seed in range(2):
        assert_fusion_identical(model_bytes, inputs(model, seed=seed), runtime=runtime, threads=1 + seed)


def test_profile_names_the_fused_chains():
    model, model_bytes = converted("quicknet_like", True)
    x = inputs(model)
    _, fused = profiled_labels(model_bytes, x)
    # QuickNet-like blocks with zero padding: the ReLU and the BatchNorm's MUL/ADD stay outside
    # the LCE-compatible Bconv2d; with the residual ADD and the next block's LceQuantize they
    # run in its output pass.
    assert "LceBconv2d+RELU+MUL+ADD+ADD+LceQuantize" in fused
    assert not any(label in ("ADD", "MUL", "RELU") for label in fused)  # nothing left standalone
    _, separate = profiled_labels(model_bytes, x, fuse=False)
    assert not any("+" in label for label in separate)
    assert set(separate) <= {"LceQuantize", "LceDequantize", "LceBconv2d", "LceBMaxPool2d"}


def test_quicknet_fused_equals_separate():
    """QuickNet as larq-zoo defines it (benchmarks/quicknet.py) at 64x64: every residual block is
    Bconv2d(ReLU, BatchNorm fused by the converter) + residual ADD + the next LceQuantize."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))
    from quicknet import quicknet
    model = quicknet(64)
    model_bytes = bytes(lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True))
    x = inputs(model, batch=1)
    _, labels = profiled_labels(model_bytes, x)
    assert sum(label.startswith("LceBconv2d+ADD") for label in labels) == 16
    assert sum(label.startswith("LceBconv2d+ADD+LceQuantize") for label in labels) >= 12
    # blocks 2 and 3 of each section write their sum over the previous block's (the residual
    # they add, dead afterwards); block 1's residual comes from TFLite, block 4's sum goes to it
    assert sum(label.endswith("(in place)") for label in labels) == 8
    assert_fusion_identical(model_bytes, x)
    assert_fusion_identical(model_bytes, x, runtime="tf", threads=2)


def test_lce_converted_model_fused_equals_separate():
    """A model converted by LCE 0.16's own converter runs fused in our delegate too."""
    from larq_compute_engine import convert_keras_model as lce_convert_keras_model
    model, _, _ = bnn_zoo.quicknet_like()
    model_bytes = bytes(lce_convert_keras_model(model))
    x = inputs(model)
    _, labels = profiled_labels(model_bytes, x)
    assert any("+ADD" in label for label in labels)
    assert_fusion_identical(model_bytes, x)


def test_unfusable_neighbours_stay_correct():
    """A Bconv2d whose result has a second reader (a model output), and a residual ADD whose other
    operand comes from a float conv of another binary branch: what can be fused is, what cannot
    runs on its own (or in TFLite), and the outputs are identical either way and agree with Keras."""
    import tensorflow as tf
    import larq as lq
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(11)
    q = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
             use_bias=False, padding="same")
    x = inp = tf.keras.Input((12, 12, 32))
    a = lq.layers.QuantConv2D(32, 3, name="a", **q)(x)
    b = lq.layers.QuantConv2D(32, 3, name="b", **q)(x)
    r = L.Conv2D(32, 1, use_bias=False, name="float_conv")(b)
    s = L.Add()([a, r])
    t = L.ReLU()(s)
    c = lq.layers.QuantConv2D(32, 3, name="c", **q)(t)
    model = tf.keras.Model(inp, [c, a, L.Add()([c, t])])
    model_bytes = bytes(lce_convert.convert_keras_model(model))
    xs = inputs(model)
    assert_fusion_identical(model_bytes, xs)
    assert_fusion_identical(model_bytes, xs, runtime="tf")
    ours = lce_convert.Interpreter(model_bytes).predict(xs)
    ref = model(xs, training=False)
    by_shape = {tuple(o.shape): o for o in ours}
    for expected in ref:
        got = [o for o in ours if o.shape == tuple(expected.shape)]
        assert any(np.allclose(g, expected.numpy(), atol=1e-3, rtol=1e-4) for g in got)
    assert by_shape


def test_fuse_option_is_checked():
    from ai_edge_litert.interpreter import load_delegate
    with pytest.raises(LceConvertError, match="fuse"):
        lce_convert.Interpreter(converted("quicknet_like", True)[1], fuse="yes")
    with pytest.raises(ValueError):
        load_delegate(delegate_path(), options={"fuse": "2"})


def test_benchmark_prints_fusion_and_thread_ratios(tmp_path, capsys):
    """lce-benchmark times our delegate with fusion off and at further thread counts in the same
    run (figures only; nothing about speed is asserted), and refuses bad counts."""
    from lce_convert import benchmark
    _, model_bytes = converted("quicknet_like", True)
    path = tmp_path / "m.tflite"
    path.write_bytes(model_bytes)
    assert benchmark.main([str(path), "--threads", "1,2", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "kernels " in out and "same, fusion off" in out and "same, 2 threads" in out
    assert benchmark.main([str(path), "--runs", "2", "--consecutive"]) == 0
    assert "each runtime's runs in a row" in capsys.readouterr().out
    for bad in (["--runs", "0"], ["--threads", "0"], ["--threads", "one"]):
        with pytest.raises(SystemExit):
            benchmark.main([str(path)] + bad)
