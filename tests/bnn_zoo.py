"""A zoo of larq architectures built in code with seeded random weights, covering the block
types and layer options the converter must binarize: QuickNet-, Bi-Real- and XNOR-Net-like
blocks, BinaryAlexNet-like, a binary MLP, zero and one padding, strides 2, dilation 2, grouped
convs, BatchNorm before and after the activation, shortcut adds and max-pooling of binary
activations. Each builder returns (model, binary_layer_names, runtime options for LCE)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np


def _lib():
    import tensorflow as tf
    import larq as lq
    return tf, tf.keras.layers, lq


def _qconv(lq, filters, kernel, name, **kw):
    kw.setdefault("padding", "same")
    return lq.layers.QuantConv2D(filters, kernel, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                                 kernel_constraint="weight_clip", use_bias=False, name=name, **kw)


def _qdense(lq, units, name, **kw):
    return lq.layers.QuantDense(units, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                                kernel_constraint="weight_clip", use_bias=False, name=name, **kw)


def _finish(model, seed):
    """Random, non-trivial BatchNorm statistics (as after training)."""
    rng = np.random.default_rng(seed + 100)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            ws = layer.get_weights()
            gamma, beta, mean, var = ws if len(ws) == 4 else (None, *ws)
            new = [rng.uniform(0.3, 1.5, beta.shape) * rng.choice([-1, 1], beta.shape), rng.normal(0, 1, beta.shape),
                   rng.normal(0, 2, beta.shape), rng.uniform(0.5, 4, beta.shape)]
            layer.set_weights([w.astype("f4") for w in (new if len(ws) == 4 else new[1:])])
    return model


def quicknet_like(seed=0):
    """QuickNet blocks: x = x + BN(QuantConv(x)) with zero padding; transition with max-pool,
    float depthwise + pointwise convs."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((16, 16, 3))
    x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization()(x)
    names = []
    for i in range(2):
        y = _qconv(lq, 32, 3, "qn_block%d" % i)(x)
        names.append("qn_block%d" % i)
        y = L.Activation("relu")(y)  # QuickNet: relu before the BN, on a zero-padded conv
        y = L.BatchNormalization()(y)
        x = L.Add()([x, y])
    x = L.MaxPool2D(2)(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="transition_dw")(x)
    x = L.Conv2D(64, 1, use_bias=False, name="transition_pw")(x)
    x = L.BatchNormalization()(x)
    y = _qconv(lq, 64, 3, "qn_block2")(x)
    names.append("qn_block2")
    x = L.Add()([x, L.BatchNormalization()(y)])
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10, name="logits")(x)
    return _finish(tf.keras.Model(inp, x), seed), names, {}


def birealnet_like(seed=1):
    """Bi-Real Net: a shortcut around every binary conv, one padding, a strided block with an
    average-pooled float shortcut."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((16, 16, 3))
    x = L.Conv2D(32, 3, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization()(x)
    names = []
    for i in range(2):
        y = _qconv(lq, 32, 3, "bireal%d" % i, pad_values=1.0)(x)
        names.append("bireal%d" % i)
        x = L.Add()([x, L.BatchNormalization()(y)])
    shortcut = L.AveragePooling2D(2)(x)
    y = _qconv(lq, 32, 3, "bireal_down", strides=2, pad_values=1.0)(x)
    names.append("bireal_down")
    x = L.Add()([shortcut, L.BatchNormalization()(y)])
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10, name="logits")(x)
    return _finish(tf.keras.Model(inp, x), seed), names, {}


def xnornet_like(seed=2):
    """XNOR-Net: magnitude-aware weights (+-mean|w| per output channel), BN before the sign,
    max-pool on binary activations, binary dense."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    kw = dict(input_quantizer="ste_sign", kernel_quantizer="magnitude_aware_sign",
              kernel_constraint="weight_clip", use_bias=False)
    x = inp = tf.keras.Input((16, 16, 3))
    x = L.Conv2D(32, 3, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization()(x)
    x = lq.layers.QuantConv2D(48, 3, padding="same", pad_values=1.0, name="xnor0", **kw)(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPool2D(2)(x)
    x = lq.layers.QuantConv2D(64, 3, padding="same", pad_values=1.0, name="xnor1", **kw)(x)
    x = L.BatchNormalization()(x)
    x = L.Flatten()(x)
    x = lq.layers.QuantDense(10, name="xnor_dense", **kw)(x)
    return _finish(tf.keras.Model(inp, x), seed), ["xnor0", "xnor1", "xnor_dense"], {}


def binary_alexnet_like(seed=3):
    """BinaryAlexNet: large strided float stem, binary convs with 3x3/2 max-pools on binary
    activations, binary dense layers with BN."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((32, 32, 3))
    x = L.Conv2D(48, 7, strides=2, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPool2D(3, 2, padding="same")(x)
    x = _qconv(lq, 64, 5, "alex_conv1", pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPool2D(3, 2, padding="valid")(x)
    x = _qconv(lq, 96, 3, "alex_conv2", pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = _qconv(lq, 64, 3, "alex_conv3", pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPool2D(3, 2, padding="same")(x)
    x = L.Flatten()(x)
    x = _qdense(lq, 128, "alex_fc1")(x)
    x = L.BatchNormalization()(x)
    x = _qdense(lq, 10, "alex_fc2")(x)
    x = L.BatchNormalization()(x)
    return _finish(tf.keras.Model(inp, x), seed), ["alex_conv1", "alex_conv2", "alex_conv3", "alex_fc1", "alex_fc2"], {}


def binary_mlp(seed=4):
    """A binary MLP on flattened 8x8 inputs (like scikit-learn's digits)."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((8, 8, 1))
    x = L.Flatten()(x)
    x = L.Dense(96, name="float_in")(x)
    x = L.BatchNormalization()(x)
    for i, units in enumerate((70, 64)):
        x = _qdense(lq, units, "mlp%d" % i)(x)
        x = L.BatchNormalization()(x)
    x = _qdense(lq, 10, "mlp_out")(x)
    return _finish(tf.keras.Model(inp, x), seed), ["mlp0", "mlp1", "mlp_out"], {}


def conv_options(seed=5):
    """Zero and one padding, strides 2, dilation 2 and a grouped conv (2 groups of 32)."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((16, 16, 3))
    x = L.Conv2D(64, 3, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization()(x)
    x = _qconv(lq, 64, 3, "zero_pad")(x)
    x = L.BatchNormalization()(x)
    x = _qconv(lq, 64, 3, "one_pad_stride2", strides=2, pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = _qconv(lq, 64, 3, "dilated", dilation_rate=2, pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = _qconv(lq, 64, 3, "grouped", groups=2, pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = _qconv(lq, 40, 3, "valid_odd_channels", padding="valid")(x)
    x = L.BatchNormalization()(x)
    x = L.GlobalAveragePooling2D()(x)
    return _finish(tf.keras.Model(inp, x), seed), \
        ["zero_pad", "one_pad_stride2", "dilated", "grouped", "valid_odd_channels"], {"use_indirect_bgemm": True}


def batchnorm_placement(seed=6):
    """BN before the binarization (folded into the conv) and BN after a ReLU activation (a
    separate affine step between two binary layers)."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((12, 12, 8))
    x = _qconv(lq, 32, 3, "bn_after_act", pad_values=1.0, activation="relu")(x)
    x = L.BatchNormalization()(x)
    x = _qconv(lq, 32, 3, "bn_before_act", pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = _qconv(lq, 24, 1, "pointwise")(x)
    x = L.BatchNormalization()(x)
    return _finish(tf.keras.Model(inp, x), seed), ["bn_after_act", "bn_before_act", "pointwise"], {}


def maxpool_binary(seed=7):
    """Max-pooling of binary activations, SAME and VALID, between binary convs."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((20, 20, 16))
    x = _qconv(lq, 32, 3, "mp_conv0", pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPool2D(2, padding="valid")(x)
    x = _qconv(lq, 48, 3, "mp_conv1", pad_values=1.0)(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPool2D(3, strides=2, padding="same")(x)
    x = _qconv(lq, 32, 3, "mp_conv2", padding="valid")(x)
    return _finish(tf.keras.Model(inp, x), seed), ["mp_conv0", "mp_conv1", "mp_conv2"], {}


ZOO = {f.__name__: f for f in (quicknet_like, birealnet_like, xnornet_like, binary_alexnet_like,
                               binary_mlp, conv_options, batchnorm_placement, maxpool_binary)}


def fake_quant_bnn(seed=0):
    """Quantization-aware (LCE's toy_model_int8 style): fake-quant nodes (+-3) on the input and
    after every BatchNorm, one-padded and strided binary convs. (A Flatten + Dense after the last
    fake-quant would differ from LCE in form only: TensorFlow 2.21 quantizes the RESHAPE, so the
    conv writes int8 before it; LCE 0.16 reshapes float and quantizes after.)"""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    fq = lambda name: L.Lambda(lambda t: tf.quantization.fake_quant_with_min_max_vars(t, -3.0, 3.0), name=name)
    x = inp = tf.keras.Input((8, 8, 3))
    x = fq("fq_input")(x)
    x = _qconv(lq, 32, 3, "fq_conv0", pad_values=1.0)(x)
    x = fq("fq0")(L.BatchNormalization()(x))
    x = _qconv(lq, 16, 3, "fq_conv1", pad_values=1.0, strides=2)(x)
    x = fq("fq1")(L.BatchNormalization()(x))
    return _finish(tf.keras.Model(inp, x), seed), ["fq_conv0", "fq_conv1"], {}


def default_range_bnn(seed=0):
    """For experimental_default_int8_range: a float stem, bitpacked binary convs with a binary
    max-pool, a binary conv with float output, a global average pool and a float dense layer."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((8, 8, 3))
    x = L.BatchNormalization()(L.Conv2D(32, 3, padding="same", name="stem")(x))
    x = L.BatchNormalization()(_qconv(lq, 32, 3, "dr_conv0", pad_values=1.0)(x))
    x = L.BatchNormalization()(_qconv(lq, 32, 3, "dr_conv1", pad_values=1.0)(x))
    x = L.MaxPool2D(2)(x)
    x = L.BatchNormalization()(_qconv(lq, 16, 3, "dr_conv2", padding="valid")(x))
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10, name="logits")(x)
    return _finish(tf.keras.Model(inp, x), seed), ["dr_conv0", "dr_conv1", "dr_conv2"], {}


def fake_quant_residual(seed=7):
    """Quantization-aware with a float shortcut (Conv -> ReLU -> BN, then Add), a strided conv,
    a max-pool of int8 activations and a 1x1 VALID conv."""
    tf, L, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    fq = lambda name: L.Lambda(lambda t: tf.quantization.fake_quant_with_min_max_vars(t, -3.0, 3.0), name=name)
    x = inp = tf.keras.Input((8, 8, 40))
    x = fq("fq_input")(x)
    y = L.BatchNormalization()(L.Activation("relu")(_qconv(lq, 40, 3, "res_conv0", pad_values=1.0)(x)))
    x = fq("fq0")(L.Add()([x, y]))
    x = fq("fq1")(L.BatchNormalization()(_qconv(lq, 40, 3, "res_conv1", pad_values=1.0, strides=2)(x)))
    x = L.MaxPool2D(2)(x)
    x = fq("fq2")(L.BatchNormalization()(_qconv(lq, 24, 1, "res_conv2", padding="valid")(x)))
    return _finish(tf.keras.Model(inp, x), seed), ["res_conv0", "res_conv1", "res_conv2"], {}


INT8_ZOO = {f.__name__: f for f in (fake_quant_bnn, default_range_bnn)}
