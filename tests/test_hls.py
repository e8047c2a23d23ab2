"""HLS lowering: exact thresholds (against brute force), C-simulation with g++ and the Xilinx
ap_types headers from the hls4ml wheel against the CPU runtime (our delegate) layer by layer,
folding invariance, the digits BNN (Keras = CPU = C-sim on every prediction), emitted
testbench, estimates, and clear errors."""
import json
import math
import os
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest

import bnn_zoo
from lce_convert import hls
from lce_convert.errors import HlsUnsupportedError, InvalidModelError, LceConvertError
from lce_convert.hls import exact
from lce_convert.hls.exact import Chain, INF

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="C-simulation needs g++")


def _ap_types_or_skip():
    try:
        return hls.api.ap_types_dir()
    except LceConvertError as e:
        pytest.skip(str(e))


# --- thresholds: exact rule against brute-force enumeration ------------------------------------

def _brute_tau(K, chain):
    """Smallest p with y(K - 2p) < 0 given the flip convention of binary_tau, by enumeration of
    every accumulator value in exact rationals."""
    flip = chain.M < 0
    bits = []
    for p in range(K + 1):
        conv = K - 2 * p
        y = chain.value(-conv if flip else conv)
        bits.append(y < 0)
    return bits, flip


def _check_tau(K, chain):
    tau, flip = exact.binary_tau(K, chain)
    bits, bflip = _brute_tau(K, chain)
    assert flip == bflip
    assert 0 <= tau <= K + 1
    assert bits == [p >= tau for p in range(K + 1)], (K, chain.M, chain.B, tau)
    # narrowest unsigned container for [0, K+1]
    assert exact.uint_bits(K + 1) == max(1, (K + 1).bit_length())


@pytest.mark.parametrize("K", [1, 2, 9, 63, 64, 1152, 4608])
def test_binary_thresholds_match_brute_force(K):
    rng = np.random.default_rng(K)
    f32 = np.float32
    scales = [f32(1.0), f32(-1.0), f32(0.0), f32(-0.0), f32(1e-30), f32(-1e-30), f32(1e-38), f32(3e38),
              f32(0.37), f32(-2.5e-7)]
    biases = [f32(0.0), f32(1e30), f32(-1e30), f32(0.5), f32(-0.5), f32(K / 3), f32(-K / 7), f32(1e-45)]
    cases = [(m, b) for m in scales for b in biases]
    cases += [(f32(rng.normal() * 10 ** rng.uniform(-8, 3)), f32(rng.normal() * 10 ** rng.uniform(-6, 4)))
              for _ in range(40)]
    for m, b in cases:
        for lo, hi in ((-INF, INF), (0, INF), (0, 6), (-1, 1)):
            ch = Chain().clamp(lo, hi).mul(exact.exact(m)).add(exact.exact(b))
            _check_tau(K, ch)


def test_thresholds_at_ties_and_parity():
    # y = conv*m + b with -b/m exactly on an achievable conv value: a tie gives +1 (bit 0).
    for K in (8, 9):
        for t in range(-K, K + 1):
            ch = Chain().mul(Fraction(1, 4)).add(Fraction(-t, 4))
            tau, _ = exact.binary_tau(K, ch)
            for p in range(K + 1):
                assert (p >= tau) == (K - 2 * p < t)


def test_thresholds_agree_with_the_converter():
    """Two independent exact implementations: the HLS lowering's (Python, Fraction) and the
    converter's (C++, APInt) give the same thresholds for non-negative multipliers."""
    from lce_convert import _core
    rng = np.random.default_rng(7)
    for _ in range(300):
        K = int(rng.integers(1, 5000))
        m = np.float32(abs(rng.normal()) * 10 ** rng.uniform(-6, 2))
        b = np.float32(rng.normal() * 10 ** rng.uniform(-3, 4))
        lo, hi = [(-K, K), (0, K), (0, min(6, K)), (-1, 1)][int(rng.integers(4))]
        ch = Chain().clamp(lo, hi).mul(exact.exact(m)).add(exact.exact(b))
        tau, flip = exact.binary_tau(K, ch)
        assert not flip
        assert tau == _core.bitpacked_threshold(K, lo, hi, float(m), float(b)) + 1


def test_chain_collapse_is_exact():
    rng = np.random.default_rng(3)
    for _ in range(200):
        ch, steps = Chain(), []
        for _ in range(int(rng.integers(1, 6))):
            kind = int(rng.integers(3))
            if kind == 0:
                v = exact.exact(np.float32(rng.normal() * 3))
                ch.mul(v)
                steps.append(("mul", v))
            elif kind == 1:
                v = exact.exact(np.float32(rng.normal() * 3))
                ch.add(v)
                steps.append(("add", v))
            else:
                lo, hi = sorted(exact.exact(np.float32(v)) for v in rng.normal(0, 3, 2))
                ch.clamp(lo, hi)
                steps.append(("clamp", lo, hi))
        for v in range(-20, 21):
            y = Fraction(v)
            for s in steps:
                y = y * s[1] if s[0] == "mul" else y + s[1] if s[0] == "add" else min(max(y, s[1]), s[2])
            assert ch.value(v) == y


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
    compared_bits = 0
    for r in rows:
        assert "error" not in r, r
        if r["kind"] == "bits":
            assert r["mismatches"] == 0, r
            compared_bits += 1
        elif "max_abs_cpu" in r:
            # fixed point: the exact value rounded once to its type (half an LSB) vs the CPU's
            # float32 evaluation (a few float32 ulps of the magnitudes involved)
            assert r["max_abs_diff"] <= r["lsb"] / 2 + 2e-6 * max(1.0, r["max_abs_cpu"]), r
    assert compared_bits >= 1
    # every binary unit in the report, with folding and cycles
    kinds = [row["kind"] for row in project.report["layers"]]
    assert "bmvau" in kinds
    for row in project.report["layers"]:
        if row["kind"] in ("bmvau", "fmvau"):
            assert row["cycles"] == row["pixels"] * (row["channels_out"] // row["pe"]) * \
                (row["taps"] * row["channels_in"] // row["groups"] // row["simd"])


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
    small = folding.report(hls.lower(model, lut_budget=8000))["totals"]
    big = folding.report(hls.lower(model, lut_budget=40000))["totals"]
    assert small["lut_estimate"] <= 8000 and big["lut_estimate"] <= 40000
    assert big["initiation_interval_cycles"] < small["initiation_interval_cycles"]
    with pytest.raises(LceConvertError, match="budget"):
        hls.lower(model, lut_budget=10)


def test_estimates_golden():
    """Regression guard on the analytic model for one reference network (default folding)."""
    from lce_convert.hls import folding
    rep = folding.report(hls.lower(converted("binary_mlp", True)))
    rows = {r["name"]: r for r in rep["layers"]}
    b0 = rows["bconv0"]  # 96 -> 70 binary dense, PE 1, SIMD 32: WMEM = 70*96/32 = 210
    assert (b0["pe"], b0["simd"], b0["cycles"]) == (1, 32, 210)
    acc_w = (96 + 1).bit_length()
    lut = 300 + 1.1 * (2 * 32 + 2 * 63 + 2 * acc_w + acc_w * math.ceil(70 / 64))
    assert b0["lut_estimate"] == int(round(lut)) and b0["bram18_estimate"] == 32 and b0["dsp_estimate"] == 0
    t = rep["totals"]
    assert t["initiation_interval_cycles"] == max(r["cycles"] for r in rep["layers"])
    assert "estimate" in t["note"]


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
    signs = [u for u in p.design.units if u.kind == "fmvau"][0].name
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
    with pytest.raises(HlsUnsupportedError, match="(?i)layer .*squash.*tanh"):
        hls.lower(lce_convert.convert_keras_model(m))
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
