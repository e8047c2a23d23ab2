"""lce_convert.Interpreter: our delegate runs the Lce* ops (our SIMD kernels) inside
the real interpreters (ai_edge_litert and tf.lite), on our converter's output and LCE's."""
import re

import numpy as np
import pytest

import bnn_zoo
import lce_convert
import models
from lce_convert import LceConvertError

RUNTIMES = ["litert", "tf"]
_cache = {}


def converted(name, bitpacked):
    key = (name, bitpacked)
    if key not in _cache:
        model, _, _ = bnn_zoo.ZOO[name]()
        _cache[key] = (model, lce_convert.convert_keras_model(
            model, experimental_enable_bitpacked_activations=bitpacked))
    return _cache[key]


def lce_predict(model_bytes, x):
    from larq_compute_engine.tflite.python.interpreter import Interpreter
    return np.asarray(Interpreter(model_bytes, use_indirect_bgemm=True).predict(x))


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("bitpacked", [False, True])
@pytest.mark.parametrize("name", sorted(bnn_zoo.ZOO))
def test_zoo_matches_lce_and_keras(name, bitpacked, runtime):
    model, model_bytes = converted(name, bitpacked)
    x = np.random.default_rng(1).normal(size=(2,) + tuple(model.input_shape[1:])).astype(np.float32)
    ours = lce_convert.Interpreter(model_bytes, runtime=runtime).predict(x)
    ref = lce_predict(model_bytes, x).reshape(ours.shape)
    keras = model(x, training=False).numpy().reshape(ours.shape)
    scale = max(1.0, float(np.max(np.abs(keras))))
    assert float(np.max(np.abs(ours - ref))) / scale < 1e-5
    assert float(np.max(np.abs(ours - keras))) / scale < 1e-4


def test_lce_converted_model_runs():
    import larq_compute_engine as lce
    model = models.larq_bnn()
    model_bytes = lce.convert_keras_model(model)
    x = np.random.default_rng(2).normal(size=(3, 16, 16, 3)).astype(np.float32)
    ours = lce_convert.Interpreter(model_bytes).predict(x)
    np.testing.assert_allclose(ours, lce_predict(model_bytes, x), rtol=1e-5, atol=1e-6)


def test_bitpacked_outputs_equal_lce_bit_for_bit():
    from lce_convert.research import strip_lcedequantize_ops
    from test_research import bitpack, sign_output_model
    model = sign_output_model()
    stripped = strip_lcedequantize_ops(
        lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True))
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype(np.float32)
    ours = lce_convert.Interpreter(stripped).predict(x)
    assert ours.dtype == np.int32
    np.testing.assert_array_equal(ours, lce_predict(stripped, x).reshape(ours.shape))
    np.testing.assert_array_equal(ours, bitpack(model(x, training=False).numpy()))


@pytest.mark.parametrize("bitpacked", [False, True])
def test_zero_padding_with_activation_and_bitpacked_output(bitpacked):
    """convert_keras_model(lce_compatible=False): zero-padded convs take the fused ReLU, the
    BatchNorm after it and bitpacked output. Exact in our runtime (the correction is applied
    before the clamp), impossible in LCE 0.16's."""
    model, _, _ = bnn_zoo.quicknet_like()
    ours_bytes = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked,
                                                 lce_compatible=False)
    assert len(ours_bytes.report.binarized) == 3
    text = lce_convert.import_tflite(ours_bytes).text()
    assert 'fused_activation_function = "RELU"' in text and 'pad_values = 0 : i32, padding = "SAME"' in text
    assert "tfl.relu" not in text and "tfl.mul" not in text  # fused into the Bconv2d ops
    x = np.random.default_rng(4).normal(size=(2, 16, 16, 3)).astype(np.float32)
    ours = lce_convert.Interpreter(ours_bytes).predict(x)
    keras = model(x, training=False).numpy()
    assert float(np.max(np.abs(ours - keras))) / max(1.0, float(np.max(np.abs(keras)))) < 1e-4
    with pytest.raises(Exception):
        lce_predict(ours_bytes, x)  # LCE 0.16 refuses zero padding under an activation
    with pytest.raises(lce_convert.LceConvertError, match="lce_compatible"):
        lce_convert.convert_keras_model(model, lce_compatible="no")


def test_malformed_options_fail_cleanly():
    model, model_bytes = converted("maxpool_binary", True)
    module = lce_convert.import_tflite(model_bytes, lift_lce_ops=False)
    desc = module.description()
    for op in desc["functions"][0]["ops"]:
        if op["name"] == "tfl.custom" and op["attrs"]["name"] == b"LceBconv2d":
            op["attrs"]["custom_options"] = np.frombuffer(b"\x07\x00garbage\x09\x05", np.uint8)
            break
    from lce_convert import _tflite_io
    broken = _tflite_io.write(desc)
    with pytest.raises(LceConvertError, match="prepare"):
        lce_convert.Interpreter(broken)


def test_unsupported_option_value_fails_cleanly():
    from flatbuffers import flexbuffers
    from lce_convert import _tflite_io
    _, model_bytes = converted("maxpool_binary", True)
    desc = lce_convert.import_tflite(model_bytes, lift_lce_ops=False).description()
    for op in desc["functions"][0]["ops"]:
        if op["name"] == "tfl.custom" and op["attrs"]["name"] == b"LceBconv2d":
            options = flexbuffers.Loads(bytes(op["attrs"]["custom_options"]))
            options["fused_activation_function"] = 4  # TANH: no binary kernel
            op["attrs"]["custom_options"] = np.frombuffer(flexbuffers.Dumps(options), np.uint8)
            break
    with pytest.raises(LceConvertError, match="prepare"):
        lce_convert.Interpreter(_tflite_io.write(desc))


def test_bad_arguments():
    _, model_bytes = converted("binary_mlp", False)
    with pytest.raises(ValueError, match="num_threads"):
        lce_convert.Interpreter(model_bytes, num_threads=0)
    with pytest.raises(ValueError, match="runtime must be"):
        lce_convert.Interpreter(model_bytes, runtime="cuda")
    interpreter = lce_convert.Interpreter(model_bytes)
    with pytest.raises(ValueError, match="expects shape"):
        interpreter.predict(np.zeros((1, 7, 7, 1), np.float32))
    with pytest.raises(ValueError, match="expects float32"):
        interpreter.predict(np.zeros((1, 8, 8, 1), np.float64))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_two_threads_identical(runtime):
    model, model_bytes = converted("quicknet_like", True)
    x = np.random.default_rng(5).normal(size=(3,) + tuple(model.input_shape[1:])).astype(np.float32)
    one = lce_convert.Interpreter(model_bytes, num_threads=1, runtime=runtime).predict(x)
    two = lce_convert.Interpreter(model_bytes, num_threads=2, runtime=runtime).predict(x)
    np.testing.assert_array_equal(one, two)


def test_benchmark_cli_runs(tmp_path, capsys):
    """lce-benchmark prints its figures (nothing about speed is asserted)."""
    import tensorflow as tf
    from lce_convert import benchmark
    model, model_bytes = converted("binary_mlp", True)
    path, plain_path = tmp_path / "m.tflite", tmp_path / "plain.tflite"
    path.write_bytes(model_bytes)
    plain_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    assert benchmark.main([str(path), "--float", str(plain_path), "--runs", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("lce_convert delegate", "LCE 0.16 default", "LCE 0.16 indirect_bgemm", "TFLite float"):
        assert name in out


def test_benchmark_model_lce_refuses(tmp_path, capsys):
    """A model only our runtime runs (lce_compatible=False): lce-benchmark says so for LCE's
    runtimes and still times ours."""
    from lce_convert import benchmark
    model, _, _ = bnn_zoo.quicknet_like()
    path = tmp_path / "m.tflite"
    path.write_bytes(lce_convert.convert_keras_model(model, lce_compatible=False))
    assert benchmark.main([str(path), "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "(LCE 0.16 default cannot run this model:" in out
    assert "(LCE 0.16 indirect_bgemm cannot run this model:" in out
    assert re.search(r"lce_convert delegate\s+\d+\.\d+ ms", out)


def test_benchmark_profile_runs(tmp_path, capsys):
    """lce-benchmark --profile: every op of both models timed alone in every runtime, and our
    delegate's in-model node times (LCE_DELEGATE_PROFILE accessors) for the Lce ops."""
    import re
    import tensorflow as tf
    from lce_convert import benchmark
    model, model_bytes = converted("quicknet_like", True)
    path, plain_path = tmp_path / "m.tflite", tmp_path / "plain.tflite"
    path.write_bytes(model_bytes)
    plain_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    assert benchmark.main([str(path), "--float", str(plain_path), "--runs", "1", "--profile"]) == 0
    out = capsys.readouterr().out
    assert "converted model: per-op profile" in out and "float model: per-op profile" in out
    bconv_rows = [line for line in out.splitlines() if re.match(r"\s+\d+ LceBconv2d ", line)]
    assert bconv_rows
    for line in bconv_rows:  # ours, LCE default, LCE indirect, ours inside the model
        assert len(re.findall(r"\d+\.\d{3}", line)) == 4, line
    assert "failed" not in out


def test_benchmark_bounds(tmp_path, capsys):
    """lce-benchmark --bounds: the model's time split into our nodes and the rest per thread
    count, the binary MACs our nodes ran (the delegate's count, against the model's Bconv2d
    shapes), this core's peak for the kernel path, and the bounds made of them."""
    import json
    import tensorflow as tf
    from flatbuffers import flexbuffers
    from lce_convert import benchmark
    model, model_bytes = converted("quicknet_like", True)
    path, plain_path, js = tmp_path / "m.tflite", tmp_path / "plain.tflite", tmp_path / "b.json"
    path.write_bytes(model_bytes)
    plain_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    assert benchmark.main([str(path), "--float", str(plain_path), "--threads", "1,2", "--runs", "3", "--bounds",
                           "--json", str(js)]) == 0
    out = capsys.readouterr().out
    # The model's binary MACs at batch 1: output elements x taps x input channels (no groups here)
    model_t = benchmark._model_t(model_bytes)
    sg = model_t.subgraphs[0]
    expected = 0
    for op in sg.operators:
        if benchmark._op_name(model_t, op) != "LceBconv2d":
            continue
        channels_in = flexbuffers.Loads(bytes(op.customOptions))["channels_in"]
        filt = sg.tensors[op.inputs[1]]
        assert filt.shape[3] in (channels_in, -(-channels_in // 32))  # float or bitpacked, one group
        expected += int(np.prod(sg.tensors[op.outputs[0]].shape)) * filt.shape[1] * filt.shape[2] * channels_in
    assert expected > 0
    bounds = json.loads(js.read_text())["bounds"]
    assert bounds["binary_macs"] == expected
    assert bounds["peak_binary_macs_per_s"] > 0 and bounds["peak_loop"]
    assert bounds["binary_ms_at_peak"] == pytest.approx(expected / bounds["peak_binary_macs_per_s"] * 1e3)
    one, two = bounds["threads"]["1"], bounds["threads"]["2"]
    for split in (one, two):
        assert split["model_ms"] > 0 and split["our_nodes_ms"] > 0 and split["rest_ms"] > 0
    assert bounds["floor_ms"] == pytest.approx(one["rest_ms"] + bounds["binary_ms_at_peak"])
    assert two["max_speedup"] == pytest.approx(one["model_ms"] / (two["rest_ms"] + one["our_nodes_ms"] / 2))
    assert bounds["max_ratio_float"] > 0
    assert re.search(r"1 thread\(s\): model \d+\.\d{3} ms: our nodes \d+\.\d{3}, the rest \d+\.\d{3}", out)
    assert re.search(r"2 threads: .*\n    our nodes 2x as fast as on 1 thread\(s\), the rest as measured: at most "
                     r"\d+\.\d\dx", out)
    assert "%.3g binary MACs per invoke" % expected in out
    assert re.search(r"every binary conv at the peak, the rest as measured: \d+\.\d{3} ms, at most \d+\.\dx "
                     r"TFLite float", out)


def test_delegate_num_threads_option():
    """The delegate's `num_threads` option sets the Lce ops' threads apart from the
    interpreter's: results identical; anything but an integer in 1..256 is refused."""
    from ai_edge_litert.interpreter import Interpreter, load_delegate
    from lce_convert.interpreter import delegate_path
    model, model_bytes = converted("quicknet_like", True)
    x = np.random.default_rng(6).normal(size=(1,) + tuple(model.input_shape[1:])).astype(np.float32)
    outputs = []
    for options in ({}, {"num_threads": "2"}, {"num_threads": "3"}):
        interpreter = Interpreter(model_content=model_bytes, num_threads=1,
                                  experimental_delegates=[load_delegate(delegate_path(), options)])
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])
    for bad in ("0", "-1", "two", "", "2x", "1000"):
        with pytest.raises((ValueError, RuntimeError)):
            load_delegate(delegate_path(), options={"num_threads": bad})


def test_delegate_isa_option():
    """The delegate's `isa` option takes the ISA paths of this CPU and refuses anything else."""
    from ai_edge_litert.interpreter import load_delegate
    from lce_convert import _kernels
    from lce_convert.interpreter import delegate_path
    previous = _kernels.active_isa()  # the delegate library has its own copy of the kernels
    try:
        assert load_delegate(delegate_path(), options={"isa": "popcnt"}) is not None
        with pytest.raises((ValueError, RuntimeError)):
            load_delegate(delegate_path(), options={"isa": "sse9"})
    finally:
        load_delegate(delegate_path(), options={"isa": previous})


# ---- issue 10: every runtime error is an LceConvertError subclass naming the problem ----------

def _seed_model(name):
    import os
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "seeds", name + ".tflite"), "rb") as f:
        return f.read()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_predict_input_errors(runtime):
    from lce_convert import InterpreterError, InvalidInputError
    interpreter = lce_convert.Interpreter(_seed_model("ours_maxpool"), runtime=runtime)
    with pytest.raises(InvalidInputError, match=r"'input_\d+' has an empty batch \(shape \[0, 20, 20, 16\]\)"):
        interpreter.predict(np.zeros((0, 20, 20, 16), np.float32))
    with pytest.raises(InvalidInputError, match="expects float32, got float64"):
        interpreter.predict(np.zeros((1, 20, 20, 16)))
    with pytest.raises(InvalidInputError, match="has 1 inputs, got 2 arrays"):
        interpreter.predict([np.zeros((1, 20, 20, 16), np.float32)] * 2)
    # A batch whose tensors cannot be allocated (TFLite's arena would crash in TF 2.21 and give an
    # empty reason in ai_edge_litert).
    huge = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (2**21, 20, 20, 16), (0, 0, 0, 0))
    with pytest.raises(InvalidInputError, match=r"a batch of 2097152 needs about [\d.]+ GB of tensors, more than"):
        interpreter.predict(huge)
    y = interpreter.predict(np.zeros((2, 20, 20, 16), np.float32))  # still usable
    assert y.shape == (2, 3, 3, 32)


@pytest.mark.parametrize("bad", [True, False, 0, 257, 1.0, "2", None])
def test_num_threads_refused(bad):
    from lce_convert import InvalidInputError
    with pytest.raises(InvalidInputError, match="num_threads must be an int in 1..256"):
        lce_convert.Interpreter(_seed_model("ours_maxpool"), num_threads=bad)


def test_scalar_inputs():
    """0-d inputs: Python scalars, NumPy scalars and 0-d arrays are fed as they are."""
    import tensorflow as tf
    from lce_convert import InvalidInputError

    class Scale(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32), tf.TensorSpec([2], tf.float32)])
        def __call__(self, s, x):
            return s * x
    m = Scale()
    model = tf.lite.TFLiteConverter.from_concrete_functions([m.__call__.get_concrete_function()], m).convert()
    interpreter = lce_convert.Interpreter(model)
    x = np.array([1.0, -2.0], np.float32)
    feed = lambda s: [s if len(d["shape"]) == 0 else x for d in interpreter.input_details]
    for s in (3.0, 3, np.float32(3.0), np.array(3.0, np.float32)):
        np.testing.assert_array_equal(interpreter.predict(feed(s)), [3.0, -6.0])
    with pytest.raises(InvalidInputError, match=r"is a scalar \(0-d\), got shape \[1\]"):
        interpreter.predict(feed(np.zeros(1, np.float32)))
    with pytest.raises(InvalidInputError, match="expects float32, got 'three'"):
        interpreter.predict(feed("three"))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_delegate_message_is_not_glued_to_tflite_text(runtime):
    """A refusal names the op, its node and the problem, and nothing of TFLite's own text."""
    import sys
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz"))
    import corpus_cases
    data, _ = corpus_cases.cases()["declared_shape_mismatch"]
    with pytest.raises(lce_convert.InvalidModelError) as e:
        lce_convert.Interpreter(data, runtime=runtime)
    assert str(e.value) == ("cannot prepare the model: LceBconv2d (node 1): the model declares output shape "
                            "[-1, 5, 10, 1], but the inputs and options give [1, 20, 20, 1]")


def test_dequantize_int8_tiny_scale_saturates():
    """int8 LceDequantize with a scale far below 1/127: zp + round(+-1/scale) saturates (semantics.md)
    instead of overflowing int32 (below about 4.7e-10)."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz"))
    import corpus_cases
    words = np.array([[0b101, 1 << 7]], np.int32)
    expected_bits = [(int(words[0, c // 32]) >> (c % 32)) & 1 for c in range(40)]
    for scale, zp in ((1e-12, 0), (4e-10, -128), (1e-30, 127), (0.25, 3)):
        model = corpus_cases.single_op_model("LceDequantize", [("int32", [1, 2])], ("int8", [1, 40], (scale, zp)))
        y = lce_convert.Interpreter(model).predict(words)
        plus, minus = min(127, zp + round(1 / scale)), max(-128, zp - round(1 / scale))
        np.testing.assert_array_equal(y[0], [minus if b else plus for b in expected_bits])
