"""lce_kernels against an independent numpy reference of semantics.md.

The reference does not use bits at all: it unpacks to +-1 floats, pads with +1 (one padding) or
0 (zero padding) and computes the convolution as a float sum of products (exact in float64 for
these integers), then applies the output transform. Every kernel runs on every ISA path this
machine supports (the others are skipped, visibly)."""
import numpy as np
import pytest

from lce_convert import _kernels as K

ALL_ISAS = ["portable", "popcnt", "avx2", "avx512"]


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    if request.param not in K.supported_isas():
        pytest.skip("%s is not supported on this machine" % request.param)
    previous = K.active_isa()
    K.set_isa(request.param)
    yield request.param
    K.set_isa(previous)


def ref_bitpack(x, zero_point=0):
    bits = (x < zero_point) if x.dtype == np.int8 else (x < 0)
    c = x.shape[-1]
    words = np.zeros(x.shape[:-1] + ((c + 31) // 32,), np.uint64)
    for i in range(c):
        words[..., i // 32] |= bits[..., i].astype(np.uint64) << np.uint64(i % 32)
    return words.astype(np.uint32).view(np.int32)


def unpack(words, channels):
    w = words.view(np.uint32).astype(np.uint64)
    bits = np.stack([(w[..., i // 32] >> np.uint64(i % 32)) & np.uint64(1) for i in range(channels)], -1)
    return np.where(bits == 1, -1.0, 1.0)


@pytest.mark.parametrize("channels", [1, 5, 31, 32, 33, 64, 100, 300])
def test_bitpack_float(isa, channels):
    rng = np.random.default_rng(channels)
    x = rng.normal(size=(3, 4, channels)).astype(np.float32)
    x.flat[::7] = 0.0
    x.flat[1::11] = -0.0
    x.flat[2::13] = np.nan
    np.testing.assert_array_equal(K.bitpack(x), ref_bitpack(x))


@pytest.mark.parametrize("channels", [1, 31, 32, 63, 64, 65, 128, 300])
@pytest.mark.parametrize("zero_point", [-128, -3, 0, 127])
def test_bitpack_int8(isa, channels, zero_point):
    x = np.random.default_rng(channels).integers(-128, 128, size=(2, 3, channels)).astype(np.int8)
    np.testing.assert_array_equal(K.bitpack(x, zero_point), ref_bitpack(x, zero_point))


def test_bitpack_tail_bits_zero():
    x = -np.ones((1, 40), np.float32)
    words = K.bitpack(x).view(np.uint32)
    assert words[0, 0] == 0xFFFFFFFF and words[0, 1] == 0xFF


def test_dequantize():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 70)).astype(np.float32)
    packed = ref_bitpack(x)
    np.testing.assert_array_equal(K.dequantize(packed, 70), np.where(x < 0, -1.0, 1.0).astype(np.float32))
    q = K.dequantize(packed, 70, scale=1 / 60, zero_point=100)
    np.testing.assert_array_equal(q, np.where(x < 0, 40, 127).astype(np.int8))  # +1 saturates at 127


@pytest.mark.parametrize("threads", [2, 3])
def test_quantize_dequantize_threads_identical(isa, threads):
    rng = np.random.default_rng(threads)
    x = rng.normal(size=(4, 100, 101, 70)).astype(np.float32)  # large enough to be split (> 2M values)
    q = rng.integers(-128, 128, size=x.shape).astype(np.int8)
    packed = K.bitpack(x)
    np.testing.assert_array_equal(K.bitpack(x, threads=threads), packed)
    np.testing.assert_array_equal(K.bitpack(q, 5, threads=threads), K.bitpack(q, 5))
    np.testing.assert_array_equal(K.dequantize(packed, 70, threads=threads), K.dequantize(packed, 70))
    np.testing.assert_array_equal(K.dequantize(packed, 70, scale=0.1, zero_point=3, threads=threads),
                                  K.dequantize(packed, 70, scale=0.1, zero_point=3))


def test_dequantize_int8_rounds_the_exact_reciprocal():
    """zp +- round(1/scale) with the exact reciprocal of the float32 scale (semantics.md): for
    the scale of a (-3, 3) range, float32(6/255) is just above 6/255, so 1/scale = 42.4999...
    gives 42, as fake-quant and QUANTIZE of +-1 do. (LCE 0.16's runtime divides in float32,
    gets 42.5 and writes 43.)"""
    scale = float(np.float32(6 / 255))
    assert 1 / scale < 42.5
    packed = ref_bitpack(np.array([[1.0, -1.0]], np.float32))
    np.testing.assert_array_equal(K.dequantize(packed, 2, scale=scale, zero_point=0), [[42, -42]])


def ref_bconv2d(x_pm1, w_pm1, groups, strides, dilations, padding, pad_values):
    """Float conv on +-1 values: x [N,H,W,C], w [O,KH,KW,C/groups] -> conv [N,OH,OW,O]."""
    n, h, wd, c = x_pm1.shape
    o, kh, kw, cg = w_pm1.shape
    (sh, sw), (dh, dw) = strides, dilations
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "SAME":
        oh, ow = -(-h // sh), -(-wd // sw)
        ph, pw = max((oh - 1) * sh + eh - h, 0), max((ow - 1) * sw + ew - wd, 0)
        pads = ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0))
        x_pm1 = np.pad(x_pm1, pads, constant_values=1.0 if pad_values == 1 else 0.0)
    else:
        oh, ow = (h - eh) // sh + 1, (wd - ew) // sw + 1
    out = np.zeros((n, oh, ow, o))
    per_group = o // groups
    for oc in range(o):
        g = oc // per_group
        xs = x_pm1[..., g * cg:(g + 1) * cg]
        for ky in range(kh):
            for kx in range(kw):
                patch = xs[:, ky * dh: ky * dh + (oh - 1) * sh + 1: sh, kx * dw: kx * dw + (ow - 1) * sw + 1: sw, :]
                out[..., oc] += patch @ w_pm1[oc, ky, kx]
    return out


def random_case(rng, wide=False):
    """A random Bconv2d case. wide: 33 to 300 output channels (also per group), so that the
    kernels' blocks of 32/64/128 output channels and their partial last blocks are covered."""
    groups = int(rng.choice([1, 1, 1, 2, 3]))
    cg = int(rng.integers(1, 300)) if groups == 1 else 32 * int(rng.integers(1, 3))
    c = cg * groups
    if wide:
        o = groups * int(rng.integers(33, 301 if groups == 1 else 140))
    else:
        o = groups * int(rng.integers(1, 5)) * (1 if groups > 1 else int(rng.integers(1, 9)))
    kh, kw = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dilations = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = str(rng.choice(["SAME", "VALID"]))
    pad_values = int(rng.integers(0, 2)) if padding == "SAME" else 0
    extent = 8 if not wide else 4
    h = (kh - 1) * dilations[0] + 1 + int(rng.integers(0, extent))
    w = (kw - 1) * dilations[1] + 1 + int(rng.integers(0, extent))
    x = np.where(rng.random((2, h, w, c)) < 0.5, -1.0, 1.0)
    wt = np.where(rng.random((o, kh, kw, cg)) < 0.5, -1.0, 1.0)
    return dict(groups=groups, strides=strides, dilations=dilations, padding=padding, pad_values=pad_values,
                x=x, w=wt, c=c)


ACTIVATIONS = [("NONE", None), ("RELU", (0, None)), ("RELU6", (0, 6)), ("RELU_N1_TO_1", (-1, 1))]


@pytest.mark.parametrize("kernel", ["reference", "indirect"])
@pytest.mark.parametrize("seed", range(40))
def test_bconv2d_against_reference(seed, kernel, isa):
    rng = np.random.default_rng(seed)
    check_bconv2d_case(rng, random_case(rng), seed, kernel)


@pytest.mark.parametrize("seed", range(16))
def test_bconv2d_wide_outputs_against_reference(seed, isa):
    rng = np.random.default_rng(1000 + seed)
    check_bconv2d_case(rng, random_case(rng, wide=True), seed, "indirect")


def check_bconv2d_case(rng, t, seed, kernel):
    conv = ref_bconv2d(t["x"], t["w"], t["groups"], t["strides"], t["dilations"], t["padding"], t["pad_values"])
    kernel_k = t["w"].shape[1] * t["w"].shape[2] * t["w"].shape[3]
    x_packed, w_packed = ref_bitpack(t["x"]), ref_bitpack(t["w"])
    common = dict(channels_in=t["c"], groups=t["groups"], strides=t["strides"], dilations=t["dilations"],
                  padding=t["padding"], pad_values=t["pad_values"], kernel=kernel)
    o = t["w"].shape[0]
    name, bounds = ACTIVATIONS[seed % 4]
    lo, hi = (-kernel_k, kernel_k) if bounds is None else (bounds[0], kernel_k if bounds[1] is None else bounds[1])
    mult = rng.normal(size=o).astype(np.float32)
    bias = rng.normal(size=o).astype(np.float32)
    # float output
    y = K.bconv2d(x_packed, w_packed, output_type="float", clamp=(lo, hi), multiplier=mult, bias=bias, **common)
    expected = (np.clip(conv, lo, hi).astype(np.float32) * mult).astype(np.float32) + bias
    np.testing.assert_array_equal(y, expected.astype(np.float32))
    # int8 output
    scale, zp = np.float32(0.07), 3
    yq = K.bconv2d(x_packed, w_packed, output_type="int8", clamp=(lo, hi), multiplier=mult, bias=bias,
                   scale=scale, zero_point=zp, **common)
    expected_q = np.clip(np.round(expected / scale) + zp, -128, 127).astype(np.int8)
    np.testing.assert_array_equal(yq, expected_q)
    # bitpacked output: bit = accum_eff > threshold with accum_eff = (K - conv) / 2
    thresholds = rng.integers(-1, kernel_k + 1, size=o).astype(np.int32)
    yb = K.bconv2d(x_packed, w_packed, output_type="bitpacked", threshold=thresholds, **common)
    bits = (kernel_k - conv) / 2 > thresholds
    np.testing.assert_array_equal(unpack(yb, o), np.where(bits, -1.0, 1.0))


@pytest.mark.parametrize("padding,pad_values", [("SAME", 0), ("SAME", 1), ("VALID", 0)])
@pytest.mark.parametrize("size,strides,dilations", [((20, 23), (1, 1), (1, 1)), ((19, 16), (2, 1), (1, 2)),
                                                    ((13, 29), (1, 2), (2, 1)), ((7, 7), (1, 1), (1, 1))])
@pytest.mark.parametrize("channels,channels_out", [(64, 64), (128, 96)])
def test_bconv2d_larger_images(isa, padding, pad_values, size, strides, dilations, channels, channels_out):
    """Images large enough for the tiles' cases (AVX-512: padded geometry; tiles across rows
    and across the batch's two images; runs of tiles of one border class, class 0 or a border
    row's; tiles of several classes; an image's short last tile, 49 = 8 x 6 + 1 at 7x7), every
    output type, 1 and 2 threads."""
    seed = sum(size) * 7 + strides[0] + 3 * dilations[1] + channels + pad_values
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((2, size[0], size[1], channels)) < 0.5, -1.0, 1.0)
    w = np.where(rng.random((channels_out, 3, 3, channels)) < 0.5, -1.0, 1.0)
    case = dict(groups=1, strides=strides, dilations=dilations, padding=padding, pad_values=pad_values, x=x, w=w,
                c=channels)
    check_bconv2d_case(rng, case, seed, "indirect")
    conv = ref_bconv2d(x, w, 1, strides, dilations, padding, pad_values)
    common = dict(channels_in=channels, strides=strides, dilations=dilations, padding=padding, pad_values=pad_values)
    expected = (conv.astype(np.float32) * np.float32(0.5)).astype(np.float32) + np.float32(0.25)
    mult, bias = np.full(channels_out, 0.5, np.float32), np.full(channels_out, 0.25, np.float32)
    for threads in (1, 2):
        y = K.bconv2d(ref_bitpack(x), ref_bitpack(w), output_type="float", multiplier=mult, bias=bias,
                      threads=threads, **common)
        np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("channels,filter_size,channels_out", [(2560, 3, 10), (100, 7, 10), (33, 1, 10),
                                                               (2560, 3, 130), (8000, 3, 64)])
@pytest.mark.parametrize("pad_values", [0, 1])
def test_bconv2d_saturated_counts(isa, channels, filter_size, channels_out, pad_values):
    """Every bit differs (popcount 8 in every byte of every step): the SIMD paths' narrow
    counters must be flushed in time over long depths (2560 channels: 40 64-bit words per tap;
    8000 channels x 9 taps = 9000 bytes: more than the AVX2 kernel's 16-bit counters hold, 7936
    bytes) and many taps; zero/one padding at the borders; a partial last 32-bit word."""
    x = -np.ones((1, 5, 6, channels))
    w = np.ones((channels_out, filter_size, filter_size, channels))
    w[3] = -1.0  # one channel agrees everywhere instead
    conv = ref_bconv2d(x, w, 1, (1, 1), (1, 1), "SAME", pad_values)
    y = K.bconv2d(ref_bitpack(x), ref_bitpack(w), channels_in=channels, padding="SAME", pad_values=pad_values,
                  output_type="float")
    np.testing.assert_array_equal(y, conv.astype(np.float32))


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("seed", range(6))
def test_bmaxpool(padding, seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 100))
    fh, fw, sh, sw = (int(v) for v in rng.integers(1, 4, size=4))
    x = rng.normal(size=(1, 9, 8, c)).astype(np.float32)
    pooled = K.bmaxpool(ref_bitpack(x), (fh, fw), (sh, sw), padding)
    import tensorflow as tf
    expected = tf.nn.max_pool2d(x, (fh, fw), (sh, sw), padding).numpy()
    np.testing.assert_array_equal(pooled, ref_bitpack(expected))


@pytest.mark.parametrize("value", ["popcnt", "portable", "sse9", "avx512"])
def test_isa_environment_override(value):
    """LCE_KERNELS_ISA forces a path of this CPU; anything else warns and uses the best path."""
    import os
    import subprocess
    import sys
    code = "from lce_convert import _kernels as K; print(K.active_isa(), K.supported_isas()[-1])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, LCE_KERNELS_ISA=value))
    assert r.returncode == 0, r.stderr
    active, best = r.stdout.split()
    if value in K.supported_isas():
        assert active == value and r.stderr == ""
    else:
        assert active == best and "LCE_KERNELS_ISA=%s is not an ISA path" % value in r.stderr


def test_bad_arguments():
    x = np.zeros((1, 4, 4, 1), np.int32)
    w = np.zeros((2, 3, 3, 1), np.int32)
    with pytest.raises(ValueError, match="input depth"):
        K.bconv2d(np.zeros((1, 4, 4, 2), np.int32), w, channels_in=8)
    with pytest.raises(ValueError, match="grouped channels"):
        K.bconv2d(x, w, channels_in=8, groups=2)
    with pytest.raises(ValueError, match="needs thresholds"):
        K.bconv2d(x, w, channels_in=8, output_type="bitpacked")
    with pytest.raises(ValueError, match="VALID height window larger than the input"):
        K.bconv2d(np.zeros((1, 2, 2, 1), np.int32), w, channels_in=8)
    with pytest.raises(ValueError, match="unknown ISA"):
        K.set_isa("sse9")


@pytest.mark.parametrize("seed", range(8))
def test_bconv2d_threads_identical(seed):
    rng = np.random.default_rng(100 + seed)
    t = random_case(rng)
    args = dict(channels_in=t["c"], groups=t["groups"], strides=t["strides"], dilations=t["dilations"],
                padding=t["padding"], pad_values=t["pad_values"], output_type="float",
                multiplier=rng.normal(size=t["w"].shape[0]).astype(np.float32))
    x, w = ref_bitpack(t["x"]), ref_bitpack(t["w"])
    one = K.bconv2d(x, w, threads=1, **args)
    for threads in (2, 3, 7):
        np.testing.assert_array_equal(K.bconv2d(x, w, threads=threads, **args), one)


def ref_post_ops(y, ops):
    """The post ops of float output in float32, one op at a time, as TFLite's float kernels do
    them (MUL/ADD by a per-channel constant, ADD of a same-shape tensor, ReLU-family clamps)."""
    y = y.astype(np.float32)
    for op in ops:
        if op[0] == "mul":
            y = (y * op[1]).astype(np.float32)
        elif op[0] in ("add", "add_tensor"):
            y = (y + op[1]).astype(np.float32)
        else:
            y = np.minimum(np.maximum(y, np.float32(op[1])), np.float32(op[2]))
    return y


@pytest.mark.parametrize("kernel", ["reference", "indirect"])
@pytest.mark.parametrize("seed", range(24))
def test_bconv2d_post_ops_and_fused_quantize(seed, kernel, isa):
    """Fused epilogues (what the delegate fuses into a Bconv2d's output pass): random chains of
    per-channel MUL/ADD, residual ADD and ReLU-family clamps, then the Quantize bits (y < 0), with
    and without the float result, on random shapes (groups, borders, partial channel blocks, 1 to
    300 output channels)."""
    rng = np.random.default_rng(5000 + seed)
    t = random_case(rng, wide=seed % 2 == 1)
    conv = ref_bconv2d(t["x"], t["w"], t["groups"], t["strides"], t["dilations"], t["padding"], t["pad_values"])
    o = t["w"].shape[0]
    kernel_k = t["w"].shape[1] * t["w"].shape[2] * t["w"].shape[3]
    lo, hi = [(-kernel_k, kernel_k), (0, kernel_k), (0, 6), (-1, 1)][seed % 4]
    mult = rng.normal(size=o).astype(np.float32)
    bias = rng.normal(size=o).astype(np.float32)
    ops = []
    for _ in range(int(rng.integers(1, 5))):
        kind = rng.choice(["mul", "add", "add_tensor", "clamp"])
        if kind == "add_tensor":
            ops.append(("add_tensor", rng.normal(size=conv.shape).astype(np.float32)))
        elif kind == "clamp":
            ops.append(("clamp",) + [(0.0, np.inf), (0.0, 6.0), (-1.0, 1.0)][int(rng.integers(0, 3))])
        else:
            ops.append((str(kind), rng.normal(size=o).astype(np.float32)))
    # zeros in the residual make exact zeros (ties of the Quantize bit) likely
    if seed % 3 == 0:
        ops.append(("add_tensor", np.where(rng.random(conv.shape) < 0.3, 0.0, -1.0).astype(np.float32)))
    expected = ref_post_ops((np.clip(conv, lo, hi).astype(np.float32) * mult).astype(np.float32) + bias, ops)
    common = dict(channels_in=t["c"], groups=t["groups"], strides=t["strides"], dilations=t["dilations"],
                  padding=t["padding"], pad_values=t["pad_values"], kernel=kernel, clamp=(lo, hi),
                  multiplier=mult, bias=bias, post_ops=ops)
    x_packed, w_packed = ref_bitpack(t["x"]), ref_bitpack(t["w"])
    y = K.bconv2d(x_packed, w_packed, **common)
    np.testing.assert_array_equal(y, expected)
    y, bits = K.bconv2d(x_packed, w_packed, quantize=True, **common)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(bits, ref_bitpack(expected))
    only_bits = K.bconv2d(x_packed, w_packed, quantize=True, write_float=False, threads=3, **common)
    np.testing.assert_array_equal(only_bits, ref_bitpack(expected))


@pytest.mark.parametrize("channels,size", [(64, (16, 17)), (128, (9, 10)), (192, (7, 7)), (96, (8, 9))])
@pytest.mark.parametrize("pad_values", [0, 1])
@pytest.mark.parametrize("clamp", [None, (0, None), (0, 6), (-3, 5), (-(1 << 20), 5)])  # the last: only hi binds
@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("after", ["quantize", "none", "relu", "relu6"])
def test_bconv2d_residual_block(isa, channels, size, pad_values, clamp, in_place, after):
    """QuickNet's block as the delegate fuses it: a 3x3 SAME Bconv2d (ReLU or other clamps on the
    conv value, the BatchNorm's multiplier and bias), the residual ADD (into the residual's own
    buffer when in place), then the next layer's Quantize (float sum and bits), nothing, or the
    ADD's fused ReLU / ReLU6 (the last block of a QuickNet section): the AVX-512 kernel's straight
    residual passes (whole 64-channel blocks: 64, 128, 192 channels; 96 has a partial block),
    bit for bit, 1 and 2 threads."""
    rng = np.random.default_rng(channels + 5 * pad_values + (0 if clamp is None else 11 * clamp[0] if clamp[0] > -100 else 17))
    x = np.where(rng.random((2,) + size + (channels,)) < 0.5, -1.0, 1.0)
    w = np.where(rng.random((channels, 3, 3, channels)) < 0.5, -1.0, 1.0)
    conv = ref_bconv2d(x, w, 1, (1, 1), (1, 1), "SAME", pad_values)
    kernel_k = 9 * channels
    lo, hi = (-kernel_k, kernel_k) if clamp is None else (clamp[0], kernel_k if clamp[1] is None else clamp[1])
    mult = rng.normal(size=channels).astype(np.float32)
    bias = rng.normal(size=channels).astype(np.float32)
    residual = rng.normal(size=conv.shape).astype(np.float32)
    residual[..., ::7] = 0.0  # exact zeros make ties of the Quantize bit likely
    expected = ((np.clip(conv, lo, hi).astype(np.float32) * mult).astype(np.float32) + bias) + residual
    tail = {"relu": [("clamp", 0.0, np.inf)], "relu6": [("clamp", 0.0, 6.0)]}.get(after, [])
    if tail:
        expected = np.minimum(np.maximum(expected, np.float32(tail[0][1])), np.float32(tail[0][2]))
    for threads in (1, 2):
        buffer = residual.copy()
        result = K.bconv2d(ref_bitpack(x), ref_bitpack(w), channels_in=channels, padding="SAME",
                           pad_values=pad_values, clamp=(lo, hi), multiplier=mult, bias=bias,
                           post_ops=[("add_tensor", buffer)] + tail, quantize=after == "quantize", threads=threads,
                           in_place=in_place)
        y, bits = result if after == "quantize" else (result, None)
        np.testing.assert_array_equal(y.view(np.uint32), expected.view(np.uint32))
        if in_place:
            assert y is buffer or np.shares_memory(y, buffer)
        if bits is None:
            continue
        np.testing.assert_array_equal(bits, ref_bitpack(expected))


@pytest.mark.parametrize("channels", [64, 63])
@pytest.mark.parametrize("pad_values", [0, 1])
@pytest.mark.parametrize("post_ops", [False, True])
@pytest.mark.parametrize("clamp", [None, (0, None), (0, 6), (-1, 1), (-7, 37), (-(1 << 20), 6)])
def test_bconv2d_float_extreme_multipliers(isa, channels, pad_values, post_ops, clamp):
    """Float output, with and without a fused residual ADD and a clamp on the conv value (ReLU,
    ReLU6, odd bounds), when the multipliers are subnormal, the smallest normals, huge (2 * m
    overflows) or signed zeros: the AVX-512 kernel's halved pass (clamp(conv / 2, lo / 2, hi / 2)
    times 2 m, used when that is exact: even conv bases, |m| < 2^126) and its fallback give
    float(clamp(conv, lo, hi)) * m + b bit for bit. 63 channels make odd conv bases."""
    rng = np.random.default_rng(channels + 2 * pad_values)
    x = np.where(rng.random((1, 14, 15, channels)) < 0.5, -1.0, 1.0)
    w = np.where(rng.random((80, 3, 3, channels)) < 0.5, -1.0, 1.0)
    conv = ref_bconv2d(x, w, 1, (1, 1), (1, 1), "SAME", pad_values)
    kernel_k = 9 * channels
    lo, hi = (-kernel_k, kernel_k) if clamp is None else (clamp[0], kernel_k if clamp[1] is None else clamp[1])
    conv = np.clip(conv, lo, hi)
    tiny = np.finfo(np.float32).tiny
    for mult in (np.float32([3e-45, -1e-40, tiny, -tiny, 1e-38, 0.0, -0.0, 0.37] * 10),
                 np.float32([1e38, -2e38, 3.4e38, 1.0] * 20)):
        bias = rng.normal(size=80).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            expected = (conv.astype(np.float32) * mult).astype(np.float32) + bias
        ops = []
        if post_ops:
            residual = rng.normal(size=conv.shape).astype(np.float32)
            ops = [("add_tensor", residual)]
            with np.errstate(over="ignore", invalid="ignore"):
                expected = expected + residual
        y = K.bconv2d(ref_bitpack(x), ref_bitpack(w), channels_in=channels, padding="SAME", pad_values=pad_values,
                      output_type="float", clamp=(lo, hi), multiplier=mult, bias=bias, post_ops=ops)
        np.testing.assert_array_equal(y.view(np.uint32), expected.astype(np.float32).view(np.uint32))


@pytest.mark.parametrize("scale", [1e-12, 4e-10, np.float32(np.finfo(np.float32).tiny)])
@pytest.mark.parametrize("zero_point", [-128, 0, 127])
def test_dequantize_int8_tiny_scales_saturate(scale, zero_point):
    """round(1/scale) past int32 saturates to +127 / -128 instead of wrapping."""
    words = np.array([[0b10]], np.int32)  # channel 0 +1, channel 1 -1
    y = K.dequantize(words, 2, scale=float(scale), zero_point=zero_point)
    np.testing.assert_array_equal(y, [[127, -128]])
