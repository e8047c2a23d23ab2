"""What the ecosystem relies on in a conversion (issue 14, point 4): SignatureDefs and IO names
(TFLite's signature runner, in both interpreters), int8 outputs when asked for (or a clear
error), target="xcore" as LCE 0.16 or refused, every Keras layer with a kernel in the report,
and bad inputs of convert_tflite named. Small models; LCE 0.16 as the reference."""
import warnings

import numpy as np
import pytest

import lce_convert
import models
from lce_convert import InvalidModelError, InvalidOptionError, LceConvertError

KW = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)
_cache = {}


def bnn():
    if "bnn" not in _cache:
        model = models.larq_bnn()
        _cache["bnn"] = (model, lce_convert.convert_keras_model(model))
    return _cache["bnn"]


def two_outputs(seed=3):
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((8, 8, 3), name="image")
    x = tf.keras.layers.Conv2D(32, 3, padding="same")(x)
    x = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, **KW)(x)
    pooled = tf.keras.layers.GlobalAveragePooling2D(name="pooled")(x)
    logits = lq.layers.QuantDense(5, name="logits", **KW)(tf.keras.layers.Flatten()(x))
    return tf.keras.Model(inp, [logits, pooled])


@pytest.mark.parametrize("runtime", ["litert", "tf"])
def test_signature_as_lce_and_runner_works(runtime):
    import larq_compute_engine as lce
    model, converted = bnn()
    theirs = lce.convert_keras_model(model)
    it = lce_convert.Interpreter(converted, runtime=runtime)
    assert it.get_signature_list() == lce_convert.Interpreter(theirs).get_signature_list()
    # Keras's own names (input_1, activation, ... : numbered per process, so read them off the model)
    (in_name,), (out_name,) = model.input_names, model.output_names
    assert it.get_signature_list() == {"serving_default": {"inputs": [in_name], "outputs": [out_name]}}
    x = np.random.default_rng(0).normal(size=(3, 16, 16, 3)).astype(np.float32)
    runner = it.get_signature_runner("serving_default")
    out = runner(**{in_name: x})
    assert set(out) == {out_name}
    np.testing.assert_array_equal(out[out_name], lce_convert.Interpreter(converted, runtime=runtime).predict(x))
    keras = model(x, training=False).numpy()
    assert float(np.max(np.abs(out[out_name] - keras))) < 1e-4


@pytest.mark.parametrize("runtime", ["litert", "tf"])
def test_signature_names_map_to_the_right_outputs(runtime, tmp_path):
    """Two outputs: each signature name gives the Keras output of that name, from the Keras
    route (whose frozen graph has no SignatureDef of its own) and the SavedModel route."""
    import tensorflow as tf
    model = two_outputs()
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    keras = dict(zip(model.output_names, (t.numpy() for t in model(x, training=False))))
    tf.saved_model.save(model, str(tmp_path / "sm"))
    for converted in (lce_convert.convert_keras_model(model), lce_convert.convert_saved_model(str(tmp_path / "sm"))):
        it = lce_convert.Interpreter(converted, runtime=runtime)
        (key, sig), = it.get_signature_list().items()
        assert key == "serving_default" and sig["inputs"] == ["image"]
        assert sorted(sig["outputs"]) == ["logits", "pooled"]
        out = it.get_signature_runner()(image=x)
        for name in ("logits", "pooled"):
            assert float(np.max(np.abs(out[name] - keras[name]))) < 1e-4, name


def test_signature_survives_int8_conversion():
    import tensorflow as tf
    model, _ = bnn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = lce_convert.convert_keras_model(model, experimental_default_int8_range=(-3, 3),
                                                    inference_input_type=tf.int8, inference_output_type=tf.int8)
    it = lce_convert.Interpreter(converted)
    (in_name,), (out_name,) = model.input_names, model.output_names
    assert it.get_signature_list() == {"serving_default": {"inputs": [in_name], "outputs": [out_name]}}
    x = np.random.default_rng(2).integers(-128, 128, size=(1, 16, 16, 3)).astype(np.int8)
    out = it.get_signature_runner()(**{in_name: x})[out_name]
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, it.predict(x))


def binary_last(last):
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(4)
    x = inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(32, 3, padding="same")(x)
    x = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, **KW)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    if last == "conv":
        x = lq.layers.QuantConv2D(16, 3, padding="same", pad_values=1.0, **KW)(x)
    else:
        x = lq.layers.QuantDense(10, **KW)(tf.keras.layers.Flatten()(x))
    model = tf.keras.Model(inp, x)
    models._randomize_batchnorm(model)
    return model


def _round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


@pytest.mark.parametrize("last", ["conv", "dense"])
def test_int8_output_with_a_binary_last_layer(last):
    """experimental_default_int8_range + inference_output_type=tf.int8: the binary last
    layer's float result is quantized with the default range (LCE 0.16: int8 for the dense,
    whose layer it keeps float; float32 for the conv, silently). Exact: the int8 output is
    TFLite's QUANTIZE of the float32 output of the same conversion."""
    import tensorflow as tf
    model = binary_last(last)
    options = dict(experimental_default_int8_range=(-3.0, 3.0), inference_input_type=tf.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        as_int8 = lce_convert.convert_keras_model(model, inference_output_type=tf.int8, **options)
        as_float = lce_convert.convert_keras_model(model, **options)
    ours = lce_convert.Interpreter(as_int8, use_xnnpack=False)
    assert ours.output_types == [np.dtype(np.int8)]
    scale, zero_point = ours.output_scales[0], ours.output_zero_points[0]
    assert (scale, zero_point) == (pytest.approx(6 / 255), -1)
    assert sum(l.binarized for l in as_int8.report) == 2
    x = np.random.default_rng(5).integers(-128, 128, size=(4, 8, 8, 3)).astype(np.int8)
    y = lce_convert.Interpreter(as_float, use_xnnpack=False).predict(x)
    expected = np.clip(_round_half_away(y / np.float32(scale)) + zero_point, -128, 127)
    np.testing.assert_array_equal(ours.predict(x), expected.astype(np.int8))
    if last == "dense":
        import larq_compute_engine as lce
        theirs = lce_convert.Interpreter(lce.convert_keras_model(model, inference_output_type=tf.int8, **options))
        assert theirs.output_types == ours.output_types and theirs.output_scales == ours.output_scales


def test_int8_output_without_a_range_is_an_error():
    """Quantization-aware model whose last layer is binary with no fake-quant node after it:
    no int8 range for the output, so int8 output is refused (never silently float32)."""
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(6)
    fq = lambda: tf.keras.layers.Lambda(lambda t: tf.quantization.fake_quant_with_min_max_vars(t, -3.0, 3.0))
    x = inp = tf.keras.Input((8, 8, 3))
    x = fq()(x)
    x = lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, **KW)(x)
    x = fq()(tf.keras.layers.BatchNormalization()(x))
    x = lq.layers.QuantConv2D(16, 3, padding="same", pad_values=1.0, **KW)(x)
    model = tf.keras.Model(inp, x)
    with pytest.raises(LceConvertError, match="output 0 of main would stay float32.*experimental_default_int8_range"):
        lce_convert.convert_keras_model(model, inference_output_type=tf.int8)
    float_out = lce_convert.convert_keras_model(model, inference_input_type=tf.int8)
    assert lce_convert.Interpreter(float_out).output_types == [np.dtype(np.float32)]


def _ops(model_bytes):
    from lce_convert._schema import enum_names, schema
    s = schema()
    m = s.Model.GetRootAsModel(model_bytes, 0)
    names = enum_names(s.BuiltinOperator)
    codes = [m.OperatorCodes(i) for i in range(m.OperatorCodesLength())]
    g = m.Subgraphs(0)
    out = []
    for k in range(g.OperatorsLength()):
        c = codes[g.Operators(k).OpcodeIndex()]
        out.append(c.CustomCode().decode() if c.CustomCode() else names[max(c.BuiltinCode(), c.DeprecatedBuiltinCode())])
    return out


def test_xcore():
    """target="xcore" as LCE 0.16: no LceBMaxPool2d (the max-pool stays float, before its
    LceQuantize), the same ops as LCE's xcore output; a model with a zero-padded SAME binary
    conv (which LCE's xcore keeps float) is refused, naming it."""
    import larq_compute_engine as lce
    import bnn_zoo
    import re
    import larq as lq
    model, _ = bnn()
    zero_padded = [layer.name for layer in model.layers if isinstance(layer, lq.layers.QuantConv2D)
                   and layer.padding == "same" and layer.pad_values == 0]  # Keras numbers names per process
    assert len(zero_padded) == 1
    with pytest.raises(InvalidOptionError,
                       match="target='xcore'.*zero-padded SAME binary conv.*%s" % re.escape(zero_padded[0])):
        lce_convert.convert_keras_model(model, target="xcore")
    pooled, _, _ = bnn_zoo.maxpool_binary()
    arm = lce_convert.convert_keras_model(pooled, experimental_enable_bitpacked_activations=True)
    xcore = lce_convert.convert_keras_model(pooled, target="xcore", experimental_enable_bitpacked_activations=True)
    assert "LceBMaxPool2d" in _ops(arm) and "LceBMaxPool2d" not in _ops(xcore)
    theirs = lce.convert_keras_model(pooled, target="xcore")
    assert sorted(_ops(xcore)) == sorted(_ops(theirs))
    x = np.random.default_rng(9).normal(size=(2,) + tuple(pooled.input_shape[1:])).astype(np.float32)
    np.testing.assert_array_equal(lce_convert.Interpreter(xcore).predict(x), lce_convert.Interpreter(arm).predict(x))
    plain = binary_last("dense")  # no max-pool: the same model for both targets
    assert bytes(lce_convert.convert_keras_model(plain, target="xcore")) == bytes(lce_convert.convert_keras_model(plain))


def test_layers_without_binary_form_are_reported():
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(7)
    x = inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(16, 3, padding="same", name="stem")(x)
    x = lq.layers.QuantConv2DTranspose(16, 3, padding="same", name="up", **KW)(x)
    x = tf.keras.layers.Conv2DTranspose(16, 3, padding="same", name="float_up")(x)
    x = lq.layers.QuantConv2D(16, 3, padding="same", pad_values=1.0, name="binary", **KW)(x)
    x = lq.layers.QuantDense(4, name="head", **KW)(tf.keras.layers.Flatten()(x))
    model = tf.keras.Model(inp, x)
    with pytest.warns(UserWarning, match="larq layer up was not binarized: no binary form"):
        converted = lce_convert.convert_keras_model(model)
    rows = [(l.keras_layer, l.op, l.binarized) for l in converted.report]
    assert rows == [("stem", "conv2d", False), ("up", "conv2d_transpose", False),
                    ("float_up", "conv2d_transpose", False), ("binary", "conv2d", True), ("head", "dense", True)]
    assert "no binary form" in converted.report.layers[1].reason
    text = str(converted.report)
    assert "up" in text and "conv2d_transpose" in text
    d = converted.report.to_dict()
    assert d["total"] == 5 and d["binarized"] == 2 and d["layers"][1]["keras_layer"] == "up"
    x = np.random.default_rng(8).normal(size=(2, 8, 8, 3)).astype(np.float32)
    keras = model(x, training=False).numpy()
    assert float(np.max(np.abs(lce_convert.Interpreter(converted).predict(x) - keras))) / max(1, np.abs(keras).max()) < 1e-4


def test_convert_tflite_names_wrong_inputs(tmp_path):
    model, _ = bnn()
    model.save(str(tmp_path / "m.h5"))
    model.save(str(tmp_path / "m.keras"))
    with pytest.raises(InvalidModelError, match=r"HDF5 \(.h5\) Keras model.*convert_keras_model"):
        lce_convert.convert_tflite((tmp_path / "m.h5").read_bytes())
    with pytest.raises(InvalidModelError, match="zip archive.*convert_keras_model"):
        lce_convert.convert_tflite((tmp_path / "m.keras").read_bytes())
    with pytest.raises(InvalidModelError, match="got the path .*open\\(path, 'rb'\\).read\\(\\)"):
        lce_convert.convert_tflite(str(tmp_path / "m.h5"))
    with pytest.raises(InvalidModelError, match="file identifier"):
        lce_convert.convert_tflite(b"garbage that is not a model at all")
    with pytest.raises(InvalidModelError, match="expects the .tflite model's bytes, got int"):
        lce_convert.convert_tflite(3)
    with pytest.raises(ValueError, match="got the file .*convert_keras_model"):
        lce_convert.convert_saved_model(str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match="existing directory"):
        lce_convert.convert_saved_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a SavedModel directory: it has no saved_model.pb"):
        lce_convert.convert_saved_model(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"got the path .*tf.keras.models.load_model\(path\)"):
        lce_convert.convert_keras_model(str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match="got 5 bytes.*convert_tflite"):
        lce_convert.convert_keras_model(b"bytes")
