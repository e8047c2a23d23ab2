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


def structure(model_bytes):
    """A converted model as its ops in order: name, operand wiring, result types, attributes and
    a digest of each constant's data; tensor names left out (they are TensorFlow's)."""
    import hashlib
    from lce_convert import mlir
    desc = mlir.import_tflite(model_bytes).description()
    out = []
    for f in desc["functions"]:
        ids = {a["id"]: "arg%d" % i for i, a in enumerate(f["args"])}
        for o in f["ops"]:
            for r in o["results"]:
                ids[r["id"]] = "v%d" % len(ids)
            data = hashlib.sha256(bytes(desc["blobs"][o["data"]])).hexdigest() if "data" in o else None
            out.append((o["name"], [ids[i] for i in o["operands"]], [r["type"] for r in o["results"]],
                        sorted((k, repr(v)) for k, v in o["attrs"].items()), data))
        out.append(("return", [ids[i] for i in f["returns"]]))
    return out


def stand_in_model(seed=5):
    """Binary convs with XNORNet's scaled kernels and with ste_sign, each followed by BatchNorm
    (the first also by a ReLU: TensorFlow's ADD(RELU) where it cannot fold the BatchNorm)."""
    tf, lq = _lib()
    tf.keras.utils.set_random_seed(seed)
    x = tf.keras.Input((8, 8, 4))
    y = tf.keras.layers.Conv2D(8, 1, name="stem")(x)
    y = lq.layers.QuantConv2D(32, 3, input_quantizer="ste_sign", kernel_quantizer=xnor_weight_scale,
                              use_bias=False, name="xnor")(y)
    y = tf.keras.layers.ReLU()(tf.keras.layers.BatchNormalization(name="bn")(y))
    y = _qconv(lq, 16, 3, "ste", pad_values=1.0)(y)
    y = tf.keras.layers.BatchNormalization(name="bn2")(y)
    return _randomize_batchnorm(tf.keras.Model(x, y), seed)


def _spy_stand_ins(monkeypatch, converter):
    """Records what each _substitute_stand_ins call gave (None: not taken)."""
    calls = []
    real = converter._substitute_stand_ins

    def spy(tflite, table):
        desc = real(tflite, table)
        calls.append(desc)
        return desc
    monkeypatch.setattr(converter, "_substitute_stand_ins", spy)
    return calls


@pytest.mark.parametrize("bitpacked", [False, True], ids=["float_activations", "bitpacked_activations"])
def test_big_kernels_reach_tensorflow_as_stand_ins(bitpacked, monkeypatch):
    """QuantConv2D kernels of at least _STAND_IN_WEIGHTS weights (lowered here so that a small
    model has them) reach TensorFlow's converter as RANDOM_UNIFORM stand-ins and are put back
    into its conversion: the converted model has the same ops, constants and outputs as with
    every kernel handed over as a value, and the Keras model is restored afterwards. With the
    stand-ins TensorFlow leaves the BatchNorms unfolded (MUL, ADD(RELU)); lq-fuse-bconv-affine
    folds them as TensorFlow's folding did."""
    tf, _ = _lib()
    from lce_convert import converter
    model = stand_in_model()
    options = dict(experimental_enable_bitpacked_activations=bitpacked)
    calls = _spy_stand_ins(monkeypatch, converter)
    normal = lce_convert.convert_keras_model(model, **options)
    assert calls == []  # 2304 and 4608 weights: below the threshold
    kernels = [(l.kernel.quantizer, l.kernel.latent_variable) for l in model.layers if l.name in ("xnor", "ste")]
    weights = [w.name for w in model.weights]
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 4)).astype(np.float32)
    before = model(x, training=False).numpy()
    monkeypatch.setattr(converter, "_STAND_IN_WEIGHTS", 2304)
    ours = lce_convert.convert_keras_model(model, **options)
    assert len(calls) == 1 and calls[0] is not None  # the stand-in route was taken
    text = lambda m: lce_convert.tflite_to_mlir(m, elide_large_constants=None)
    assert "RANDOM_UNIFORM" not in text(ours)
    assert [(l.kernel.quantizer, l.kernel.latent_variable) for l in model.layers if l.name in ("xnor", "ste")] == kernels
    assert not hasattr(model, "_lce_convert_quantized_kernels")
    assert [w.name for w in model.weights] == weights
    np.testing.assert_array_equal(model(x, training=False).numpy(), before)
    assert structure(ours) == structure(normal)
    assert [(l.keras_layer, l.binarized, l.details) for l in ours.report] == \
        [(l.keras_layer, l.binarized, l.details) for l in normal.report]
    assert sum(l.binarized for l in ours.report) == 2
    np.testing.assert_array_equal(lce_convert.Interpreter(ours).predict(x), lce_convert.Interpreter(normal).predict(x))
    assert_matches(model, ours, x)


@pytest.mark.parametrize("zoo", ["ZOO", "INT8_ZOO"])
def test_stand_ins_on_the_converter_zoo(zoo, monkeypatch):
    """Every quantized conv kernel of the converter zoo's models as a stand-in, in both
    activation modes: the same ops with the same attributes, the same binarized layers and
    bit-identical outputs as with kernels handed over as values. (The zoo's BatchNorms have
    negative scales: TensorFlow folds those into the weights' signs, lq-fuse-bconv-affine into
    negative multipliers, so there the constants differ.) Models with fake-quantization nodes
    are converted without stand-ins (to TensorFlow's quantizer they would be float constants)."""
    import bnn_zoo
    from lce_convert import converter
    calls = _spy_stand_ins(monkeypatch, converter)
    ops = lambda m: [o[:4] for o in structure(m)]
    for name, build in getattr(bnn_zoo, zoo).items():
        model = build()[0]
        x = np.random.default_rng(0).normal(size=(3,) + tuple(model.input_shape[1:])).astype(np.float32)
        for bitpacked in (False, True):
            monkeypatch.setattr(converter, "_STAND_IN_WEIGHTS", 1 << 40)
            normal = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked)
            monkeypatch.setattr(converter, "_STAND_IN_WEIGHTS", 1)
            del calls[:]
            ours = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked)
            convs = [l for l in model.layers if type(l).__name__ == "QuantConv2D"]
            taken = bool(convs) and name != "fake_quant_bnn"
            assert len(calls) == taken and all(desc is not None for desc in calls), name
            assert ops(ours) == ops(normal), (name, bitpacked)
            assert [(l.keras_layer, l.binarized) for l in ours.report] == \
                [(l.keras_layer, l.binarized) for l in normal.report]
            np.testing.assert_array_equal(lce_convert.Interpreter(ours).predict(x),
                                          lce_convert.Interpreter(normal).predict(x))


def test_stand_in_fallback(monkeypatch, caplog):
    """A stand-in that does not come through TensorFlow's conversion as traced (here one that
    TensorFlow folds into a constant) is never a silently wrong model: the model is converted
    again with every kernel handed over as a value, and the log says so."""
    tf, _ = _lib()
    import logging
    from lce_convert import converter
    model = stand_in_model()
    normal = lce_convert.convert_keras_model(model)
    monkeypatch.setattr(converter, "_STAND_IN_WEIGHTS", 2304)
    monkeypatch.setattr(converter, "_stand_in", lambda tf, number, shape: tf.zeros(shape))
    calls = _spy_stand_ins(monkeypatch, converter)
    with caplog.at_level(logging.INFO, logger="lce_convert"):
        ours = lce_convert.convert_keras_model(model)
    assert calls == [None]
    assert any("without stand-ins" in r.getMessage() and "not found" in r.getMessage() for r in caplog.records)
    body = lambda m: lce_convert.tflite_to_mlir(m, elide_large_constants=None).split("\n", 1)[1]
    assert body(ours) == body(normal)
    # A stand-in found with another shape is refused as well.
    monkeypatch.undo()
    table = {1: np.zeros((3, 3, 8, 32), np.float32)}
    with converter._quantized_kernels(tf, model, converter._stand_in_kernels(model, 2304)) as (_, traced):
        assert sorted(v.shape for v in traced.values()) == [(3, 3, 8, 32), (3, 3, 32, 16)]
        tflite = converter._convert_routes(tf, model, 0, stand_ins=True)
    assert converter._substitute_stand_ins(tflite, traced) is not None
    assert converter._substitute_stand_ins(tflite, {1: table[1], 2: np.zeros((3, 3, 32, 17), np.float32)}) is None
    assert converter._substitute_stand_ins(tflite, {1: table[1]}) is None  # stand-in 2 unknown
    assert converter._substitute_stand_ins(tflite, {1: table[1], 2: np.zeros((3, 3, 32, 16), np.float32),
                                                    3: table[1]}) is None  # stand-in 3 not found


def test_stand_ins_for_binary_layers_only(monkeypatch, caplog):
    """Stand-ins are for binary layers: TensorFlow folds a BatchNorm after a conv into the
    kernel only when the kernel is a constant to it, and lq-fuse-bconv-affine folds it into
    Bconv2d only. A QuantConv2D without a one-bit input quantizer (DoReFaNet's 2-bit
    activations) gets no stand-in; one that still stays float (multi-level weights) is converted
    again without stand-ins; both give the conversion without them."""
    tf, lq = _lib()
    import logging
    from lce_convert import converter
    tf.keras.utils.set_random_seed(6)
    x = inp = tf.keras.Input((8, 8, 4))
    x = lq.layers.QuantConv2D(16, 3, input_quantizer=lq.quantizers.DoReFaQuantizer(k_bit=2),
                              kernel_quantizer="ste_sign", use_bias=False, name="dorefa")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    levels = lambda w: tf.clip_by_value(tf.round(w * 8.0) / 8.0, -1.0, 1.0)  # not +-alpha
    x = lq.layers.QuantConv2D(16, 3, input_quantizer="ste_sign", kernel_quantizer=levels, use_bias=False,
                              name="multi_level_weights")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    model = _randomize_batchnorm(tf.keras.Model(inp, x), 6)
    normal = lce_convert.convert_keras_model(model)
    monkeypatch.setattr(converter, "_STAND_IN_WEIGHTS", 500)
    assert list(converter._stand_in_kernels(model, 500).values()) == ["multi_level_weights"]
    calls = _spy_stand_ins(monkeypatch, converter)
    with caplog.at_level(logging.INFO, logger="lce_convert"):
        ours = lce_convert.convert_keras_model(model)
    assert len(calls) == 1 and calls[0] is not None
    assert any("layer multi_level_weights was not binarized" in r.getMessage() for r in caplog.records)
    body = lambda m: lce_convert.tflite_to_mlir(m, elide_large_constants=None).split("\n", 1)[1]
    assert body(ours) == body(normal)


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
    (the filter arrives computed at run time: tfl-fold-filters) and by convert_keras_model,
    whose stand-in for the kernel gives the same model as handing TensorFlow its value."""
    tf, _ = _lib()
    model = kernel_model(256, 4100, 6, 6)
    x = np.random.default_rng(3).normal(size=(2, 6, 6, 256)).astype(np.float32)
    plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    assert "TRANSPOSE" in lce_convert.tflite_to_mlir(plain)  # the filter is computed at run time
    from lce_convert import converter
    values = lce_convert.convert_tflite(converter._tflite_from_keras(tf, model))  # no stand-ins
    ours = lce_convert.convert_keras_model(model)  # the kernel as a stand-in
    for converted in (lce_convert.convert_tflite(plain), ours):
        layers = [l for l in converted.report if l.binarized]
        assert len(layers) == 1 and layers[0].details["channels_in"] == 256
        assert len(converted) < 8e6  # bitpacked: 4.7 MB, not 151 MB of float weights
        assert_matches(model, converted, x)
    assert structure(ours) == structure(values)
