"""Small models for the gaps that the real larq_zoo models showed (issue 15): zero-padded dilated
binary convs (TensorFlow's SPACE_TO_BATCH_ND sandwich with non-zero paddings), binary filters
too big for TensorFlow to constant-fold, the report's Keras names when a layer becomes an op of
another kind, and Interpreter.predict on models whose batch-1 shapes are fixed in the graph."""
import warnings

import numpy as np
import pytest

import lce_convert


def _lib():
    import tensorflow as tf
    import larq as lq
    return tf, lq


def _qconv(lq, filters, kernel, name, **kw):
    kw.setdefault("padding", "same")
    return lq.layers.QuantConv2D(filters, kernel, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                                 kernel_constraint="weight_clip", use_bias=False, name=name, **kw)


def _randomize_batchnorm(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.get_weights()[0].shape
            layer.set_weights([rng.uniform(0.3, 1.5, n).astype("f4"), rng.normal(0, 1, n).astype("f4"),
                               rng.normal(0, 2, n).astype("f4"), rng.uniform(0.5, 4, n).astype("f4")])
    return model


def lce_bconv_count(model):
    import larq_compute_engine as lce
    return lce_convert.tflite_to_mlir(lce.convert_keras_model(model)).count('"lq.Bconv2d"')


def assert_matches(model, converted, x, tol=1e-4):
    """Our runtime against Keras and against LCE 0.16's interpreter on the same flatbuffer."""
    from larq_compute_engine.tflite.python.interpreter import Interpreter as LceInterpreter
    ours = np.asarray(lce_convert.Interpreter(converted).predict(x))
    keras = model(x, training=False).numpy().reshape(ours.shape)
    scale = max(1.0, float(np.max(np.abs(keras))))
    assert float(np.max(np.abs(ours - keras))) / scale < tol
    theirs = np.asarray(LceInterpreter(converted).predict(x)).reshape(ours.shape)
    assert float(np.max(np.abs(ours - theirs))) / scale < 1e-5


def dilated_model(size):
    """Binary convs with dilation 2, (2, 4) and 4, zero padding (TF's default) SAME, plus one
    one-padded and one VALID for contrast; an odd extent makes TF pad and crop for
    divisibility as well."""
    tf, lq = _lib()
    tf.keras.utils.set_random_seed(15)
    x = tf.keras.Input((size, size, 3))
    y = tf.keras.layers.Conv2D(32, 3, padding="same", name="stem")(x)
    y = tf.keras.layers.BatchNormalization(name="bn0")(y)
    for i, (d, pv, pad) in enumerate([(2, 0, "same"), ((2, 4), 0, "same"), (4, 0, "same"),
                                      (2, 1, "same"), (2, 0, "valid")]):
        y = _qconv(lq, 32, 3, "dilated%d" % i, dilation_rate=d, pad_values=pv, padding=pad)(y)
        y = tf.keras.layers.BatchNormalization(name="bn%d" % (i + 1))(y)
    y = tf.keras.layers.GlobalAveragePooling2D()(y)
    return _randomize_batchnorm(tf.keras.Model(x, y), 15)


@pytest.mark.parametrize("bitpacked", [False, True], ids=["float_activations", "bitpacked_activations"])
@pytest.mark.parametrize("size", [16, 13])
def test_zero_padded_dilated_convs_are_binarized(size, bitpacked):
    model = dilated_model(size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "larq layer ... was not binarized" would be an error
        converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked)
    report = {l.keras_layer: l for l in converted.report}
    for i in range(5):
        assert report["dilated%d" % i].binarized, report["dilated%d" % i].reason
    assert [report["dilated%d" % i].details["zero_padding"] for i in range(5)] == [True] * 3 + [False] * 2
    text = lce_convert.tflite_to_mlir(converted)
    assert "SPACE_TO_BATCH_ND" not in text and "BATCH_TO_SPACE_ND" not in text
    assert text.count('"lq.Bconv2d"') == 5 == lce_bconv_count(model)
    x = np.random.default_rng(size).normal(size=(2, size, size, 3)).astype(np.float32)
    assert_matches(model, converted, x)


def fixed_batch_model():
    """A binary conv, then a Reshape: with the batch fixed to 1 (LCE 0.16's converter always
    fixes it, ours keeps the Keras model's), the RESHAPE's shape is the constant [1, 128]."""
    tf, lq = _lib()
    tf.keras.utils.set_random_seed(5)
    x = tf.keras.Input((8, 8, 3), batch_size=1)
    y = tf.keras.layers.Conv2D(8, 3)(x)
    y = _qconv(lq, 8, 3, "binary", padding="valid")(y)
    y = tf.keras.layers.Reshape((1, 1, 128))(y)
    y = tf.keras.layers.Dense(4)(y)
    return tf.keras.Model(x, tf.keras.layers.Flatten()(y))


@pytest.mark.parametrize("runtime", ["litert", "tf"])
@pytest.mark.parametrize("converter", ["ours", "lce"])
def test_predict_falls_back_to_one_by_one(converter, runtime):
    import larq_compute_engine as lce
    tf, _ = _lib()
    model = fixed_batch_model()
    model_bytes = lce_convert.convert_keras_model(model) if converter == "ours" else lce.convert_keras_model(model)
    assert "tensor<1x128xf32>" in lce_convert.tflite_to_mlir(model_bytes)
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 3)).astype(np.float32)
    keras = np.concatenate([model(x[i:i + 1], training=False).numpy() for i in range(3)])
    interpreter = lce_convert.Interpreter(model_bytes, runtime=runtime)
    with pytest.warns(UserWarning, match="cannot be resized to a batch of 3.*one by one") as caught:
        y = interpreter.predict(x)
    assert len([w for w in caught if "one by one" in str(w.message)]) == 1
    assert y.shape == (3, 4)
    np.testing.assert_allclose(y, keras, rtol=1e-4, atol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once
        np.testing.assert_array_equal(interpreter.predict(x[:2]), y[:2])
        np.testing.assert_array_equal(interpreter.predict(x[2:]), y[2:])
    # A model that resizes keeps one run per batch, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        free = lce_convert.convert_keras_model(tf.keras.Model(model.inputs, model.layers[2].output))
        assert lce_convert.Interpreter(free, runtime=runtime).predict(np.zeros((3, 8, 8, 3), np.float32)).shape[0] == 3


def xnor_weight_scale(x):
    """XNORNet's kernel quantizer (larq_zoo): sign scaled by the mean magnitude per filter."""
    tf, lq = _lib()
    x = tf.clip_by_value(x, -1, 1)
    return tf.reduce_mean(tf.abs(x), axis=[0, 1, 2], keepdims=True) * lq.quantizers.ste_sign(x)


def kernel_model(channels_in, filters, kernel, size, seed=2):
    """Binary convs with ste_sign and XNORNet's scaled kernels, then BatchNorm."""
    tf, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input((size, size, channels_in))
    y = tf.keras.layers.Conv2D(channels_in, 1, name="stem")(x)
    y = lq.layers.QuantConv2D(filters, kernel, input_quantizer="ste_sign", kernel_quantizer=xnor_weight_scale,
                              use_bias=False, name="xnor")(y)
    y = tf.keras.layers.BatchNormalization(name="bn")(y)
    if size > kernel:
        y = _qconv(lq, 16, 3, "ste")(y)
    return _randomize_batchnorm(tf.keras.Model(x, y), seed)


@pytest.mark.parametrize("route", ["frozen_graph", "saved_model"])
def test_quantized_kernels_handed_over_as_values(route, monkeypatch):
    """convert_keras_model gives TensorFlow the quantized kernels as values (evaluated by larq's
    quantizers in eager TensorFlow) instead of letting it fold the quantizers: the converted
    graph is the one of TensorFlow's own route, on both routes (the SavedModel one is taken
    first for huge models), and the model is restored afterwards."""
    tf, _ = _lib()
    from lce_convert import converter
    if route == "saved_model":
        monkeypatch.setattr(converter, "_SAVED_MODEL_ROUTE_WEIGHTS", 0)
    model = kernel_model(8, 32, 3, 8)
    quantizers = [l.kernel.quantizer for l in model.layers if hasattr(getattr(l, "kernel", None), "quantizer")]
    weights = [w.name for w in model.weights]
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 8)).astype(np.float32)
    before = model(x, training=False).numpy()
    ours = lce_convert.convert_keras_model(model)
    assert [l.kernel.quantizer for l in model.layers if hasattr(getattr(l, "kernel", None), "quantizer")] == quantizers
    assert not hasattr(model, "_lce_convert_quantized_kernels")
    assert [w.name for w in model.weights] == weights
    np.testing.assert_array_equal(model(x, training=False).numpy(), before)
    assert all(l.binarized for l in ours.report if l.keras_layer in ("xnor", "ste"))
    via_tf = lce_convert.convert_tflite(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    body = lambda m: lce_convert.tflite_to_mlir(m, elide_large_constants=None).split("\n", 1)[1]
    assert body(ours) == body(via_tf)
    assert_matches(model, ours, x)


def dense_model(units_in, units):
    """DoReFaNet's classifier in small: Flatten, QuantDense with larq_zoo's DoReFa quantizers
    (not binary), BatchNorm, a float Dense."""
    tf, lq = _lib()
    tf.keras.utils.set_random_seed(4)

    def magnitude_aware_sign(x):
        return lq.math.sign(x) * tf.stop_gradient(tf.reduce_mean(tf.abs(x)))

    x = tf.keras.Input((units_in,))
    y = lq.layers.QuantDense(units, input_quantizer=lq.quantizers.DoReFaQuantizer(k_bit=2),
                             kernel_quantizer=magnitude_aware_sign, use_bias=False, name="quant_dense")(x)
    y = tf.keras.layers.BatchNormalization(scale=False)(y)
    y = tf.keras.layers.Dense(10, name="dense")(y)
    return tf.keras.Model(x, tf.keras.layers.Activation("softmax")(y))


def test_report_lists_batch_matmul_layers():
    """A Dense whose kernel TensorFlow leaves computed at run time becomes BATCH_MATMUL: the
    report lists it under its own name, and activation-by-activation matmuls stay unlisted."""
    from lce_convert.mlir import Module
    text = '''
    func.func @main(%x: tensor<1x4xf32>) -> (tensor<1x3xf32>, tensor<1x1xf32>) {
      %w = "tfl.const"() {value = dense<[[1.0, -2.0, 3.0], [0.5, 0.0, -1.0], [2.0, 2.0, 2.0], [-3.0, 1.0, 0.25]]> : tensor<4x3xf32>} : () -> tensor<4x3xf32> loc("model/quant_dense/MatMul/ReadVariableOp")
      %s = "tfl.sign"(%w) : (tensor<4x3xf32>) -> tensor<4x3xf32> loc("model/quant_dense/MatMul/Sign")
      %0 = "tfl.builtin"(%x, %s) {name = "BATCH_MATMUL", options = {}, options_type = "BatchMatMulOptions"} : (tensor<1x4xf32>, tensor<4x3xf32>) -> tensor<1x3xf32> loc("model/quant_dense/MatMul")
      %1 = "tfl.builtin"(%x, %x) {name = "BATCH_MATMUL", options = {adj_y = true}, options_type = "BatchMatMulOptions"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x1xf32> loc("model/attention/MatMul")
      return %0, %1 : tensor<1x3xf32>, tensor<1x1xf32>
    }'''
    report = lce_convert.convert_tflite(Module.parse(text).to_tflite()).report
    assert [(l.name, l.op, l.binarized) for l in report] == [("model/quant_dense/MatMul", "dense", False)]
    assert "BATCH_MATMUL" in report.layers[0].reason


@pytest.mark.slow
def test_report_names_with_a_run_time_kernel():
    """DoReFaNet at 224 in small: a 33.6 M-weight DoReFa QuantDense, which TensorFlow's own
    route leaves a BATCH_MATMUL; the Keras names stay on their layers (the float Dense was
    listed as not found, its entry given to quant_dense)."""
    tf, _ = _lib()
    from lce_convert import converter
    model = dense_model(8200, 4100)
    result = lce_convert.convert_tflite(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    converter._attach_keras_names(result.report, model)
    report = {l.keras_layer: l for l in result.report}
    assert sorted(report) == ["dense", "quant_dense"]
    assert "BATCH_MATMUL" in report["quant_dense"].reason
    assert report["dense"].reason == "input is not binarized" and "model/dense/" in report["dense"].name
    # Our own route hands TensorFlow the kernel as a value: a FULLY_CONNECTED.
    ours = {l.keras_layer: l for l in lce_convert.convert_keras_model(model).report}
    assert ours["quant_dense"].reason == "input is not binarized"


@pytest.mark.slow
def test_huge_binary_kernels():
    """XNORNet's and BinaryAlexNet's 37.7 M-weight layer (6x6x256 -> 4096 at 224x224), just past
    TensorFlow's folding limit of 2^30 bits: binarized both from TensorFlow's own conversion
    (the filter arrives computed at run time: tfl-fold-filters) and by convert_keras_model."""
    tf, _ = _lib()
    model = kernel_model(256, 4100, 6, 6)
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 256)).astype(np.float32)
    plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    assert "TRANSPOSE" in lce_convert.tflite_to_mlir(plain)  # the filter is computed at run time
    for converted in (lce_convert.convert_tflite(plain), lce_convert.convert_keras_model(model)):
        layers = [l for l in converted.report if l.binarized]
        assert len(layers) == 1 and layers[0].details["channels_in"] == 256
        assert len(converted) < 8e6  # bitpacked: 4.7 MB, not 151 MB of float weights
        assert_matches(model, converted, x)
