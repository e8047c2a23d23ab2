"""A round trip .tflite -> MLIR -> .tflite with no passes must preserve behaviour: for real
models built in code, the interpreters give bit-identical outputs before and after."""
import numpy as np
import pytest

import lce_convert
import models
from interpreters import make_interpreter, random_inputs, run


def roundtrip(model_bytes):
    return lce_convert.import_tflite(model_bytes).to_tflite()


def assert_same_behaviour(original, converted, runtimes=("tf", "litert"), seeds=(0, 1, 2)):
    for runtime in runtimes:
        a, b = make_interpreter(original, runtime), make_interpreter(converted, runtime)
        if runtime == "lce":  # LCE's Interpreter has its own, smaller API
            for key in ("input_types", "output_types", "input_shapes", "output_shapes"):
                assert getattr(a, key) == getattr(b, key), key
        for key in ("name", "shape", "dtype", "quantization") if runtime != "lce" else ():
            assert [d[key] if key != "shape" else list(d[key]) for d in a.get_input_details()] == \
                   [d[key] if key != "shape" else list(d[key]) for d in b.get_input_details()], key
            assert [d[key] if key != "shape" else list(d[key]) for d in a.get_output_details()] == \
                   [d[key] if key != "shape" else list(d[key]) for d in b.get_output_details()], key
        for seed in seeds:
            x = random_inputs(original, seed, runtime)
            ya, yb = run(original, x, runtime), run(converted, x, runtime)
            assert len(ya) == len(yb)
            for u, v in zip(ya, yb):
                assert u.dtype == v.dtype and u.shape == v.shape
                assert np.array_equal(u, v), "outputs differ after the round trip (%s)" % runtime


@pytest.fixture(scope="module")
def larq_bnn_tflite():
    return models.tflite_from_keras(models.larq_bnn())


def test_larq_bnn_plain_converter(larq_bnn_tflite):
    converted = roundtrip(larq_bnn_tflite)
    assert_same_behaviour(larq_bnn_tflite, converted)
    # The ops the passes reason about import as typed ops.
    text = lce_convert.tflite_to_mlir(larq_bnn_tflite)
    for op in ("tfl.conv_2d", "tfl.sign", "tfl.add", "tfl.padv2", "tfl.max_pool_2d",
               "tfl.reshape", "tfl.fully_connected"):
        assert '"%s"' % op in text, op
    assert 'name = "SOFTMAX"' in text


def test_larq_bnn_matches_keras(larq_bnn_tflite):
    import tensorflow as tf
    model = models.larq_bnn()
    x = random_inputs(larq_bnn_tflite, 3)
    keras_out = model(tf.constant(x[0]), training=False).numpy()
    (ours,) = run(roundtrip(larq_bnn_tflite), x)
    np.testing.assert_allclose(ours, keras_out, rtol=1e-5, atol=1e-6)


def test_second_round_trip_is_a_fixed_point(larq_bnn_tflite):
    once = roundtrip(larq_bnn_tflite)
    assert roundtrip(once) == once


def test_signature_defs_and_metadata_survive(larq_bnn_tflite):
    converted = roundtrip(larq_bnn_tflite)
    a, b = make_interpreter(larq_bnn_tflite), make_interpreter(converted)
    assert a.get_signature_list() == b.get_signature_list()
    x = random_inputs(larq_bnn_tflite, 5)[0]
    (input_name,) = a.get_signature_list()["serving_default"]["inputs"]  # Keras numbers layers
    ra = a.get_signature_runner("serving_default")(**{input_name: x})
    rb = b.get_signature_runner("serving_default")(**{input_name: x})
    assert ra.keys() == rb.keys()
    for k in ra:
        assert np.array_equal(ra[k], rb[k])
    text = lce_convert.import_tflite(converted).text()
    assert "min_runtime_version" in text and "CONVERSION_METADATA" in text


@pytest.mark.parametrize("build", [models.mobilenet_v2, models.resnet50], ids=["mobilenet_v2", "resnet50"])
def test_keras_applications(build):
    original = models.tflite_from_keras(build())
    assert_same_behaviour(original, roundtrip(original), seeds=(0,))


def test_int8_post_training_quantized():
    original = models.int8_model()
    module = lce_convert.import_tflite(original)
    text = module.text()
    assert "!quant.uniform<i8:f32" in text          # per-tensor activations
    assert "!quant.uniform<i8:f32:" in text         # per-channel (per-axis) weights
    converted = module.to_tflite()
    assert_same_behaviour(original, converted)
    # Quantization parameters of every tensor are identical.
    a, b = make_interpreter(original), make_interpreter(converted)
    qa = sorted((d["name"], d["quantization_parameters"]["scales"].tolist(),
                 d["quantization_parameters"]["zero_points"].tolist(),
                 d["quantization_parameters"]["quantized_dimension"]) for d in a.get_tensor_details())
    qb = sorted((d["name"], d["quantization_parameters"]["scales"].tolist(),
                 d["quantization_parameters"]["zero_points"].tolist(),
                 d["quantization_parameters"]["quantized_dimension"]) for d in b.get_tensor_details())
    assert qa == qb


def test_while_loop_subgraphs():
    original = models.while_loop_model()
    module = lce_convert.import_tflite(original)
    text = module.text()
    assert text.count("func.func") == 3
    assert 'name = "WHILE"' in text and "cond_subgraph_index = @" in text
    converted = module.to_tflite()
    assert_same_behaviour(original, converted, seeds=(0, 1, 2, 3))


def test_lce_converted_model():
    original = models.lce_converted_bnn()
    module = lce_convert.import_tflite(original)
    text = module.text()
    for op in ("lq.Quantize", "lq.Bconv2d", "lq.BMaxPool2d", "lq.Dequantize"):
        assert op in text, op
    converted = module.to_tflite()
    assert_same_behaviour(original, converted, runtimes=("lce",))
    # Kept opaque, the custom ops round-trip just as well.
    opaque = lce_convert.import_tflite(original, lift_lce_ops=False)
    assert "lq." not in opaque.text() and '"tfl.custom"' in opaque.text()
    assert_same_behaviour(original, opaque.to_tflite(), runtimes=("lce",))
