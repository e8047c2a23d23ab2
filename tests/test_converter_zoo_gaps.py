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
