"""lce_convert.research: strip_lcedequantize_ops and modify_integer_quantized_model_io_type."""
import numpy as np
import pytest

import lce_convert
from interpreters import make_interpreter, run
from lce_convert.research import modify_integer_quantized_model_io_type, strip_lcedequantize_ops


def bitpack(x):
    """semantics.md: channel c -> bit c % 32 of word c // 32, 1 for x < 0, tail bits 0."""
    c = x.shape[-1]
    words = np.zeros(x.shape[:-1] + ((c + 31) // 32,), np.uint32)
    for i in range(c):
        words[..., i // 32] |= (x[..., i] < 0).astype(np.uint32) << np.uint32(i % 32)
    return words.view(np.int32)


def sign_output_model(seed=0):
    """A larq model whose output is a binarized activation (ste_sign after BN)."""
    import tensorflow as tf
    import larq as lq
    import bnn_zoo
    tf.keras.utils.set_random_seed(seed)
    x = inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(40, 3, padding="same")(x)
    x = lq.layers.QuantConv2D(72, 3, padding="same", pad_values=1.0, input_quantizer="ste_sign",
                              kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = lq.quantizers.SteSign()(x)
    return bnn_zoo._finish(tf.keras.Model(inp, x), seed)


@pytest.mark.parametrize("bitpacked", [False, True])
def test_strip_gives_the_exact_bits(bitpacked):
    model = sign_output_model()
    converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked)
    stripped = strip_lcedequantize_ops(converted)
    assert "lq.Dequantize" not in lce_convert.tflite_to_mlir(stripped)
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=(1, 8, 8, 3)).astype(np.float32)
        keras = model(x, training=False).numpy()
        assert set(np.unique(keras)) <= {-1.0, 1.0}
        (bits,) = run(stripped, [x], "lce")
        assert bits.dtype == np.int32 and bits.shape == (1, 8, 8, 3)
        np.testing.assert_array_equal(bits, bitpack(keras))


def int8_sign_output_model(seed=0):
    """LCE's toy_model_int8_sign at 8x8: a fake-quant (+-3) input, a one-padded binary conv and
    a fake-quantized ste_sign output (LCE's test forgets to use its quantized input; this one
    uses it)."""
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(seed)
    fq = lambda t: tf.quantization.fake_quant_with_min_max_vars(t, -3.0, 3.0)
    x = inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Lambda(fq)(x)
    x = lq.layers.QuantConv2D(256, 3, padding="same", pad_values=1.0, input_quantizer="ste_sign",
                              kernel_quantizer="ste_sign", kernel_constraint="weight_clip")(x)
    x = lq.quantizers.SteSign()(x)
    x = tf.keras.layers.Lambda(fq)(x)
    return tf.keras.Model(inp, x)


@pytest.mark.parametrize("in_type", ["float32", "int8"])
@pytest.mark.parametrize("out_type", ["float32", "int8"])
@pytest.mark.parametrize("kind", ["default_range", "fake_quant"])
def test_strip_int8_models(kind, in_type, out_type):
    """The int8 cases of LCE's strip_lcedequantize test: the sign model with
    experimental_default_int8_range=(-6, 6), and the fake-quantized one, with every IO type.
    The stripped output is int32 and holds the same bits as LCE's (and, for the fake-quant
    model, as Keras')."""
    import warnings
    import tensorflow as tf
    import larq_compute_engine as lce
    from larq_compute_engine.mlir.python.util import strip_lcedequantize_ops as lce_strip
    model = sign_output_model() if kind == "default_range" else int8_sign_output_model()
    options = dict(inference_input_type=getattr(tf, in_type), inference_output_type=getattr(tf, out_type))
    if kind == "default_range":
        options["experimental_default_int8_range"] = (-6.0, 6.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_full = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True, **options)
        theirs_full = lce.convert_keras_model(model, **options)
        ours, theirs = strip_lcedequantize_ops(ours_full), lce_strip(theirs_full)
    it = lce_convert.Interpreter(ours)
    (inp,), (out,) = it.input_details, it.output_details
    assert inp["dtype"] == np.dtype(in_type) and out["dtype"] == np.int32
    for seed in range(2):
        x = np.random.default_rng(seed).normal(size=(1, 8, 8, 3)).astype(np.float32)
        keras = model(x, training=False).numpy()
        if in_type == "int8":
            scale, zero_point = inp["quantization"]
            x = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
        (bits,) = run(ours, [x], "lce")
        (lce_bits,) = run(theirs, [x], "lce")
        np.testing.assert_array_equal(bits, lce_bits)
        np.testing.assert_array_equal(it.predict(x), bits)
        # Unstripped: the same model as LCE's. Its int8 LceDequantize (fake-quant model) gives
        # zp +- round(1/scale) (semantics.md), like Keras' fake-quant; LCE's runtime rounds 1/scale
        # computed in float32, which is 42.5 for this scale (6/255 in float32 is just above
        # 6/255, so exactly 1/scale = 42.49999...): it writes 43 where we write 42.
        full = lce_convert.Interpreter(ours_full).predict(x)
        theirs_out = lce_convert.Interpreter(theirs_full).predict(x)
        if kind == "default_range" and out_type == "int8":
            # LCE 0.16 leaves this output (an LceDequantize's) float32; ours is int8, as asked:
            # the LceDequantize writes zp +- round(1/scale) with the default range's quantization.
            scale, zero_point = it_full_quantization(ours_full)
            assert full.dtype == np.int8 and theirs_out.dtype == np.float32
            step = int(np.round(1 / np.float64(np.float32(scale))))
            np.testing.assert_array_equal(full, np.where(theirs_out < 0, zero_point - step, zero_point + step))
        else:
            np.testing.assert_array_equal(full, theirs_out)
        if kind == "fake_quant" and in_type == out_type == "float32":
            np.testing.assert_allclose(full, keras, rtol=0, atol=1e-6)
        if kind == "fake_quant" and in_type == "float32":
            np.testing.assert_array_equal(bits, bitpack(keras))


def it_full_quantization(model_bytes):
    (out,) = lce_convert.Interpreter(model_bytes).output_details
    return out["quantization"]


def test_strip_two_subgraphs(tmp_path):
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(1)
    conv = lq.layers.QuantConv2D(64, 3, padding="same", pad_values=1.0, input_quantizer="ste_sign",
                                 kernel_quantizer="ste_sign", use_bias=False)
    conv.build((1, 8, 8, 32))
    sign = lq.quantizers.SteSign()

    class TwoSignatures(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 32], tf.float32)])
        def first(self, x):
            return {"bits": sign(conv(x) - 0.5)}

        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 32], tf.float32)])
        def second(self, x):
            return {"bits": sign(conv(x) + 0.5)}

    m = TwoSignatures()
    m.conv = conv  # track the variables
    tf.saved_model.save(m, str(tmp_path), signatures={"first": m.first, "second": m.second})
    plain = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path), signature_keys=["first", "second"]).convert()
    converted = lce_convert.convert_tflite(plain, experimental_enable_bitpacked_activations=True)
    stripped = strip_lcedequantize_ops(converted)
    module = lce_convert.import_tflite(stripped)
    text = module.text()
    assert text.count("func.func") == 2
    assert text.count("-> tensor<1x8x8x2xi32>") >= 2  # both entry functions return bits
    assert "lq.Dequantize" not in text
    assert sorted(s["key"] for s in module.signatures()) == ["first", "second"]
    assert all(s["function"] in text for s in module.signatures())


def test_strip_errors():
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.raises(ValueError, match="no model output is produced by LceDequantize"):
        strip_lcedequantize_ops(plain)
    with pytest.raises(lce_convert.InvalidModelError):
        strip_lcedequantize_ops(b"\x00" * 64)


@pytest.fixture(scope="module")
def ptq_models():
    """An int8 post-training-quantized model with float IO, and TF's own int8-IO version."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 2)), tf.keras.layers.Conv2D(3, 3, activation="relu"),
                                 tf.keras.layers.Flatten(), tf.keras.layers.Dense(4)])

    def representative():
        for i in range(8):
            yield [np.random.default_rng(i).normal(size=(1, 6, 6, 2)).astype("f4")]

    def convert(io_int8):
        c = tf.lite.TFLiteConverter.from_keras_model(model)
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = representative
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io_int8:
            c.inference_input_type = c.inference_output_type = tf.int8
        return c.convert()
    return convert(False), convert(True)


@pytest.mark.parametrize("in_type", ["float32", "int8"])
@pytest.mark.parametrize("out_type", ["float32", "int8"])
def test_int8_io_all_combinations(ptq_models, in_type, out_type):
    import tensorflow as tf
    float_io, int8_io = ptq_models
    converted = modify_integer_quantized_model_io_type(float_io, getattr(tf, in_type), getattr(tf, out_type))
    it = make_interpreter(converted)
    (inp,), (out,) = it.get_input_details(), it.get_output_details()
    assert inp["dtype"] == np.dtype(in_type) and out["dtype"] == np.dtype(out_type)
    # Against TF's own int8-IO model: identical int8 results for the same int8 input.
    ref = make_interpreter(int8_io)
    (rin,), (rout,) = ref.get_input_details(), ref.get_output_details()
    q = np.random.default_rng(3).integers(-128, 128, size=rin["shape"]).astype(np.int8)
    (yq,) = run(int8_io, [q])
    in_scale, in_zp = rin["quantization"]
    out_scale, out_zp = rout["quantization"]
    x = q if in_type == "int8" else ((q.astype(np.float32) - in_zp) * in_scale).astype(np.float32)
    (y,) = run(converted, [x])
    if out_type == "int8":
        np.testing.assert_array_equal(y, yq)
    else:
        np.testing.assert_allclose(y, (yq.astype(np.float32) - out_zp) * out_scale, rtol=0, atol=1e-6)


def test_int8_io_errors(ptq_models):
    import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.raises(ValueError, match="Model is not integer quantized"):
        modify_integer_quantized_model_io_type(plain, tf.int8, tf.float32)
    with pytest.raises(ValueError, match="inference_output_type must be tf.float32 or tf.int8"):
        modify_integer_quantized_model_io_type(ptq_models[0], tf.int8, tf.uint8)
