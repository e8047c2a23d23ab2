"""HLS lowering: C-simulation with g++ and the Xilinx ap_types headers from the hls4ml wheel
against the CPU runtime (our delegate) layer by layer on the converter zoo (both activation
modes), a DenseNet-style model with concatenation and zero padding at odd channel counts, the
design following the converted graph, folding invariance, the digits BNN (Keras = CPU = C-sim on
every prediction), emitted testbench, estimates checked against the part, and clear errors.
The templates themselves are tested one by one in test_hls_templates.py."""
import json
import math
import os
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest

import bnn_zoo
import models
from lce_convert import hls
from lce_convert.errors import HlsUnsupportedError, InvalidModelError, LceConvertError
from lce_convert.hls import exact

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="C-simulation needs g++")


def _ap_types_or_skip():
    try:
        return hls.api.ap_types_dir()
    except LceConvertError as e:
        pytest.skip(str(e))


def assert_matches_cpu(rows):
    """hls.compare's rows: no error, binary layers bit for bit, fixed-point layers within half an
    LSB of the C-sim type (plus float32 rounding of the CPU's value)."""
    for r in rows:
        assert "error" not in r, r
        if r["kind"] == "bits":
            assert r["mismatches"] == 0, r
        elif "max_abs_cpu" in r:
            assert r["max_abs_diff"] <= r["lsb"] / 2 + 2e-6 * max(1.0, r["max_abs_cpu"]), r


def test_fixed_types_and_literals():
    t = exact.parse_fixed("ap_fixed<16, 8, AP_RND_CONV, AP_SAT>")
    assert (t.W, t.I, t.q, t.o) == (16, 8, "AP_RND_CONV", "AP_SAT")
    assert t.holds(Fraction(-128)) and not t.holds(Fraction(128)) and t.holds(Fraction(1, 256))
    f = exact.format_for([Fraction(3, 8), Fraction(-5), Fraction(2) ** 30])
    assert all(f.holds(v) for v in (Fraction(3, 8), Fraction(-5), Fraction(2) ** 30)) and f.F == 3
    for bad in ("ap_fixed<16>", "float", "ap_fixed<16,8,AP_ROUND>", "ap_fixed<80,8>"):
        with pytest.raises(ValueError):
            exact.parse_fixed(bad)
    q = Fraction(2) ** 60 + Fraction(1, 2 ** 40)  # needs more than a double's 53 bits
    assert "+" in exact.cpp_literal(q, "T")


# --- C-simulation of the converter zoo against the CPU runtime -------------------------------

SUPPORTED = sorted(bnn_zoo.ZOO)  # all eight architectures, shortcuts and pooling included
_converted = {}


def converted(name, bitpacked):
    key = (name, bitpacked)
    if key not in _converted:
        import lce_convert
        model = bnn_zoo.ZOO[name]()[0]
        _converted[key] = bytes(lce_convert.convert_keras_model(
            model, experimental_enable_bitpacked_activations=bitpacked))
    return _converted[key]


def _grid_inputs(shape, n, seed):
    rng = np.random.default_rng(seed)
    return (np.round(rng.normal(0, 1.5, (n, *shape)) * 64) / 64).astype(np.float32)


@needs_gxx
@pytest.mark.parametrize("bitpacked", [True, False])
@pytest.mark.parametrize("name", SUPPORTED)
def test_zoo_csim_matches_cpu_layer_by_layer(name, bitpacked, tmp_path):
    _ap_types_or_skip()
    model = converted(name, bitpacked)
    project = hls.export(model, str(tmp_path / "prj"))
    meta = json.loads((tmp_path / "prj" / "design.json").read_text())
    x = _grid_inputs(meta["model_input_shape"][1:], 3, seed=len(name))
    assert np.array_equal(hls.quantize_input(x, meta["input"]["type"]), x)  # on the grid
    rows = hls.compare(project, model, x)
    # fixed point: the exact value rounded once to its type (half an LSB) vs the CPU's float32
    # evaluation (a few float32 ulps of the magnitudes involved)
    assert_matches_cpu(rows)
    assert sum(r["kind"] == "bits" for r in rows) >= 1
    # every binary unit in the report, with folding and cycles
    kinds = [row["kind"] for row in project.report["layers"]]
    assert "bmvau" in kinds
    for row in project.report["layers"]:
        if row["kind"] in ("bmvau", "fmvau"):
            # one pipelined loop (window reads overlapped) plus the assumed pipeline fill
            assert row["cycles"] == row["pixels"] * (row["channels_out"] // row["pe"]) * \
                (row["taps"] * row["channels_in"] // row["groups"] // row["simd"]) + \
                4 + max(1, math.ceil(math.log2(row["simd"])))


@needs_gxx
def test_folding_does_not_change_results(tmp_path):
    _ap_types_or_skip()
    model = converted("binary_mlp", True)
    x = _grid_inputs((8, 8, 1), 4, seed=1)
    outs, folds = [], []
    for i, cfg in enumerate([{}, dict(target_cycles=300),
                             dict(layers={"bconv0": dict(pe=7, simd=3), "bconv1": dict(pe=16, simd=35)})]):
        p = hls.export(model, str(tmp_path / ("f%d" % i)), **cfg)
        folds.append([(r["pe"], r["simd"]) for r in p.report["layers"] if "pe" in r])
        outs.append(hls.csim(p, x))
    assert len(set(map(tuple, folds))) == 3
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


def test_folding_targets():
    model = converted("xnornet_like", True)
    slow = hls.lower(model)
    fast = hls.lower(model, target_cycles=4096)
    for u in fast.mvaus():
        assert u.cycles() <= 4096 or u.notes
    ii_fast = max(u.cycles() for u in fast.mvaus())
    assert ii_fast < max(u.cycles() for u in slow.mvaus())
    from lce_convert.hls import folding
    # (the cheapest folding of this design is estimated at about 10.6k LUTs)
    small = folding.report(hls.lower(model, lut_budget=12000))["totals"]
    big = folding.report(hls.lower(model, lut_budget=40000))["totals"]
    assert small["lut_estimate"] <= 12000 and big["lut_estimate"] <= 40000
    assert big["initiation_interval_cycles"] < small["initiation_interval_cycles"]
    with pytest.raises(LceConvertError, match="budget"):
        hls.lower(model, lut_budget=10)


def test_estimates_golden():
    """Regression guard on the analytic model for one reference network (default folding)."""
    from lce_convert.hls import folding
    rep = folding.report(hls.lower(converted("binary_mlp", True)))
    rows = {r["name"]: r for r in rep["layers"]}
    b0 = rows["bconv0"]  # 96 -> 70 binary dense, PE 1, SIMD 32: WMEM = 70*96/32 = 210
    # 210 loop iterations + the assumed fill (4 + log2(SIMD))
    assert (b0["pe"], b0["simd"], b0["cycles"]) == (1, 32, 210 + 4 + 5)
    acc_w = 96 .bit_length() + 1  # the signed +-1 dot product in [-96, 96]
    lut = 300 + 1.1 * (2 * 32 + 2 * 63 + 2 * acc_w + acc_w * math.ceil(70 / 64))
    assert b0["lut_estimate"] == int(round(lut)) and b0["bram18_estimate"] == 32
    assert b0["dsp_estimate"] == 1  # its float output stage: one multiplier per PE (BN scale)
    swu = rows["bconv0_swu"]  # a 1x1 window on one pixel: 1 read + 1 tap + 2 loop fills of 3
    assert swu["cycles"] == 1 + 1 + 2 * 3
    t = rep["totals"]
    assert t["initiation_interval_cycles"] == max(r["cycles"] for r in rep["layers"])
    assert "estimate" in t["note"] and "window reads" in t["cycle_note"] and "fill" in t["cycle_note"]
    assert t["part_resources"] == dict(lut=70560, bram18=432, dsp=360) and t["fits"]
    assert t["utilization"]["lut"] == t["lut_estimate"] / 70560


# --- emitted project: compiles, testbench returns 0 -----------------------------------------

@needs_gxx
def test_emitted_project_builds_and_testbench_checks(tmp_path):
    ap = _ap_types_or_skip()
    model = converted("maxpool_binary", True)
    out = tmp_path / "prj"
    hls.export(model, str(out))
    for f in ("firmware/top.cpp", "firmware/top.h", "firmware/params.h", "firmware/lce_hls.h",
              "tb/testbench.cpp", "synth.tcl", "report.txt"):
        assert (out / f).is_file(), f
    top = (out / "firmware" / "top.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top and "hls::stream" in top
    tcl = (out / "synth.tcl").read_text()
    assert "set_top lce_top" in tcl and "csynth_design" in tcl
    r = subprocess.run(["sh", str(out / "build_csim.sh")], env=dict(os.environ, AP_TYPES=ap),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "error" not in r.stderr
    x = _grid_inputs((20, 20, 16), 2, seed=5)
    y = hls.csim(str(out), x)
    np.ascontiguousarray(x, "<f8").tofile(out / "in.bin")
    (out / "expected.bin").write_bytes(np.ascontiguousarray(y, "<f8").tobytes())
    r = subprocess.run([str(out / "csim"), str(out / "in.bin"), str(out / "got.bin"), str(out / "expected.bin")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wrong = bytearray((out / "expected.bin").read_bytes())
    wrong[8] ^= 1
    (out / "wrong.bin").write_bytes(bytes(wrong))
    r = subprocess.run([str(out / "csim"), str(out / "in.bin"), str(out / "got.bin"), str(out / "wrong.bin")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "differs" in r.stderr


# --- large thresholds: exact where float32 is not ---------------------------------------------

def _big_threshold_model():
    """Dense(4 -> 2) with weights [1,1,1,1] / [-1,-1,-1,-1] and biases -(2^24 + 2) / +(2^24 + 2)
    feeding a binary dense layer: the sign decision sits at an accumulator near 2^24, where
    float32 has a spacing of 2."""
    import tensorflow as tf
    import larq as lq
    inp = tf.keras.Input((4,))
    h = tf.keras.layers.Dense(2, name="big")(inp)
    out = lq.layers.QuantDense(2, input_quantizer="ste_sign", kernel_quantizer="ste_sign", use_bias=False,
                               name="bin")(h)
    m = tf.keras.Model(inp, out)
    m.get_layer("big").set_weights([np.array([[1, -1]] * 4, np.float32),
                                    np.array([-(2 ** 24 + 2), 2 ** 24 + 2], np.float32)])
    m.get_layer("bin").set_weights([np.array([[1, -1], [1, 1]], np.float32)])
    return m


@needs_gxx
def test_thresholds_near_2_pow_24_are_exact(tmp_path):
    _ap_types_or_skip()
    import lce_convert
    model = lce_convert.convert_keras_model(_big_threshold_model())
    p = hls.export(model, str(tmp_path / "prj"), input_type="ap_fixed<40,30>")
    base = float(2 ** 22)
    rows = []
    for frac in (0, 1, 2, 3, 4, 5, 6, 7, 8, 12):  # acc = 2^24 + frac/4
        rows.append([base, base, base, base + frac / 4])
    x = np.array(rows)
    _, traces = hls.csim(p, x, trace=True)
    # the dense layer's exact value (saturated to the intermediate type: its sign is kept),
    # then the lq.Quantize's sign unit
    assert [u.kind for u in p.design.units][:3] == ["swu", "fmvau", "sign"]
    signs = [u for u in p.design.units if u.kind == "sign"][0].name
    bits = traces[signs].reshape(len(rows), -1)[:, 0]
    for (a, b, c, d), w in zip(rows, bits):
        acc = Fraction(a) + Fraction(b) + Fraction(c) + Fraction(d)
        ch0 = acc - (2 ** 24 + 2) < 0      # unit 0: acc - (2^24+2)
        ch1 = -acc + (2 ** 24 + 2) < 0     # unit 1: -acc + (2^24+2)
        assert (int(w) & 1) == int(ch0) and ((int(w) >> 1) & 1) == int(ch1), (acc, w)
    # float32 cannot tell these apart: 2^24 + 1.75 and 2^24 + 2 round to the same value
    assert np.float32(2 ** 24 + 1.75) == np.float32(2 ** 24 + 2)


# --- a BNN trained on scikit-learn's digits, with zero padding --------------------------------

@needs_gxx
def test_digits_bnn_keras_cpu_csim_agree(tmp_path):
    _ap_types_or_skip()
    sklearn = pytest.importorskip("sklearn.datasets")
    import tensorflow as tf
    import larq as lq
    import lce_convert
    digits = sklearn.load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]   # multiples of 1/16 in [0, 1]
    y = digits.target
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    tr, te = idx[:1400], idx[1400:]
    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    q = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
             use_bias=False)
    model = tf.keras.Sequential([
        tf.keras.Input((8, 8, 1)),
        L.Conv2D(16, 3, padding="same", use_bias=False, name="first"),
        L.BatchNormalization(),
        lq.layers.QuantConv2D(32, 3, padding="same", name="zero_padded", **q),  # zero padding, binary input
        L.BatchNormalization(),
        L.MaxPool2D(2),
        lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, name="one_padded", **q),
        L.BatchNormalization(),
        L.Flatten(),
        lq.layers.QuantDense(10, name="classifier", **q),
        L.BatchNormalization(),
    ])
    model.compile(tf.keras.optimizers.Adam(0.01), tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x[tr], y[tr], epochs=6, batch_size=64, verbose=0)
    keras_logits = model.predict(x[te], verbose=0)
    keras_pred = keras_logits.argmax(-1)
    keras_acc = float(np.mean(keras_pred == y[te]))
    assert keras_acc > 0.6  # it learned something

    converted_model = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True)
    binarized = {r.keras_layer for r in converted_model.report.binarized}
    assert {"zero_padded", "one_padded", "classifier"} <= binarized
    cpu_logits = lce_convert.Interpreter(bytes(converted_model)).predict(x[te])
    cpu_pred = cpu_logits.argmax(-1)

    project = hls.export(converted_model, str(tmp_path / "digits"), input_type="ap_fixed<8,2,AP_RND_CONV,AP_SAT>")
    assert any(u.kind == "bmvau" and u.zero_pad for u in project.design.units)
    sim_logits = hls.csim(project, x[te])
    sim_pred = sim_logits.argmax(-1)

    assert np.array_equal(keras_pred, cpu_pred)
    assert np.array_equal(cpu_pred, sim_pred)
    assert float(np.mean(sim_pred == y[te])) == keras_acc
    assert np.max(np.abs(sim_logits - cpu_logits)) <= 2.0 ** -16
    # binary layers bit for bit, layer by layer
    for r in hls.compare(project, bytes(converted_model), x[te][:40]):
        if r["kind"] == "bits":
            assert r["mismatches"] == 0, r


# --- bad input ------------------------------------------------------------------------------

def test_bad_options_and_inputs(tmp_path):
    model = converted("binary_mlp", True)
    with pytest.raises(LceConvertError, match="unknown HLS option"):
        hls.lower(model, tagret_cycles=3)
    with pytest.raises(LceConvertError, match="input_type"):
        hls.lower(model, input_type="float32")
    with pytest.raises(LceConvertError, match="target_cycles"):
        hls.lower(model, target_cycles=-5)
    with pytest.raises(LceConvertError, match="either"):
        hls.lower(model, target_cycles=100, lut_budget=100)
    with pytest.raises(LceConvertError, match="matches no layer"):
        hls.lower(model, layers={"nonexistent": dict(pe=2)})
    with pytest.raises(LceConvertError, match="pe=3 must divide"):
        hls.lower(model, layers={"bconv0": dict(pe=3)})
    with pytest.raises(LceConvertError, match="simd"):
        hls.lower(model, layers={"bconv0": dict(simd=7)})
    with pytest.raises(InvalidModelError):
        hls.lower(b"not a model at all")
    with pytest.raises(LceConvertError, match="expected .tflite bytes"):
        hls.lower(12345)
    with pytest.raises(LceConvertError, match="not an exported HLS project"):
        hls.csim(str(tmp_path), np.zeros((1, 8, 8, 1)))
    p = hls.export(model, str(tmp_path / "prj"))
    with pytest.raises(LceConvertError, match="does not match the model input"):
        hls.csim(p, np.zeros((2, 7, 7, 1)))


def test_unsupported_layer_is_named_and_float_models_lower():
    import tensorflow as tf
    import lce_convert
    m = tf.keras.Sequential([tf.keras.Input((4, 4, 2)), tf.keras.layers.Conv2D(4, 3, name="conv"),
                             tf.keras.layers.Activation("tanh", name="squash"), tf.keras.layers.Dense(3)])
    with pytest.raises(HlsUnsupportedError, match="(?i)layer .*squash.*tanh") as e:
        hls.lower(lce_convert.convert_keras_model(m))
    # the message lists what does lower
    assert "ops that lower:" in str(e.value)
    for op in ("lq.Bconv2d", "lq.BMaxPool2d", "lq.Quantize", "tfl.concatenation", "tfl.conv_2d", "tfl.softmax"):
        assert op in str(e.value)
    # no binary layer, a final softmax: a fixed-point design whose softmax runs on the host
    m = tf.keras.Sequential([tf.keras.Input((4, 4, 2)), tf.keras.layers.Conv2D(4, 3), tf.keras.layers.Softmax()])
    d = hls.lower(lce_convert.convert_keras_model(m))
    assert [u.kind for u in d.units] == ["swu", "fmvau"] and d.host_softmax == 1.0


def test_cli_hls(tmp_path, capsys):
    from lce_convert.cli import main
    path = tmp_path / "m.tflite"
    path.write_bytes(converted("binary_mlp", True))
    assert main(["hls", str(path), "-o", str(tmp_path / "out"), "--target-cycles", "500"]) == 0
    out = capsys.readouterr().out
    assert "bmvau" in out and "estimates" in out
    assert (tmp_path / "out" / "firmware" / "top.cpp").is_file()
    assert main(["hls", str(path), "-o", str(tmp_path / "o2"), "--input-type", "int"]) == 1
    assert "input_type" in capsys.readouterr().err


@needs_gxx
@pytest.mark.parametrize("otype", ["ap_fixed<6,4,AP_TRN,AP_SAT>", "ap_fixed<6,4,AP_RND_CONV,AP_WRAP>",
                                   "ap_fixed<12,6,AP_RND,AP_SAT_SYM>"])
def test_output_rounding_and_saturation_modes(otype, tmp_path):
    """Fixed-point outputs are the exact value cast once to the configured type: compare with
    numpy's model of the same quantization/overflow mode applied to the CPU's values (integer
    logits here, so the CPU's float32 values are exact)."""
    _ap_types_or_skip()
    model = converted("binary_mlp", True)  # last layer: no BN, integer +-1 dot products
    p = hls.export(model, str(tmp_path / "prj"), layers={"bconv2": dict(output_type=otype)})
    x = _grid_inputs((8, 8, 1), 6, seed=11)
    from lce_convert import Interpreter
    cpu = Interpreter(model).predict(x).astype(np.float64)
    assert np.array_equal(cpu, np.round(cpu)) and np.abs(cpu).max() > 8  # some values overflow the type
    assert np.array_equal(hls.csim(p, x), hls.quantize_input(cpu, otype))


@needs_gxx
def test_lce_converted_model_lowers_too(tmp_path):
    """LCE 0.16's converter output (same Lce* ops) lowers and matches the CPU runtime."""
    _ap_types_or_skip()
    import larq_compute_engine as lce
    model = bytes(lce.convert_keras_model(bnn_zoo.ZOO["maxpool_binary"]()[0]))
    p = hls.export(model, str(tmp_path / "prj"))
    rows = hls.compare(p, model, _grid_inputs((20, 20, 16), 2, seed=9))
    assert any(r["kind"] == "bits" for r in rows)
    for r in rows:
        if r["kind"] == "bits":
            assert r["mismatches"] == 0, r
        elif r["name"] == "output":
            assert r["max_abs_diff"] <= 2.0 ** -16, r


@needs_gxx
def test_dequantized_bits_feed_a_fixed_point_classifier(tmp_path):
    """Binary conv -> sign -> Flatten -> float Dense: the bits are dequantized to +-1 and the
    classifier accumulates the float32 weights exactly."""
    _ap_types_or_skip()
    import tensorflow as tf
    import larq as lq
    import lce_convert
    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    inp = tf.keras.Input((6, 6, 4))
    x = L.Conv2D(8, 3, padding="same")(inp)
    x = lq.layers.QuantConv2D(16, 3, padding="same", pad_values=1.0, input_quantizer="ste_sign",
                              kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False)(x)
    x = L.Activation(lq.quantizers.SteSign())(x)
    x = L.Dense(5)(L.Flatten()(x))
    model = lce_convert.convert_keras_model(tf.keras.Model(inp, x), experimental_enable_bitpacked_activations=True)
    p = hls.export(model, str(tmp_path / "prj"))
    assert "dequantize" in [u.kind for u in p.design.units]
    for r in hls.compare(p, bytes(model), _grid_inputs((6, 6, 4), 3, seed=2)):
        if r["kind"] == "bits":
            assert r["mismatches"] == 0, r
        elif "max_abs_cpu" in r:
            assert r["max_abs_diff"] <= r["lsb"] / 2 + 2e-6 * max(1.0, r["max_abs_cpu"]), r


# --- the design follows the converted graph, one op to one unit --------------------------------

def _graph_ops(model):
    from lce_convert import mlir
    return [(layer["op"], layer["results"][0]["id"], layer["results"][0]["type"]["elem"])
            for layer in mlir.import_tflite(model).layers()]


@pytest.mark.parametrize("name", SUPPORTED)
def test_design_follows_the_converted_graph(name):
    """Every op of the converted graph is one unit (plus its sliding window and forks; a
    reshape that keeps the layout is none), so the bitpacked-activations flag changes the
    design exactly where it changes the graph."""
    designs, graphs = {}, {}
    for bitpacked in (True, False):
        model = converted(name, bitpacked)
        graphs[bitpacked] = _graph_ops(model)
        designs[bitpacked] = hls.lower(model, part="xczu9eg-ffvb1156-2-e")
        units = [u for u in designs[bitpacked].units if u.kind not in ("swu", "fork")]
        values = [u.output.cpu_tensor[0] for u in units]  # the op result each unit computes
        assert len(values) == len(set(values))  # no op became two units
        for op, value, _ in graphs[bitpacked]:
            if op != "tfl.reshape":
                assert values.count(value) == 1, (op, value)
        elem = {v: e for _, v, e in graphs[bitpacked]}
        for u in units:  # thresholds exactly where the graph has bitpacked output
            if u.kind == "bmvau":
                assert (u.thresholds is not None) == (elem[u.output.cpu_tensor[0]] == "i32")
    same_graph = [(o, e) for o, _, e in graphs[True]] == [(o, e) for o, _, e in graphs[False]]
    kinds = {bp: [(u.kind, u.thresholds is not None if u.kind == "bmvau" else None) for u in designs[bp].units]
             for bp in (True, False)}
    assert (kinds[True] == kinds[False]) == same_graph
    if name == "maxpool_binary":  # max-pool on bits and thresholds only with bitpacked activations
        assert not same_graph
        assert "bmaxpool" in [k for k, _ in kinds[True]] and "maxpool" not in [k for k, _ in kinds[True]]
        assert "maxpool" in [k for k, _ in kinds[False]] and ("bmvau", True) not in kinds[False]


# --- DenseNet-style: concatenation, zero padding with odd channel counts ----------------------

def _densenet_like(seed=21):
    """BinaryDenseNet blocks (x = concat(x, BN(QuantConv(x)))) growing 15 -> 22 -> 29 channels,
    then binary convs to 10, 9 and 8 channels, all zero-padded: odd channel counts per group at
    15, 29 and 9 (float output: the converter thresholds zero-padded convs only at even counts,
    which `mid` has, with lce_compatible=False)."""
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(seed)
    L = tf.keras.layers
    q = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
             use_bias=False, padding="same")
    x = inp = tf.keras.Input((8, 8, 3))
    x = L.Conv2D(15, 3, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization()(x)
    for i in range(2):
        y = lq.layers.QuantConv2D(7, 3, name="dense_block%d" % i, **q)(x)
        y = L.BatchNormalization()(y)
        x = L.Concatenate(name="concat%d" % i)([x, y])
    x = lq.layers.QuantConv2D(10, 3, name="transition", **q)(x)
    x = L.BatchNormalization()(x)
    x = lq.layers.QuantConv2D(9, 3, name="mid", **q)(x)
    x = L.BatchNormalization()(x)
    x = lq.layers.QuantConv2D(8, 3, name="last", **q)(x)
    x = L.BatchNormalization()(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10, name="logits")(x)
    return models._randomize_batchnorm(tf.keras.Model(inp, x), seed)


@needs_gxx
@pytest.mark.parametrize("bitpacked", [True, False])
def test_densenet_concat_and_odd_zero_padding_match_cpu(bitpacked, tmp_path):
    _ap_types_or_skip()
    import lce_convert
    model = bytes(lce_convert.convert_keras_model(_densenet_like(), lce_compatible=False,
                                                  experimental_enable_bitpacked_activations=bitpacked))
    project = hls.export(model, str(tmp_path / "prj"))
    units = project.design.units
    assert [u.kind for u in units].count("concat") == 2
    zero_padded = [u for u in units if u.kind == "bmvau" and u.zero_pad]
    assert sorted(u.cg for u in zero_padded) == [9, 10, 15, 22, 29]  # odd counts: 9, 15, 29
    # thresholded bits from a zero-padded conv exactly when the converter made them
    assert [u.cg for u in zero_padded if u.thresholds is not None] == ([10] if bitpacked else [])
    x = _grid_inputs((8, 8, 3), 3, seed=4)
    rows = hls.compare(project, model, x)
    assert_matches_cpu(rows)
    assert sum(r["kind"] == "bits" for r in rows) >= 4
    assert {r["source"] for r in rows if r["name"].startswith("concat")}  # the concatenations are compared


# --- "convert it first" ---------------------------------------------------------------------

def test_unconverted_models_are_refused_with_convert_first():
    import tensorflow as tf
    import larq as lq
    m = tf.keras.Sequential([tf.keras.Input((6, 6, 4)),
                             lq.layers.QuantConv2D(8, 3, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                                                   kernel_constraint="weight_clip", use_bias=False)])
    with pytest.raises(LceConvertError, match="convert it first"):
        hls.lower(m)
    plain = tf.lite.TFLiteConverter.from_keras_model(m).convert()  # TensorFlow's converter, not ours
    with pytest.raises(HlsUnsupportedError, match="(?i)not been converted.*tfl.sign.*convert it first"):
        hls.lower(plain)


# --- estimates against the part ---------------------------------------------------------------

def test_estimates_are_checked_against_the_part():
    import warnings
    from lce_convert.hls import folding
    model = converted("quicknet_like", True)
    with pytest.warns(hls.HlsFitWarning, match="does not fit xczu3eg.*DSP"):
        d = hls.lower(model)
    t = folding.report(d)["totals"]
    assert t["dsp_estimate"] > 360 and t["fits"] is False
    assert "DOES NOT FIT" in folding.format_report(folding.report(d))
    # lut_budget refolds within the budget and the part's LUT/BRAM/DSP
    with warnings.catch_warnings():
        warnings.simplefilter("error", hls.HlsFitWarning)
        d = hls.lower(model, lut_budget=60000)
    t = folding.report(d)["totals"]
    assert t["fits"] and t["lut_estimate"] <= 60000 and t["dsp_estimate"] <= 360
    # a larger part fits the default folding; an unknown part is said to be unchecked
    with warnings.catch_warnings():
        warnings.simplefilter("error", hls.HlsFitWarning)
        d = hls.lower(model, part="xczu9eg-ffvb1156-2-e")
    assert folding.report(d, part="xczu9eg-ffvb1156-2-e")["totals"]["fits"]
    d = hls.lower(model, part="xc7a35t-cpg236-1")
    rep = folding.report(d, part="xc7a35t-cpg236-1")
    assert rep["totals"]["fits"] is None and "not checked" in rep["totals"]["fit_notes"][0]


# --- MeliusNet-style: grouped float convs, SPLIT, 4-way concatenation, channel padding ----------

def _meliusnet_like(seed=23):
    """larq_zoo's MeliusNet ops at toy size: a grouped float conv, a grouped conv made by hand
    (tf.split, one conv per part, a 4-way concatenation), max-pool with a fused ReLU, a
    DenseNet concatenation, and an improvement block whose output is zero-padded in channels
    (tf.pad) and added to the last channels."""
    import tensorflow as tf
    import larq as lq
    tf.keras.utils.set_random_seed(seed)
    L = tf.keras.layers
    q = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
             use_bias=False, padding="same")
    x = inp = tf.keras.Input((8, 8, 4))
    x = L.Conv2D(16, 3, padding="same", groups=4, use_bias=False, name="grouped_stem")(x)
    parts = L.Lambda(lambda t: tf.split(t, 4, axis=-1), name="split")(x)
    x = L.Concatenate(name="concat4")([L.Conv2D(4, 3, padding="same", name="part%d" % i)(p)
                                       for i, p in enumerate(parts)])
    x = L.BatchNormalization()(x)
    x = L.MaxPool2D(2)(x)
    x = L.Activation("relu")(x)
    y = lq.layers.QuantConv2D(8, 3, name="dense_part", **q)(L.BatchNormalization()(x))
    x = L.Concatenate()([x, y])  # 24 channels
    y = lq.layers.QuantConv2D(8, 3, name="improvement", **q)(L.BatchNormalization()(x))
    y = L.Lambda(lambda t: tf.pad(t, [[0, 0], [0, 0], [0, 0], [16, 0]]), name="channel_pad")(y)
    x = L.Add()([x, y])
    x = L.BatchNormalization()(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10, name="logits")(x)
    return models._randomize_batchnorm(tf.keras.Model(inp, x), seed)


@needs_gxx
def test_meliusnet_like_split_concat_pad_match_cpu(tmp_path):
    _ap_types_or_skip()
    import lce_convert
    model = bytes(lce_convert.convert_keras_model(_meliusnet_like(), experimental_enable_bitpacked_activations=True))
    ops = [op for op, _, _ in _graph_ops(model)]
    assert {"tfl.pad", "tfl.concatenation", "tfl.max_pool_2d"} <= set(ops)
    project = hls.export(model, str(tmp_path / "prj"))
    kinds = [u.kind for u in project.design.units]
    assert {"split", "concat", "pad"} <= set(kinds)
    assert any(u.kind == "concat" and len(u.inputs) == 4 for u in project.design.units)
    assert any(u.kind == "fmvau" and u.groups == 4 for u in project.design.units)  # the grouped float conv
    assert any(u.kind == "maxpool" and u.post == (0, None) for u in project.design.units)  # its fused ReLU
    rows = hls.compare(project, model, _grid_inputs((8, 8, 4), 3, seed=6))
    assert_matches_cpu(rows)
    assert {"split0", "pad0", "maxpool0"} <= {r["name"] for r in rows}


@needs_gxx
def test_csim_shows_progress(tmp_path, capfd):
    """csim(verbose=1): the g++ build, then a bar over the frames on stderr; the same outputs."""
    _ap_types_or_skip()
    project = hls.export(converted("maxpool_binary", True), str(tmp_path / "prj"))
    x = _grid_inputs((20, 20, 16), 3, seed=6)
    loud = hls.csim(project, x, verbose=1)
    err = capfd.readouterr().err
    assert "C-simulation: building" in err and "C-simulation: built in" in err
    assert "3/3" in err  # tqdm's count of the frames
    np.testing.assert_array_equal(hls.csim(project, x), loud)
    assert "C-simulation" not in capfd.readouterr().err
