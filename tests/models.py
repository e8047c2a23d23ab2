"""Real models built in code with seeded random weights, converted by TensorFlow's own TFLite
converter (and by LCE 0.16 where noted). Shared by the tests and the demo."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def _tf():
    import tensorflow as tf
    return tf


def seed(s=0):
    tf = _tf()
    tf.keras.utils.set_random_seed(s)
    np.random.seed(s)


def tflite_from_keras(model, representative=None, int8=False):
    tf = _tf()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def larq_bnn(input_shape=(16, 16, 3), seed_value=0):
    """A small larq BNN: float first conv, binary convs with one and zero padding, strides,
    BatchNorm after binary convs, MaxPool on binary activations, binary dense, softmax."""
    seed(seed_value)
    tf = _tf()
    import larq as lq
    kw = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign",
              kernel_constraint="weight_clip", use_bias=False)
    x = inp = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(32, 3, padding="same")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = lq.layers.QuantConv2D(40, 3, padding="same", pad_values=1.0, **kw)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = lq.layers.QuantConv2D(64, 3, padding="same", strides=2, **kw)(x)
    x = tf.keras.layers.MaxPool2D(2)(x)
    x = lq.layers.QuantConv2D(64, 3, padding="valid", dilation_rate=1, **kw)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Flatten()(x)
    x = lq.layers.QuantDense(10, **kw)(x)
    x = tf.keras.layers.Activation("softmax")(x)
    model = tf.keras.Model(inp, x)
    _randomize_batchnorm(model)
    return model


def _randomize_batchnorm(model, seed=1):
    """Seeded BatchNorm statistics (gamma, beta, mean, variance), so that binarization thresholds
    are not trivial. Returns the model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape).astype("f4"), rng.normal(0, 0.5, b.shape).astype("f4"),
                               rng.normal(0, 0.5, m.shape).astype("f4"), rng.uniform(0.5, 2, v.shape).astype("f4")])
    return model


def mobilenet_v2():
    seed(0)
    return _tf().keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None)


def resnet50():
    seed(0)
    return _tf().keras.applications.ResNet50(input_shape=(64, 64, 3), weights=None, classes=10)


def int8_model():
    """A small CNN, post-training quantized to int8 with int8 input and output."""
    seed(0)
    tf = _tf()
    model = tf.keras.Sequential([
        tf.keras.Input((12, 12, 3)),
        tf.keras.layers.Conv2D(8, 3, activation="relu"),
        tf.keras.layers.DepthwiseConv2D(3, padding="same"),
        tf.keras.layers.AveragePooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(5),
    ])
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(8):
            yield [rng.normal(size=(1, 12, 12, 3)).astype("f4")]
    return tflite_from_keras(model, representative, int8=True)


def while_loop_model():
    """A tf.function with a data-dependent WHILE loop (two extra subgraphs)."""
    tf = _tf()

    class Loop(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([4], tf.float32), tf.TensorSpec([], tf.int32)])
        def __call__(self, x, n):
            i = tf.constant(0)
            def cond(i, x):
                return i < n
            def body(i, x):
                return i + 1, x * 1.5 + tf.constant([1.0, -2.0, 0.5, 3.0])
            _, y = tf.while_loop(cond, body, [i, x])
            return {"y": y}
    m = Loop()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([m.__call__.get_concrete_function()], m)
    return conv.convert()


def lce_converted_bnn():
    """The larq BNN converted by LCE 0.16 (LceQuantize, LceBconv2d, LceBMaxPool2d, ...)."""
    import larq_compute_engine as lce
    return lce.convert_keras_model(larq_bnn())
