"""The converter on the BNN zoo: outputs equal Keras (run through LCE 0.16's interpreter until
our runtime exists), every binary layer is binarized, the graph equals LCE's where LCE converts
the same ops, and bad input gives clear errors."""
import warnings

import numpy as np
import pytest

import bnn_zoo
import lce_convert
import models
from lce_convert import LceConvertError

_built = {}


def zoo(name):
    if name not in _built:
        _built[name] = bnn_zoo.ZOO[name]()
    return _built[name]


def lce_predict(model_bytes, x, **options):
    from larq_compute_engine.tflite.python.interpreter import Interpreter
    return np.asarray(Interpreter(model_bytes, **options).predict(x))


def near_ties(model, x, tol=1e-4):
    """Number of values within float32 rounding of 0 where Keras binarizes activations."""
    import tensorflow as tf
    quant = [l for l in model.layers if getattr(l, "input_quantizer", None) is not None]
    if not quant:
        return 0
    probe = tf.keras.Model(model.inputs, [l.input for l in quant])
    outs = probe(x, training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return int(sum(np.sum(np.abs(o.numpy()) < tol) for o in outs))


def assert_matches_keras(model, converted, options, seeds=(0, 1, 2)):
    for seed in seeds:
        x = np.random.default_rng(seed).normal(size=(1,) + tuple(model.input_shape[1:])).astype(np.float32)
        ref = model(x, training=False).numpy()
        ours = lce_predict(converted, x, **options).reshape(ref.shape)
        scale = max(1.0, float(np.max(np.abs(ref))))
        err = float(np.max(np.abs(ours - ref))) / scale
        if err > 1e-4:
            ties = near_ties(model, x)
            assert ties > 0, "output differs from Keras by %g (relative) with no near-tie" % err
            print("seed %d: %d near-ties at binarizations; difference %g allowed" % (seed, ties, err))


@pytest.mark.parametrize("bitpacked", [False, True], ids=["float_activations", "bitpacked_activations"])
@pytest.mark.parametrize("name", sorted(bnn_zoo.ZOO))
def test_zoo(name, bitpacked):
    model, binary_layers, options = zoo(name)
    converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked)
    assert isinstance(converted, bytes) and converted[4:8] == b"TFL3"
    report = {l.keras_layer: l for l in converted.report}
    for layer in binary_layers:
        assert report[layer].binarized, "%s: %s" % (layer, report[layer].reason)
    text = lce_convert.tflite_to_mlir(converted)
    assert text.count('"lq.Bconv2d"') == len(binary_layers)
    assert '"tfl.sign"' not in text  # every binarization was absorbed
    bitpacked_bconvs = [l for l in converted.report if l.binarized and l.details["output"] == "bitpacked"]
    if not bitpacked:
        assert not bitpacked_bconvs and "lq.BMaxPool2d" not in text
    assert_matches_keras(model, converted, options)


def test_bitpacked_activations_are_used():
    model, _, options = zoo("maxpool_binary")
    converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True)
    outputs = [l.details["output"] for l in converted.report if l.binarized]
    assert outputs == ["bitpacked", "bitpacked", "float"]
    assert lce_convert.tflite_to_mlir(converted).count("lq.BMaxPool2d") == 2


def test_report_reasons():
    model, _, _ = zoo("quicknet_like")
    report = {l.keras_layer: l for l in lce_convert.convert_keras_model(model).report}
    assert report["stem"].reason == "input is not binarized"
    assert report["transition_dw"].reason == "depthwise convolutions are not binarized"
    assert not report["logits"].binarized
    assert "qn_block0" in str(lce_convert.convert_keras_model(model).report)


def lq_graph(model_bytes):
    """(op name, filter words, thresholds) of the lq ops of a converted model's main function."""
    from lce_convert import _tflite_io
    desc = lce_convert.import_tflite(model_bytes).description()
    blobs, out = desc["blobs"], []
    ops = desc["functions"][0]["ops"]
    producers = {r["id"]: o for o in ops for r in o["results"]}
    for o in ops:
        if not o["name"].startswith("lq."):
            continue
        consts = []
        for v in o["operands"][1:]:
            p = producers.get(v)
            consts.append(None if p is None or "data" not in p else blobs[p["data"]])
        out.append((o["name"], consts))
    return out


@pytest.mark.parametrize("build", ["maxpool_binary", "larq_bnn_convs"])
def test_same_graph_as_lce(build):
    import larq_compute_engine as lce
    if build == "larq_bnn_convs":
        model = models.larq_bnn()
    else:
        model = zoo(build)[0]
    ours = lq_graph(lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True))
    theirs = lq_graph(lce.convert_keras_model(model))
    if build == "larq_bnn_convs":  # LCE leaves the dense layer float; compare the conv part
        ours, theirs = ours[:6], theirs[:6]
    assert [o[0] for o in ours] == [t[0] for t in theirs]
    for (name, a), (_, b) in zip(ours, theirs):
        if name == "lq.Bconv2d":
            assert a[0] == b[0], "filters differ"
            if a[3] is not None or b[3] is not None:
                ta, tb = np.frombuffer(a[3], np.int32), np.frombuffer(b[3], np.int32)
                # Channels whose sign never changes: LCE writes INT32_MIN ("always -1") or
                # INT32_MAX ("never"), we write -1 or K; all others must be equal.
                always, never = tb == np.iinfo(np.int32).min, tb == np.iinfo(np.int32).max
                assert np.array_equal(ta[~always & ~never], tb[~always & ~never])
                assert np.all(ta[always] == -1)
                assert np.all(ta[never] > tb[~always & ~never].max(initial=-1))


def test_no_binary_layers_gives_float_model_with_report():
    import tensorflow as tf
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((8, 8, 3)), tf.keras.layers.Conv2D(4, 3),
                                 tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
    converted = lce_convert.convert_keras_model(model)
    assert [l.binarized for l in converted.report] == [False, False]
    assert all(l.reason == "input is not binarized" for l in converted.report)
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype(np.float32)
    from interpreters import run
    (y,) = run(converted, [x])
    np.testing.assert_allclose(y, model(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(inference_input_type="float16"), "inference_input_type must be tf.float32 or tf.int8"),
    (dict(inference_output_type=3), "inference_output_type must be"),
    (dict(target="x86"), "target must be 'arm' or 'xcore'"),
    (dict(experimental_default_int8_range=(1.0,)), "experimental_default_int8_range must be"),
    (dict(experimental_default_int8_range=(2.0, -1.0)), "min < max"),
    (dict(experimental_enable_bitpacked_activations="yes"), "must be a bool"),
    (dict(experimental_default_int8_range=(-1.0, float("inf"))), "must be finite"),
    (dict(experimental_default_int8_range="-3,3"), "experimental_default_int8_range must be"),
    (dict(inference_input_type="uint8"), "inference_input_type must be tf.float32 or tf.int8"),
])
def test_bad_options(kwargs, message):
    model, _, _ = zoo("binary_mlp")
    for convert in (lambda: lce_convert.convert_keras_model(model, **kwargs),
                    lambda: lce_convert.convert_tflite(b"", **kwargs)):
        with pytest.raises(lce_convert.InvalidOptionError, match=message) as e:
            convert()
        assert isinstance(e.value, LceConvertError) and isinstance(e.value, ValueError)


def test_not_a_model():
    with pytest.raises(ValueError, match="expects a tf.keras Model"):
        lce_convert.convert_keras_model(object())
    with pytest.raises(lce_convert.InvalidModelError):
        lce_convert.convert_tflite(b"not a model at all")
    with pytest.raises(ValueError, match="existing directory"):
        lce_convert.convert_saved_model("/nonexistent/saved/model")


_INT8_OPTIONS = {"fake_quant_bnn": {}, "default_range_bnn": {"experimental_default_int8_range": (-3.0, 3.0)}}


def int8_zoo(name):
    if name not in _built:
        _built[name] = bnn_zoo.INT8_ZOO[name]()
    return _built[name]


def op_graph(model_bytes):
    """[(op, [input tensor types], [output tensor types])] of subgraph 0, a tensor type being
    (dtype, shape, scales, zero points); constants' contents are not compared here."""
    from lce_convert._schema import enum_names, schema
    from lce_convert._tflite_io import model_object
    s = schema()
    m = model_object(model_bytes)
    builtin, dtype = enum_names(s.BuiltinOperator), enum_names(s.TensorType)
    g = m.subgraphs[0]

    def tensor(i):
        if i < 0:
            return None
        t, q = g.tensors[i], g.tensors[i].quantization
        scales = tuple(np.float32(q.scale).tolist()) if q is not None and q.scale is not None else ()
        zps = tuple(int(z) for z in q.zeroPoint) if q is not None and q.zeroPoint is not None and len(scales) else ()
        return dtype[t.type], tuple(int(d) for d in t.shape), scales, zps

    ops = []
    for op in g.operators:
        c = m.operatorCodes[op.opcodeIndex]
        name = c.customCode.decode() if c.customCode else builtin[max(c.builtinCode, c.deprecatedBuiltinCode)]
        ops.append((name, [tensor(i) for i in op.inputs], [tensor(i) for i in op.outputs]))
    return [tensor(i) for i in g.inputs], [tensor(i) for i in g.outputs], ops


def assert_same_types(ours, theirs):
    """Equal op sequence and tensor types; scales equal up to float32 rounding (TensorFlow 2.21
    and LCE's 2.16 compute bias scales in different precision)."""
    def same(a, b):
        if a is None or b is None:
            return a is b
        return a[0] == b[0] and a[1] == b[1] and a[3] == b[3] and len(a[2]) == len(b[2]) and \
            np.allclose(a[2], b[2], rtol=1e-5, atol=0)

    (oi, oo, ops_a), (ti, to, ops_b) = ours, theirs
    assert len(oi) == len(ti) and all(map(same, oi, ti)), (oi, ti)
    assert len(oo) == len(to) and all(map(same, oo, to)), (oo, to)
    assert [o[0] for o in ops_a] == [o[0] for o in ops_b]
    for a, b in zip(ops_a, ops_b):
        for x, y in ((a[1], b[1]), (a[2], b[2])):
            assert len(x) == len(y) and all(map(same, x, y)), (a[0], x, y)


def quantized_input(it_details, x):
    (scale, zero_point) = it_details
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


@pytest.mark.parametrize("io", [("float32", "float32"), ("int8", "int8"), ("int8", "float32"), ("float32", "int8")],
                         ids=lambda io: "%s_in_%s_out" % io)
@pytest.mark.parametrize("name", sorted(bnn_zoo.INT8_ZOO))
def test_int8_same_as_lce(name, io):
    """int8 options give LCE 0.16's graph (op order, tensor types, scales), and its outputs run
    through LCE's interpreter and ours equal LCE's."""
    import tensorflow as tf
    import larq_compute_engine as lce
    from larq_compute_engine.tflite.python.interpreter import Interpreter as LceInterpreter
    model, binary_layers, _ = int8_zoo(name)
    options = dict(_INT8_OPTIONS[name], inference_input_type=getattr(tf, io[0]),
                   inference_output_type=getattr(tf, io[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True, **options)
        theirs = lce.convert_keras_model(model, **options)
    assert_same_types(op_graph(ours), op_graph(theirs))
    report = {l.keras_layer: l for l in ours.report}
    assert all(report[l].binarized for l in binary_layers)
    if name == "fake_quant_bnn":
        assert [report[l].details["output"] for l in binary_layers] == ["int8", "int8"]
    lce_it = LceInterpreter(theirs)
    # One quantization step of the output (float outputs come from an int8 DEQUANTIZE).
    last = op_graph(theirs)[2][-1]
    step = 1.0 if io[1] == "int8" else (last[0] == "DEQUANTIZE" and last[1][0][2][0])
    differ = 0
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=(1, 8, 8, 3)).astype(np.float32)
        if io[0] == "int8":
            x = quantized_input((lce_it.input_scales[0], lce_it.input_zero_points[0]), x)
        ref = np.asarray(lce_it.predict(x))
        assert ref.dtype == np.dtype(io[1])
        # The two models are equivalent: identical outputs in either runtime.
        np.testing.assert_array_equal(np.asarray(LceInterpreter(ours).predict(x)), ref)
        got = np.asarray(lce_convert.Interpreter(ours).predict(x))
        np.testing.assert_array_equal(got, np.asarray(lce_convert.Interpreter(theirs).predict(x)))
        # Our delegate with TFLite's reference builtin kernels gives exactly LCE's outputs.
        np.testing.assert_array_equal(without_xnnpack(ours, x), ref)
        # With XNNPACK (the default) its int8 kernels may round a value to the neighbouring step.
        diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        assert diff.max() <= step * 1.0001
        differ += int(np.sum(diff > 0))
    print("%s %s: %d of %d outputs one step from LCE's with XNNPACK" % (name, io, differ, 3 * ref.size))


def without_xnnpack(model_bytes, x):
    """Output of tf.lite with our delegate and no default delegates (no XNNPACK)."""
    import tensorflow as tf
    from lce_convert.interpreter import delegate_path
    it = tf.lite.Interpreter(model_content=bytes(model_bytes),
                             experimental_delegates=[tf.lite.experimental.load_delegate(delegate_path())],
                             experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def test_int8_report_and_runtime_of_zero_padding():
    """A zero-padded binary conv before a fake-quant node keeps float output (LCE 0.16's
    optimized runtime corrects zero padding only there), followed by QUANTIZE; both runtimes
    agree. LCE 0.16's converter gives it int8 output, which only LCE's reference kernel (and
    ours) can run."""
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(5)
    fq = lambda t: tf.quantization.fake_quant_with_min_max_vars(t, -4.0, 4.0)
    x = inp = tf.keras.Input((6, 6, 8))
    x = tf.keras.layers.Lambda(fq)(x)
    x = bnn_zoo._qconv(lq, 8, 3, "zero_pad")(x)
    x = tf.keras.layers.Lambda(fq)(x)
    model = tf.keras.Model(inp, x)
    converted = lce_convert.convert_keras_model(model, inference_input_type=tf.int8, inference_output_type=tf.int8)
    assert [l.details["output"] for l in converted.report] == ["float"]
    _, _, ops = op_graph(converted)
    assert [o[0] for o in ops] == ["LceQuantize", "LceBconv2d", "QUANTIZE"]
    x = np.random.default_rng(0).integers(-128, 128, size=(1, 6, 6, 8)).astype(np.int8)
    got = lce_convert.Interpreter(converted).predict(x)
    assert got.dtype == np.int8 and got.shape == (1, 6, 6, 8)
    np.testing.assert_array_equal(without_xnnpack(converted, x), np.asarray(lce_predict(converted, x)))
    import larq_compute_engine as lce
    theirs = lce.convert_keras_model(model, inference_input_type=tf.int8, inference_output_type=tf.int8)
    assert [o[0] for o in op_graph(theirs)[2]] == ["LceQuantize", "LceBconv2d"]
    ours_on_theirs = lce_convert.Interpreter(theirs).predict(x)
    np.testing.assert_array_equal(got, ours_on_theirs)
    # LCE's reference kernel multiplies by a rounded 1/scale: y = -4 with scale float32(8/255)
    # is exactly -127.49999..., which semantics.md rounds to -127 and LCE to -128 (one step).
    lce_reference = np.asarray(lce_predict(theirs, x, use_reference_bconv=True))
    differ = ours_on_theirs != lce_reference
    assert np.all(np.abs(ours_on_theirs.astype(int) - lce_reference)[differ] == 1)
    assert set(np.abs(lce_reference[differ].astype(int)).tolist()) <= {127, 128}


@pytest.mark.parametrize("name", ["quicknet_like", "birealnet_like"])
def test_default_range_zoo(name):
    """Default ranges on models with float shortcuts: every binary layer stays binarized and the
    int8 model runs the same in our runtime and LCE's. (The graph may differ from LCE 0.16's in
    form: TensorFlow 2.21's quantizer leaves a float ADD feeding only an LceQuantize float where
    LCE's round-trips it through int8 first, and lq-fuse-int8 binarizes an int8 tensor directly
    also when its DEQUANTIZE has float users too.)"""
    import tensorflow as tf
    model, binary_layers, _ = zoo(name)
    with pytest.warns(UserWarning, match="latency tests"):
        converted = lce_convert.convert_keras_model(
            model, experimental_default_int8_range=(-2.0, 2.0), inference_input_type=tf.int8,
            inference_output_type=tf.int8, experimental_enable_bitpacked_activations=True)
    report = {l.keras_layer: l for l in converted.report}
    assert all(report[l].binarized for l in binary_layers)
    x = np.random.default_rng(0).integers(-128, 128, size=(1,) + tuple(model.input_shape[1:])).astype(np.int8)
    ref = np.asarray(lce_predict(converted, x))
    assert ref.dtype == np.int8
    np.testing.assert_array_equal(without_xnnpack(converted, x), ref)
    # With XNNPACK its int8 kernels round some values to the neighbouring step, which later
    # binarizations can amplify: only the type and shape are compared.
    got = lce_convert.Interpreter(converted).predict(x)
    assert got.dtype == np.int8 and got.shape == ref.shape


@pytest.mark.parametrize("int8_io", [False, True], ids=["float_io", "int8_io"])
def test_fake_quant_residual(int8_io):
    """A shortcut, a fused ReLU, an int8 max-pool (BMaxPool2d on LceQuantize of int8) and a 1x1
    conv: LCE's graph, except that an LceQuantize whose int8 input also feeds a float op through
    DEQUANTIZE reads the int8 tensor (same bits, q < zp) where LCE reads the DEQUANTIZE; the
    outputs are identical."""
    import tensorflow as tf
    import larq_compute_engine as lce
    from larq_compute_engine.tflite.python.interpreter import Interpreter as LceInterpreter
    model, binary_layers, _ = bnn_zoo.fake_quant_residual()
    io = dict(inference_input_type=tf.int8, inference_output_type=tf.int8) if int8_io else {}
    ours = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True, **io)
    theirs = lce.convert_keras_model(model, **io)
    report = {l.keras_layer: l for l in ours.report}
    assert all(report[l].binarized for l in binary_layers)
    a, b = op_graph(ours)[2], op_graph(theirs)[2]
    assert [o[0] for o in a] == [o[0] for o in b]
    relaxed = [i for i, (x, y) in enumerate(zip(a, b)) if x[1] != y[1]]
    assert len(relaxed) == 1 and a[relaxed[0]][0] == "LceQuantize"
    assert a[relaxed[0]][1][0][0] == "INT8" and b[relaxed[0]][1][0][0] == "FLOAT32"
    keep = lambda ops: [o for i, o in enumerate(ops) if i != relaxed[0]]
    assert_same_types(op_graph(ours)[:2] + (keep(a),), op_graph(theirs)[:2] + (keep(b),))
    lce_it = LceInterpreter(theirs)
    for seed in range(2):
        x = np.random.default_rng(seed).normal(size=(1, 8, 8, 40)).astype(np.float32)
        if int8_io:
            x = quantized_input((lce_it.input_scales[0], lce_it.input_zero_points[0]), x)
        ref = np.asarray(lce_it.predict(x))
        np.testing.assert_array_equal(np.asarray(LceInterpreter(ours).predict(x)), ref)
        np.testing.assert_array_equal(without_xnnpack(ours, x), ref)
        np.testing.assert_array_equal(lce_convert.Interpreter(ours).predict(x), ref)


def test_fake_quant_leaves_unranged_layers_float():
    """Quantization-aware conversion quantizes only where fake-quant nodes give ranges: a large
    float dense layer after them keeps float weights (no dynamic-range quantization), as in LCE."""
    import tensorflow as tf
    import larq as lq
    import larq_compute_engine as lce
    tf.keras.utils.set_random_seed(0)
    fq = lambda t: tf.quantization.fake_quant_with_min_max_vars(t, -3.0, 3.0)
    x = inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Lambda(fq)(x)
    x = tf.keras.layers.BatchNormalization()(bnn_zoo._qconv(lq, 32, 3, "fq_conv", pad_values=1.0)(x))
    x = tf.keras.layers.Dense(64)(tf.keras.layers.Flatten()(x))
    model = tf.keras.Model(inp, x)
    ours = lce_convert.convert_keras_model(model)
    assert_same_types(op_graph(ours), op_graph(lce.convert_keras_model(model)))
    assert [o[0] for o in op_graph(ours)[2]][-1] == "FULLY_CONNECTED"
    assert op_graph(ours)[2][-1][1][1][0] == "FLOAT32"


def test_int8_io_needs_a_quantized_model():
    import tensorflow as tf
    model, _, _ = zoo("binary_mlp")
    with pytest.raises(LceConvertError, match="need an int8-quantized model"):
        lce_convert.convert_keras_model(model, inference_input_type=tf.int8)
    with pytest.raises(LceConvertError, match="need an int8-quantized model"):
        lce_convert.convert_keras_model(model, inference_output_type=tf.int8)
    # A fake-quant model converted by TensorFlow without optimizations has uint8 QUANTIZE ops.
    plain = tf.lite.TFLiteConverter.from_keras_model(int8_zoo("fake_quant_bnn")[0]).convert()
    with pytest.raises(LceConvertError, match="uint8 QUANTIZE ops come from fake-quantization"):
        lce_convert.convert_tflite(plain, inference_input_type=tf.int8)


def test_int8_saved_model_and_tflite(tmp_path):
    """The SavedModel and .tflite entry points give the same int8 models as the Keras one."""
    import tensorflow as tf
    model, _, _ = int8_zoo("fake_quant_bnn")
    io = dict(inference_input_type=tf.int8, inference_output_type=tf.int8)
    from_keras = lce_convert.convert_keras_model(model, **io)
    tf.saved_model.save(model, str(tmp_path / "sm"))
    from_sm = lce_convert.convert_saved_model(str(tmp_path / "sm"), **io)
    assert_same_types(op_graph(from_sm), op_graph(from_keras))
    model, _, _ = int8_zoo("default_range_bnn")
    plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.warns(UserWarning, match="only be used for latency tests"):
        from_tflite = lce_convert.convert_tflite(plain, experimental_default_int8_range=(-3, 3), **io)
    with pytest.warns(UserWarning):
        from_keras = lce_convert.convert_keras_model(model, experimental_default_int8_range=(-3, 3), **io)
    assert_same_types(op_graph(from_tflite), op_graph(from_keras))


def test_convert_saved_model_and_tflite(tmp_path):
    import tensorflow as tf
    model, binary_layers, options = zoo("binary_mlp")
    tf.saved_model.save(model, str(tmp_path / "sm"))
    from_sm = lce_convert.convert_saved_model(str(tmp_path / "sm"))
    assert sum(l.binarized for l in from_sm.report) == len(binary_layers)
    assert_matches_keras(model, from_sm, options, seeds=(0,))
    plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    from_tflite = lce_convert.convert_tflite(plain, experimental_enable_bitpacked_activations=True)
    assert sum(l.binarized for l in from_tflite.report) == len(binary_layers)
    assert_matches_keras(model, from_tflite, options, seeds=(0,))


def test_where_form_input_quantizer():
    """A hand-written sign (tf.where) as larq input quantizer is binarized like ste_sign."""
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(3)
    where_sign = lambda t: tf.where(t < 0, -tf.ones_like(t), tf.ones_like(t))
    x = inp = tf.keras.Input((8, 8, 32))
    x = lq.layers.QuantConv2D(48, 3, padding="same", pad_values=1.0, input_quantizer=where_sign,
                              kernel_quantizer="ste_sign", use_bias=False, name="where_conv")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    model = bnn_zoo._finish(tf.keras.Model(inp, x), 3)
    converted = lce_convert.convert_keras_model(model)
    assert {l.keras_layer: l.binarized for l in converted.report} == {"where_conv": True}
    assert_matches_keras(model, converted, {})


def test_quicknet_end_to_end():
    """QuickNet's full topology (13 M parameters) at 64x64: every binary layer binarized, and
    the converted model agrees with Keras (deep random-weight nets may flip near-ties, which
    are counted and allowed; semantics.md)."""
    import sys, os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    from quicknet import quicknet
    model = quicknet(64)
    converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True)
    binary = [l for l in model.layers if type(l).__name__ == "QuantConv2D" and l.input_quantizer is not None]
    report = {l.keras_layer: l for l in converted.report}
    assert len(binary) == 16 and all(report[l.name].binarized for l in binary)
    assert_matches_keras(model, converted, {}, seeds=(0,))
