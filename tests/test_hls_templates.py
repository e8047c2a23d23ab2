"""C-simulation unit tests of every template in kernels/hls/lce_hls.h against a numpy reference
(finn-hlslib's tb/ style): seeded random inputs, each template instantiated in one generated
C++ program (one g++ run for the whole file), its outputs compared with the reference written
from docs/semantics.md, not from the template code."""
import os
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest

from lce_convert import hls
from lce_convert.errors import LceConvertError
from lce_convert.hls import emit, exact

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="C-simulation needs g++")

RNG = np.random.default_rng(13)
CASES = {}   # name -> (C++ body, reference outputs: list of numbers)
TIES = []    # (case, channel, pixel, accum_eff, threshold) of the threshold cases


def _bits_lit(bits):
    return 'lce_hls_test::mkbits<%d>("%s")' % (len(bits), "".join("1" if b else "0" for b in bits))


def _vec_lit(ctype, vals):
    return "lce_hls_test::mkvec<%s, %d>((const double[]){%s})" % (ctype, len(vals), ", ".join(repr(float(v))
                                                                                             for v in vals))


def _pack_rows(bits):
    """[rows, CG] bits as the BinaryDot layout: each row at a multiple of WPR 64-bit words."""
    rows, cg = bits.shape
    wpr = -(-cg // 64)
    a = np.zeros((rows, wpr * 64), np.uint8)
    a[:, :cg] = bits
    w = np.packbits(a.reshape(-1, 8), axis=1, bitorder="little").reshape(-1, 8).view("<u8").reshape(-1)
    return wpr, "{%s}" % ", ".join("0x%016xULL" % int(v) for v in w)


def _case(name, body, ref):
    CASES[name] = (body, [float(v) for v in np.asarray(ref, dtype=object).reshape(-1)])


def _fixed_q(values, ctype):
    """The values cast to an ap_fixed type (its quantization and overflow modes)."""
    return hls.quantize_input(np.array([float(v) for v in values]), ctype)


# --- swu ------------------------------------------------------------------------------------

def _swu_case(name, IH, IW, KH, KW, SH, SW, DH, DW, padding, pad_is_data):
    from lce_convert.hls.lowering import _geometry
    g = _geometry((IH, IW, 1), KH, KW, SH, SW, DH, DW, padding)
    x = np.arange(1, IH * IW + 1, dtype=np.float64).reshape(IH, IW)
    ref = []
    for oy in range(g["OH"]):
        for ox in range(g["OW"]):
            for ky in range(KH):
                for kx in range(KW):
                    iy, ix = oy * SH - g["PT"] + ky * DH, ox * SW - g["PL"] + kx * DW
                    inside = 0 <= iy < IH and 0 <= ix < IW
                    ref += [x[iy, ix] if inside else 0.0, 0 if inside or pad_is_data else 1]
    T = "lce_hls::vec<ap_fixed<16, 8>, 1>"
    body = ["hls::stream<%s > in; hls::stream<lce_hls::tap<%s > > out;" % (T, T)]
    body += ["in.write(%s);" % _vec_lit("ap_fixed<16, 8>", [v]) for v in x.reshape(-1)]
    body.append("lce_hls::swu<%s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s>(in, out);" % (
        T, IH, IW, KH, KW, SH, SW, DH, DW, g["PT"], g["PL"], g["OH"], g["OW"], "true" if pad_is_data else "false"))
    body.append("while (!out.empty()) { lce_hls::tap<%s > t = out.read(); P(t.data.v[0].to_double()); P(t.pad); }"
                % T)
    body.append("if (!in.empty()) P(-999);")
    _case(name, body, ref)


_swu_case("swu_same_stride2", 5, 4, 3, 3, 2, 2, 1, 1, "SAME", False)
_swu_case("swu_dilated_one_padding", 6, 5, 3, 2, 1, 1, 2, 1, "SAME", True)
_swu_case("swu_valid", 5, 5, 2, 3, 2, 1, 1, 1, "VALID", False)


# --- mvau with BinaryDot --------------------------------------------------------------------

def _binary_conv(x, pad, w, groups):
    """conv[p, o] = the +-1 dot product over the non-padded taps (semantics.md: K - 2*accum -
    corr). x: [P, T, CI] bits, pad: [P, T], w: [CO, T, CG] bits."""
    P, T, CI = x.shape
    CO, _, CG = w.shape
    conv = np.zeros((P, CO), np.int64)
    for o in range(CO):
        g = o // (CO // groups)
        xs = x[:, :, g * CG:(g + 1) * CG]
        pm = (1 - 2 * xs.astype(np.int64)) * (1 - 2 * w[o][None].astype(np.int64))
        conv[:, o] = (pm.sum(axis=2) * (1 - pad)).sum(axis=1)
    return conv


def _tap_stream(ctype_pixel, lits, pads):
    return ["{ lce_hls::tap<%s > t; t.data = %s; t.pad = %s; in.write(t); }" % (ctype_pixel, lit,
                                                                                 "true" if p else "false")
            for lit, p in zip(lits, pads)]


def _bmvau_case(name, CI, CO, TAPS, GROUPS, SIMD, PE, PIXELS, output):
    CG = CI // GROUPS
    K = TAPS * CG
    x = RNG.integers(0, 2, (PIXELS, TAPS, CI)).astype(np.uint8)
    pad = (RNG.random((PIXELS, TAPS)) < 0.3).astype(np.int64)
    pad[0, :] = 1  # a pixel with every tap padded
    w = RNG.integers(0, 2, (CO, TAPS, CG)).astype(np.uint8)
    conv = _binary_conv(x, pad, w, GROUPS)
    wpr, wlit = _pack_rows(w.reshape(CO * TAPS, CG))
    acc = "ap_int<%d>" % (K.bit_length() + 1)
    body = ["static const uint64_t w[] = %s;" % wlit,
            "hls::stream<lce_hls::tap<ap_uint<%d> > > in;" % CI,
            "typedef lce_hls::BinaryDot<%d, %d, %s > dot_t; const dot_t dot(w);" % (SIMD, wpr, acc)]
    body += _tap_stream("ap_uint<%d>" % CI, [_bits_lit(x[p, t]) for p in range(PIXELS) for t in range(TAPS)],
                        pad.reshape(-1))
    if output == "thr":
        # every threshold from "always -1" to "never", and the values conv actually takes (ties)
        thr = np.array([-1, K] + list(RNG.integers(-1, K + 1, CO)), np.int64)[:CO]
        # the other channels: a tie (accum_eff == t gives +1) at one pixel, and for the last
        # one a half-integer accum_eff (zero padding with an odd channel count) just above t
        for o in range(2, CO):
            want_even = o < CO - 1
            p = next(p for p in range(1, PIXELS) if ((K - conv[p, o]) % 2 == 0) == want_even)
            thr[o] = (K - conv[p, o]) // 2
            TIES.append((name, o, p, Fraction(K - int(conv[p, o]), 2), int(thr[o])))
        # the CPU's rule: bit = accum_eff > t with accum_eff = (K - conv) / 2 (may be x.5)
        ref = [(Fraction(K - int(c), 2) > int(t)) for row in conv for c, t in zip(row, thr)]
        body += ["static const ap_int<%d> thr[] = {%s};" % (K.bit_length() + 1, ", ".join(str(int(t)) for t in thr)),
                 "typedef lce_hls::ThresholdGT<%d, %d, %s, ap_int<%d>, ap_int<%d> > act_t; const act_t act(thr);"
                 % (CO, K, acc, K.bit_length() + 1, (2 * K + 2).bit_length() + 1),
                 "hls::stream<ap_uint<%d> > out;" % CO,
                 "lce_hls::mvau<%d, %d, %d, %d, %d, %d, %d, ap_uint<%d>, dot_t, act_t>(in, out, dot, act);"
                 % (CI, CO, TAPS, GROUPS, SIMD, PE, PIXELS, CI),
                 "while (!out.empty()) { ap_uint<%d> o = out.read(); for (int c = 0; c < %d; ++c) P(o[c]); }"
                 % (CO, CO)]
    else:
        Ms = [exact.exact(np.float32(v)) for v in RNG.normal(0, 0.3, CO)]
        Bs = [exact.exact(np.float32(v)) for v in RNG.normal(0, 2, CO)]
        otype = "ap_fixed<12,5,AP_RND_CONV,AP_SAT>"
        # clamp(conv, 0, K) * multiplier + bias (a fused RELU), cast once to the output type
        y = [max(Fraction(int(c)), Fraction(0)) * Ms[o] + Bs[o] for row in conv for o, c in enumerate(row)]
        ref = _fixed_q(y, otype)
        e = _Collect()
        decl = emit_affine(e, "st", CO, acc, (-K, K, 0), Ms, Bs, (0, None), None, exact.parse_fixed(otype))
        body = e.params + body + ["const " + decl.replace("st_act_t st_act", "st_act_t act"),
                                  "hls::stream<st_act_t::out_t> out;",
                                  "lce_hls::mvau<%d, %d, %d, %d, %d, %d, %d, ap_uint<%d>, dot_t, st_act_t>(in, out, "
                                  "dot, act);" % (CI, CO, TAPS, GROUPS, SIMD, PE, PIXELS, CI),
                                  "while (!out.empty()) { st_act_t::out_t o = out.read(); for (int c = 0; c < %d; ++c)"
                                  " P(o.v[c].to_double()); }" % CO]
    body.append("if (!in.empty()) P(-999);")
    _case(name, body, ref)


class _Collect:
    def __init__(self):
        self.params = []

    def width(self, w):
        pass

    def arr(self, ctype, name, values, per_line=8):
        self.params.append("static const %s %s[] = {%s};" % (ctype, name, ", ".join(values)))


from lce_convert.hls.units import emit_affine  # noqa: E402

_bmvau_case("mvau_binary_threshold_zero_pad_odd_channels", 7, 4, 9, 1, 7, 2, 6, "thr")
_bmvau_case("mvau_binary_threshold_simd1_pe4", 5, 4, 4, 1, 1, 4, 5, "thr")
_bmvau_case("mvau_binary_grouped_affine", 64, 4, 2, 2, 16, 2, 4, "affine")
_bmvau_case("mvau_binary_wide_rows_affine", 70, 3, 3, 1, 35, 1, 3, "affine")


# --- mvau with FixedDot (dense, grouped = depthwise) -------------------------------------------

def _fmvau_case(name, CI, CO, TAPS, GROUPS, SIMD, PE, PIXELS):
    CG = CI // GROUPS
    xt, otype = "ap_fixed<10,4>", "ap_fixed<20,8,AP_RND_CONV,AP_SAT>"
    x = np.round(RNG.normal(0, 2, (PIXELS, TAPS, CI)) * 64) / 64
    pad = (RNG.random((PIXELS, TAPS)) < 0.25).astype(np.int64)
    w = [exact.exact(np.float32(v)) for v in RNG.normal(0, 0.5, CO * TAPS * CG)]
    bias = [exact.exact(np.float32(v)) for v in RNG.normal(0, 1, CO)]
    wt = exact.format_for(w + [-v for v in w])
    xmax = 8
    bound = max(sum(abs(v) for v in w[o * TAPS * CG:(o + 1) * TAPS * CG]) for o in range(CO)) * xmax
    at = exact.range_format(-bound, bound, 6 + wt.F)
    y = []
    for p in range(PIXELS):
        for o in range(CO):
            g = o // (CO // GROUPS)
            s = sum(w[(o * TAPS + t) * CG + c] * Fraction(float(x[p, t, g * CG + c]))
                    for t in range(TAPS) if not pad[p, t] for c in range(CG))
            y.append(min(max(s + bias[o], Fraction(0)), Fraction(6)))  # clamp(acc + bias): RELU6
    e = _Collect()
    decl = emit_affine(e, "st", CO, "acc_t", (-bound, bound, at.F), [Fraction(1)] * CO, bias, None, (0, 6),
                       exact.parse_fixed(otype))
    raws = ", ".join("%dLL" % int(v * 2 ** wt.F) for v in w)
    X = "lce_hls::vec<%s, %d>" % (xt, CI)
    body = ["typedef %s w_t; typedef %s acc_t;" % (wt.cpp(), at.cpp())] + e.params + [
        "static const int64_t w[] = {%s};" % raws,
        "typedef lce_hls::FixedDot<%d, %d, w_t, %d, acc_t> dot_t; const dot_t dot(w);" % (SIMD, CG, wt.W),
        "const " + decl.replace("st_act_t st_act", "st_act_t act"),
        "hls::stream<lce_hls::tap<%s > > in; hls::stream<st_act_t::out_t> out;" % X]
    body += _tap_stream(X, [_vec_lit(xt, x[p, t]) for p in range(PIXELS) for t in range(TAPS)], pad.reshape(-1))
    body += ["lce_hls::mvau<%d, %d, %d, %d, %d, %d, %d, %s, dot_t, st_act_t>(in, out, dot, act);"
             % (CI, CO, TAPS, GROUPS, SIMD, PE, PIXELS, X),
             "while (!out.empty()) { st_act_t::out_t o = out.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % CO, "if (!in.empty()) P(-999);"]
    _case(name, body, _fixed_q(y, otype))


_fmvau_case("mvau_fixed_dense", 3, 4, 4, 1, 3, 2, 3)
_fmvau_case("mvau_fixed_depthwise", 4, 4, 9, 4, 1, 2, 3)


# --- per-element and pooling templates -------------------------------------------------------

def _pixels_fixed(P, C, scale=2.0):
    return np.round(RNG.normal(0, scale, (P, C)) * 16) / 16


def _pointwise_case():
    P, C = 4, 5
    x = _pixels_fixed(P, C)
    Ms = [exact.exact(np.float32(v)) for v in RNG.normal(0, 1.5, C)]
    Bs = [exact.exact(np.float32(v)) for v in RNG.normal(0, 1, C)]
    otype = "ap_fixed<14,6,AP_RND_CONV,AP_SAT>"
    y = [min(max(Fraction(float(x[p, c])) * Ms[c] + Bs[c], Fraction(-1)), Fraction(1)) for p in range(P)
         for c in range(C)]
    e = _Collect()
    xt = exact.parse_fixed("ap_fixed<16,8>")
    decl = emit_affine(e, "st", C, xt.cpp(), (xt.min(), xt.max(), xt.F), Ms, Bs, None, (-1, 1),
                       exact.parse_fixed(otype))
    X = "lce_hls::vec<%s, %d>" % (xt.cpp(), C)
    body = e.params + ["const " + decl.replace("st_act_t st_act", "st_act_t act"),
                       "hls::stream<%s > in; hls::stream<st_act_t::out_t> out;" % X]
    body += ["in.write(%s);" % _vec_lit(xt.cpp(), x[p]) for p in range(P)]
    body += ["lce_hls::pointwise<%s, %d, %d, st_act_t>(in, out, act);" % (xt.cpp(), C, P),
             "while (!out.empty()) { st_act_t::out_t o = out.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % C]
    _case("pointwise", body, _fixed_q(y, otype))


_pointwise_case()


def _pool_taps(P, T, C, kind):
    pad = (RNG.random((P, T)) < 0.3).astype(np.int64)
    pad[:, 0] = 0  # every window has a valid tap
    if kind == "bits":
        x = RNG.integers(0, 2, (P, T, C)).astype(np.uint8)
        lits = [_bits_lit(x[p, t]) for p in range(P) for t in range(T)]
        X = "ap_uint<%d>" % C
    else:
        x = _pixels_fixed(P * T, C).reshape(P, T, C)
        lits = [_vec_lit("ap_fixed<16,8>", x[p, t]) for p in range(P) for t in range(T)]
        X = "lce_hls::vec<ap_fixed<16,8>, %d>" % C
    return x, pad, ["hls::stream<lce_hls::tap<%s > > in;" % X] + _tap_stream(X, lits, pad.reshape(-1))


def _bmaxpool_case():
    P, T, C = 5, 4, 37
    x, pad, body = _pool_taps(P, T, C, "bits")
    # max of +-1 values over the valid taps: -1 (bit 1) only if every valid tap is -1
    ref = [int(all(x[p, t, c] for t in range(T) if not pad[p, t])) for p in range(P) for c in range(C)]
    body += ["hls::stream<ap_uint<%d> > out;" % C, "lce_hls::bmaxpool<%d, %d, %d>(in, out);" % (C, P, T),
             "while (!out.empty()) { ap_uint<%d> o = out.read(); for (int c = 0; c < %d; ++c) P(o[c]); }" % (C, C)]
    _case("bmaxpool", body, ref)


def _maxpool_case():
    P, T, C = 4, 6, 3
    x, pad, body = _pool_taps(P, T, C, "fixed")
    # the max over the valid taps, then the fused activation (RELU6 here)
    ref = [min(max(max(x[p, t, c] for t in range(T) if not pad[p, t]), 0), 6) for p in range(P) for c in range(C)]
    body += ["hls::stream<lce_hls::vec<ap_fixed<16,8>, %d> > out;" % C,
             "lce_hls::maxpool<ap_fixed<16,8>, %d, %d, %d, lce_hls::Clamp<true, 0, true, 6> >(in, out);" % (C, P, T),
             "while (!out.empty()) { lce_hls::vec<ap_fixed<16,8>, %d> o = out.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % (C, C)]
    _case("maxpool", body, ref)


def _avgpool_case():
    P, T, C = 4, 6, 3
    x, pad, body = _pool_taps(P, T, C, "fixed")
    otype = "ap_fixed<24,8,AP_RND_CONV,AP_SAT>"
    rec = []
    for n in range(T + 1):
        r = Fraction(1, n) if n else Fraction(0)
        if r.denominator & (r.denominator - 1):
            r = Fraction(round(r * 2 ** 64), 2 ** 64)
        rec.append(r)
    y = []
    for p in range(P):
        n = int(T - pad[p].sum())
        for c in range(C):
            y.append(sum(Fraction(float(x[p, t, c])) for t in range(T) if not pad[p, t]) * rec[n])
    body += ["typedef ap_fixed<66, 2> rec_t; typedef ap_fixed<20, 12> sum_t;",
             "static const rec_t recip[] = {%s};" % ", ".join(exact.cpp_literal(r, "rec_t") for r in rec),
             "hls::stream<lce_hls::vec<%s, %d> > out;" % (otype, C),
             "lce_hls::avgpool<ap_fixed<16,8>, sum_t, rec_t, %s, %d, %d, %d>(in, out, recip);" % (otype, C, P, T),
             "while (!out.empty()) { lce_hls::vec<%s, %d> o = out.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % (otype, C, C)]
    _case("avgpool", body, _fixed_q(y, otype))


_bmaxpool_case()
_maxpool_case()
_avgpool_case()


def _two_stream_cases():
    P, C = 3, 4
    a, b = _pixels_fixed(P, C, 8), _pixels_fixed(P, C, 8)
    A, B, O = "ap_fixed<16,8>", "ap_fixed<12,6>", "ap_fixed<17,9>"
    a, b = np.clip(a, -128, 127), np.clip(b, -32, 31)
    body = ["hls::stream<lce_hls::vec<%s, %d> > a; hls::stream<lce_hls::vec<%s, %d> > b2;" % (A, C, B, C),
            "hls::stream<lce_hls::vec<%s, %d> > o2;" % (O, C)]
    body += ["a.write(%s); b2.write(%s);" % (_vec_lit(A, a[p]), _vec_lit(B, b[p])) for p in range(P)]
    body += ["lce_hls::add<%s, %s, %s, %d, %d, lce_hls::Clamp<true, 0, false, 0> >(a, b2, o2);" % (A, B, O, C, P),
             "while (!o2.empty()) { lce_hls::vec<%s, %d> o = o2.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % (O, C, C)]
    _case("add_relu", body, np.maximum(a + b, 0))

    # concat: fixed (types widened exactly) and bits (32 + 5 channels)
    body = ["hls::stream<lce_hls::vec<%s, %d> > a; hls::stream<lce_hls::vec<%s, 2> > b2;" % (A, C, B),
            "hls::stream<lce_hls::vec<ap_fixed<18, 8>, %d> > o2;" % (C + 2)]
    bb = _pixels_fixed(P, 2)
    body += ["a.write(%s); b2.write(%s);" % (_vec_lit(A, a[p]), _vec_lit(B, bb[p])) for p in range(P)]
    body += ["lce_hls::concat<%s, %s, ap_fixed<18, 8>, %d, 2, %d>(a, b2, o2);" % (A, B, C, P),
             "while (!o2.empty()) { lce_hls::vec<ap_fixed<18, 8>, %d> o = o2.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % (C + 2, C + 2)]
    _case("concat_fixed", body, np.concatenate([a, bb], axis=1))
    xa, xb = RNG.integers(0, 2, (P, 32)), RNG.integers(0, 2, (P, 5))
    body = ["hls::stream<ap_uint<32> > a; hls::stream<ap_uint<5> > b2; hls::stream<ap_uint<37> > o2;"]
    body += ["a.write(%s); b2.write(%s);" % (_bits_lit(xa[p]), _bits_lit(xb[p])) for p in range(P)]
    body += ["lce_hls::concat<32, 5, %d>(a, b2, o2);" % P,
             "while (!o2.empty()) { ap_uint<37> o = o2.read(); for (int c = 0; c < 37; ++c) P(o[c]); }"]
    _case("concat_bits", body, np.concatenate([xa, xb], axis=1))

    # split: channels [0, 3) and [3, 6) of fixed values; bits 32 + 5
    xs = _pixels_fixed(P, 6)
    body = ["hls::stream<lce_hls::vec<%s, 6> > in; hls::stream<lce_hls::vec<%s, 3> > s1, s2;" % (A, A)]
    body += ["in.write(%s);" % _vec_lit(A, xs[p]) for p in range(P)]
    body += ["lce_hls::split<%s, 3, 3, %d>(in, s1, s2);" % (A, P),
             "while (!s1.empty()) { lce_hls::vec<%s, 3> o = s1.read(); for (int c = 0; c < 3; ++c) "
             "P(o.v[c].to_double()); }" % A,
             "while (!s2.empty()) { lce_hls::vec<%s, 3> o = s2.read(); for (int c = 0; c < 3; ++c) "
             "P(o.v[c].to_double()); }" % A]
    _case("split_fixed", body, np.concatenate([xs[:, :3].reshape(-1), xs[:, 3:].reshape(-1)]))
    xab = np.concatenate([xa, xb], axis=1)
    body = ["hls::stream<ap_uint<37> > in; hls::stream<ap_uint<32> > s1; hls::stream<ap_uint<5> > s2;"]
    body += ["in.write(%s);" % _bits_lit(xab[p]) for p in range(P)]
    body += ["lce_hls::split<32, 5, %d>(in, s1, s2);" % P,
             "while (!s1.empty()) { ap_uint<32> o = s1.read(); for (int c = 0; c < 32; ++c) P(o[c]); }",
             "while (!s2.empty()) { ap_uint<5> o = s2.read(); for (int c = 0; c < 5; ++c) P(o[c]); }"]
    _case("split_bits", body, np.concatenate([xa.reshape(-1), xb.reshape(-1)]))

    # pad: 1 row on top, 2 columns on the right, 2 channels before and 1 after, with zeros
    IH, IW, C = 2, 3, 2
    xp = _pixels_fixed(IH * IW, C)
    ref = np.pad(xp.reshape(IH, IW, C), [(1, 0), (0, 2), (2, 1)])
    body = ["hls::stream<lce_hls::vec<%s, %d> > in; hls::stream<lce_hls::vec<%s, %d> > out;" % (A, C, A, C + 3)]
    body += ["in.write(%s);" % _vec_lit(A, xp[p]) for p in range(IH * IW)]
    body += ["lce_hls::pad<%s, %d, %d, %d, 1, 0, 0, 2, 2, 1>(in, out);" % (A, C, IH, IW),
             "while (!out.empty()) { lce_hls::vec<%s, %d> o = out.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % (A, C + 3, C + 3), "if (!in.empty()) P(-999);"]
    _case("pad", body, ref)

    # fork2: both copies
    body = ["hls::stream<ap_uint<5> > a, o1, o2;"] + ["a.write(%s);" % _bits_lit(xb[p]) for p in range(P)]
    body += ["lce_hls::fork2<ap_uint<5>, %d>(a, o1, o2);" % P,
             "while (!o1.empty()) { ap_uint<5> o = o1.read(); for (int c = 0; c < 5; ++c) P(o[c]); }",
             "while (!o2.empty()) { ap_uint<5> o = o2.read(); for (int c = 0; c < 5; ++c) P(o[c]); }"]
    _case("fork2", body, np.concatenate([xb.reshape(-1), xb.reshape(-1)]))


_two_stream_cases()


def _bit_cases():
    P, C = 4, 6
    x = _pixels_fixed(P, C)
    x[0, :3] = [0.0, -0.0, -1 / 16]  # zero gives +1 (bit 0)
    A = "ap_fixed<16,8>"
    body = ["hls::stream<lce_hls::vec<%s, %d> > in; hls::stream<ap_uint<%d> > out;" % (A, C, C)]
    body += ["in.write(%s);" % _vec_lit(A, x[p]) for p in range(P)]
    body += ["lce_hls::sign<%s, %d, %d>(in, out);" % (A, C, P),
             "while (!out.empty()) { ap_uint<%d> o = out.read(); for (int c = 0; c < %d; ++c) P(o[c]); }" % (C, C)]
    _case("sign", body, (x < 0).astype(int))
    bits = RNG.integers(0, 2, (P, C))
    body = ["hls::stream<ap_uint<%d> > in; hls::stream<lce_hls::vec<ap_int<2>, %d> > out;" % (C, C)]
    body += ["in.write(%s);" % _bits_lit(bits[p]) for p in range(P)]
    body += ["lce_hls::dequantize<%d, %d>(in, out);" % (C, P),
             "while (!out.empty()) { lce_hls::vec<ap_int<2>, %d> o = out.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_int()); }" % (C, C)]
    _case("dequantize", body, 1 - 2 * bits)
    body = ["hls::stream<ap_uint<%d> > in; hls::stream<ap_uint<%d> > out;" % (C, C * P)]
    body += ["in.write(%s);" % _bits_lit(bits[p]) for p in range(P)]
    body += ["lce_hls::flatten<%d, %d>(in, out);" % (C, P),
             "while (!out.empty()) { ap_uint<%d> o = out.read(); for (int c = 0; c < %d; ++c) P(o[c]); }"
             % (C * P, C * P)]
    _case("flatten_bits", body, bits.reshape(-1))
    body = ["hls::stream<lce_hls::vec<%s, %d> > in; hls::stream<lce_hls::vec<%s, %d> > out;" % (A, C, A, C * P)]
    body += ["in.write(%s);" % _vec_lit(A, x[p]) for p in range(P)]
    body += ["lce_hls::flatten<%s, %d, %d>(in, out);" % (A, C, P),
             "while (!out.empty()) { lce_hls::vec<%s, %d> o = out.read(); for (int c = 0; c < %d; ++c)"
             " P(o.v[c].to_double()); }" % (A, C * P, C * P)]
    _case("flatten_fixed", body, x.reshape(-1))


_bit_cases()


PRELUDE = r"""#define AP_INT_MAX_W 4096
#include <cstdio>
#include "lce_hls.h"
namespace lce_hls { const char *trace_dir = 0; }
namespace lce_hls_test {
template <int C> ap_uint<C> mkbits(const char *s) { ap_uint<C> x = 0; for (int c = 0; c < C; ++c) x[c] = s[c] == '1'; return x; }
template <class T, int C> lce_hls::vec<T, C> mkvec(const double *d) { lce_hls::vec<T, C> x; for (int c = 0; c < C; ++c) x.v[c] = d[c]; return x; }
}
#define P(v) printf(" %.17g", (double)(v))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    try:
        ap = hls.api.ap_types_dir()
    except LceConvertError as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("templates")
    shutil.copyfile(emit.template_header(), d / "lce_hls.h")
    src = [PRELUDE]
    for name, (body, _) in CASES.items():
        src.append("static void case_%s() {\n  printf(\"%s\");\n  %s\n  printf(\"\\n\");\n}" % (
            name, name, "\n  ".join(body)))
    src.append("int main() {\n%s\n  return 0;\n}" % "\n".join("  case_%s();" % n for n in CASES))
    (d / "t.cpp").write_text("\n".join(src))
    cmd = ["nice", "-n", "10", os.environ.get("CXX", "g++"), "-std=c++14", "-O1", "-Wno-unknown-pragmas",
           "-isystem", ap, "-I" + str(d), str(d / "t.cpp"), "-o", str(d / "t")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]
    r = subprocess.run([str(d / "t")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        name, *vals = line.split()
        out[name] = [float(v) for v in vals]
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_template_matches_numpy_reference(name, results):
    got, want = np.array(results[name]), np.array(CASES[name][1], np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(got, want), (name, np.flatnonzero(got != want)[:10], got[:10], want[:10])


def test_threshold_cases_cover_ties_and_both_ends():
    """The threshold cases really exercise ties (accum_eff == t), half-integer accum_eff from
    padded taps at an odd channel count, and the always -1 (t = -1) and never (t = K) ends."""
    body, ref = CASES["mvau_binary_threshold_zero_pad_odd_channels"]
    assert "thr[] = {-1, 63" in " ".join(body)
    assert 0 < sum(ref) < len(ref)
    assert any(a == t for _, _, _, a, t in TIES)
    assert any(a.denominator == 2 and a - t == Fraction(1, 2) for _, _, _, a, t in TIES)
