"""The semantic tables have one home each (docs/semantics.md, "Where the tables live"): the
activation clamps, SAME padding and the bitpacked-output convention in
kernels/include/lce_kernels/semantics.h, the lq attribute defaults in passes/ir/LqOps.td, the
typed tfl ops in passes/ir/TflOps.td. Python reads them through lce_convert._core; these tests
check them against TensorFlow and the TFLite schema, and the Python tables that must agree."""
from fractions import Fraction

import numpy as np
import pytest

from lce_convert import _core, _tflite_ops, mlir
from lce_convert._schema import enum_names, schema


def test_activation_table_matches_the_tflite_schema():
    names = enum_names(schema().ActivationFunctionType)
    table = mlir.activations()
    assert {code: name for name, (code, _, _) in table.items()} == {c: names[c] for c in (0, 1, 2, 3)}
    assert table == {"NONE": (0, None, None), "RELU": (1, 0, None), "RELU_N1_TO_1": (2, -1, 1), "RELU6": (3, 0, 6)}


@pytest.mark.parametrize("name", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_activation_bounds_are_tensorflows(name):
    import tensorflow as tf
    x = np.linspace(-9, 9, 73).astype(np.float32)
    y = {"RELU": tf.nn.relu, "RELU6": tf.nn.relu6, "RELU_N1_TO_1": lambda v: tf.clip_by_value(v, -1.0, 1.0)}[name](x)
    _, lo, hi = mlir.activations()[name]
    np.testing.assert_array_equal(np.clip(x, lo if lo is not None else -np.inf, hi if hi is not None else np.inf),
                                  y.numpy())


@pytest.mark.parametrize("size,kernel,stride,dilation", [
    (7, 3, 2, 1), (8, 3, 2, 1), (5, 1, 1, 1), (9, 3, 1, 2), (10, 4, 3, 1), (4, 5, 1, 1), (3, 3, 3, 2), (16, 2, 2, 1)])
def test_same_padding_is_tensorflows(size, kernel, stride, dilation):
    """TF's conv2d with SAME padding on a ramp, through a filter that picks the first tap: the
    output size and the leading padding follow from where the ramp appears."""
    import tensorflow as tf
    out, before, after = mlir.same_padding(size, kernel, stride, dilation)
    x = (np.arange(size, dtype=np.float32) + 1).reshape(1, 1, size, 1)
    w = np.zeros((1, kernel, 1, 1), np.float32)
    w[0, 0] = 1
    y = tf.nn.conv2d(x, w, strides=[1, 1, stride, 1], padding="SAME", dilations=[1, 1, dilation, 1]).numpy().ravel()
    assert len(y) == out
    expected = [j * stride - before + 1 if 0 <= j * stride - before < size else 0 for j in range(out)]
    np.testing.assert_array_equal(y, expected)
    assert before + after == max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    with pytest.raises(ValueError, match=">= 1"):
        mlir.same_padding(0, kernel)


def test_bitpacked_convention_matches_the_converters_thresholds():
    """bitpacked_bit with the threshold the converter computes is exactly the sign of
    clamp(conv, lo, hi) * m + b (1 when negative), for every conv value."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        K = int(rng.integers(1, 80))
        act = mlir.activations()[str(rng.choice(list(mlir.activations())))]
        lo = max(act[1], -K) if act[1] is not None else -K
        hi = min(act[2], K) if act[2] is not None else K
        m = float(np.float32(abs(rng.normal()) * rng.choice([1, 0.01, 0])))
        b = float(np.float32(rng.normal() * 3))
        t = _core.bitpacked_threshold(K, lo, hi, m, b)
        for accum in range(K + 1):
            conv = K - 2 * accum
            negative = Fraction(min(max(conv, lo), hi)) * Fraction(m) + Fraction(b) < 0
            assert mlir.bitpacked_bit(K, conv, t) == negative, (K, lo, hi, m, b, t, conv)


def test_lq_defaults_come_from_ods():
    defaults = _tflite_ops.lq_defaults("lq.Bconv2d")
    assert defaults == {"dilation_height_factor": 1, "dilation_width_factor": 1, "pad_values": 0,
                        "fused_activation_function": b"NONE", "stride_height": 1, "stride_width": 1}
    assert _tflite_ops.lq_defaults("lq.BMaxPool2d") == {}
    for custom, (name, keys, _) in _tflite_ops.LCE_OPS.items():
        # Every custom option key is an attribute of the lq op; those without an ODS default are
        # required by the op, so that export always finds a value.
        assert set(keys) <= set(_core.op_attribute_names(name)), custom


def test_typed_ops_agree_with_tflops_td():
    registered = set(_core.registered_ops("tfl."))
    generic = {"tfl.builtin", "tfl.custom", "tfl.const", "tfl.variable", "tfl.no_value"}
    assert registered - generic == set(_tflite_ops.BY_MLIR), "TYPED_OPS and TflOps.td list different ops"
    for op in _tflite_ops.TYPED_OPS:
        attributes = set(_core.op_attribute_names(op.mlir_name)) - {"version"}
        assert attributes == {f for f, _ in op.fields}, op.mlir_name
    assert set(_core.registered_ops("lq.")) == {v[0] for v in _tflite_ops.LCE_OPS.values()}
    with pytest.raises(ValueError, match="unknown operation"):
        _core.op_attribute_names("tfl.no_such_op")
