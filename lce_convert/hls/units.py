"""The hardware units of the HLS lowering. Each unit class owns its cycle count (`cycles()`),
its resource estimate (`estimate()`) and its code (`emit()`), and maps to one template of
kernels/hls/lce_hls.h.

Cycle model (per frame): the trip count of the template's pipelined loop at II = 1, window reads
included, plus the pipeline fill: an ASSUMED depth per pipelined-loop entry (`FILL` below and
`Mvau.fill()`), not a synthesis figure. The sliding-window unit reads input rows and writes taps
in separate loops, so its reads and writes add up.

Resource estimates are ESTIMATES from documented analytic models, not synthesis results:
- LUTs of a binary matrix-vector unit: the FINN-R model (Umuroglu et al.; FINN's
  MatrixVectorActivation lut_estimation) with 1-bit weights and inputs:
  300 + 1.1*PE*(2*SIMD + 2*(2*SIMD - 1) + 2*ACC_W + ACC_W*ceil(TMEM/64)) + LUTRAM weights
  (PE*SIMD*ceil(WMEM/64) when WMEM <= 128);
- block RAM (18 Kb) for weights: PE*SIMD*ceil(WMEM/16384) for 1-bit weights deeper than 128
  (FINN-R table); for fixed-point weights of width w: PE*SIMD*ceil(w/18)*ceil(WMEM/1024);
- line buffers: ceil(bits/18432) BRAM18 when over 1024 bits, else LUTs (bits/64);
- DSP: 0 for binary units; fixed-point multipliers one DSP48 each up to 18x27 bits,
  ceil(wx/18)*ceil(ww/27) otherwise (none for +-1 inputs: those are adders); per-element
  affine units one multiplier per channel unless every multiplier is a power of two; average
  pools one 1/count multiplier per channel unless the count is a fixed power of two (a shift);
- adders of the shortcut additions: one LUT per bit; a fork's bypass FIFO holds one frame.
"""
import math
from fractions import Fraction

import numpy as np

from . import exact
from .exact import Fixed

PM1_CPP = "ap_int<2>"  # the element type of dequantized +-1 values
PM1 = Fixed(2, 2)      # the same values as a fixed-point type

FILL = 3  # assumed pipeline depth of a simple streaming loop (cycles per loop entry)


class Stream:
    """A stream of pixels: `kind` 'bits' (ap_uint<C>, 1 = -1) or 'fixed' (vec<elem, C>)."""

    def __init__(self, name, kind, shape, elem=None):
        self.name, self.kind, self.shape, self.elem = name, kind, tuple(int(s) for s in shape), elem
        self.cpu_tensor = None  # (value id, name) of the model tensor with the same values on the CPU

    @property
    def pixels(self):
        return self.shape[0] * self.shape[1]

    @property
    def channels(self):
        return self.shape[2]

    def fixed_type(self):
        """The element type of a fixed-point stream as a Fixed (+-1 values, ap_int<2>, are
        ap_fixed<2, 2>)."""
        return PM1 if self.elem == PM1_CPP else self.elem

    def elem_bits(self):
        return 1 if self.kind == "bits" else self.fixed_type().W

    def elem_cpp(self):
        return self.elem if isinstance(self.elem, str) else self.elem.cpp()

    def pixel_cpp(self):
        if self.kind == "bits":
            return "ap_uint<%d>" % self.channels
        return "lce_hls::vec<%s, %d>" % (self.elem_cpp(), self.channels)


def _est(lut=0, bram18=0, dsp=0, weight_bits=0):
    return dict(lut=int(round(lut)), bram18=int(bram18), dsp=int(dsp), weight_bits=int(weight_bits))


def _clamp_cpp(lo_hi):
    """The lce_hls::Clamp type of (lo, hi) bounds (None: no bound)."""
    lo, hi = lo_hi if lo_hi is not None else (None, None)
    if lo is None and hi is None:
        return "lce_hls::NoClamp"
    return "lce_hls::Clamp<%s, %d, %s, %d>" % ("true" if lo is not None else "false", lo or 0,
                                               "true" if hi is not None else "false", hi or 0)


def _clamped(lo, hi, lo_hi):
    if lo_hi is None:
        return lo, hi
    a, b = lo_hi
    return (max(lo, a) if a is not None else lo), (min(hi, b) if b is not None else hi)


def emit_affine(e, p, channels, acc, vrange, Ms, Bs, pre, post, otype):
    """Typedefs and constants of an lce_hls::Affine output stage named p: z = post(pre(v)*M + B)
    exact in a wide type, cast once to otype. `acc` is the C++ type of v, `vrange` its
    (lo, hi, fraction bits). Returns the C++ declaration of the stage object."""
    lo, hi, fv = vrange
    lo, hi = _clamped(Fraction(lo), Fraction(hi), pre)
    mt, bt = exact.format_for(Ms), exact.format_for(Bs)
    fz = max(fv + mt.F, bt.F)
    vmax = max(abs(lo), abs(hi))
    bound = max([vmax * max(abs(m) for m in Ms) + max(abs(b) for b in Bs), vmax, 8]
                + [Fraction(abs(x)) for x in (post or ()) if x is not None])
    zt = exact.range_format(-bound, bound, fz)
    for t in (mt, bt, zt):
        e.width(2 * t.W + 2)
    e.params.append("typedef %s %s_m_t;\ntypedef %s %s_b_t;\ntypedef %s %s_z_t;\ntypedef %s %s_out_t;"
                    % (mt.cpp(), p, bt.cpp(), p, zt.cpp(), p, otype.cpp(), p))
    e.arr(p + "_m_t", p + "_M", [exact.cpp_literal(m, p + "_m_t") for m in Ms], 4)
    e.arr(p + "_b_t", p + "_B", [exact.cpp_literal(b, p + "_b_t") for b in Bs], 4)
    e.params.append("typedef lce_hls::Affine<%d, %s, %s_m_t, %s_b_t, %s_z_t, %s_out_t, %s, %s > %s_act_t;"
                    % (channels, acc, p, p, p, p, _clamp_cpp(pre), _clamp_cpp(post), p))
    return "%s_act_t %s_act(%s_M, %s_B);" % (p, p, p, p)


class Unit:
    """One hardware unit. `inputs`/`output` are Streams; `source` is the model tensor it came
    from. Subclasses give `template`, `cycles()`, `estimate()` and `emit(e)`."""
    kind = "unit"

    def __init__(self, name, source, inputs, output):
        self.name, self.source, self.inputs, self.output = name, source, list(inputs), output
        self.pe = self.simd = 1
        self.notes = []

    @property
    def outputs(self):
        return [self.output]

    def stream_cpp(self, s):
        """The C++ element type of one of this unit's output streams."""
        return s.pixel_cpp()

    def fold_options(self):
        return [(1, 1)]

    def cycles(self):
        return self.inputs[0].pixels + FILL

    def estimate(self):
        return _est(lut=20 + self.output.channels)

    def report_fields(self):
        return {}

    def emit(self, e):  # pragma: no cover - every unit overrides it
        raise NotImplementedError(type(self).__name__)


class Swu(Unit):
    """Padding + sliding window (line buffer of (KH-1)*DH+1 rows): the taps of each output pixel.
    Zero padding flags the padded taps (`pad`: they contribute nothing); one padding of bits
    sends them as all-zero words (+1)."""
    kind = "swu"

    def __init__(self, name, source, inp, out, geom, pad_is_data):
        super().__init__(name, source, [inp], out)
        self.geom, self.pad_is_data = geom, pad_is_data

    def stream_cpp(self, s):
        return "lce_hls::tap<%s >" % s.pixel_cpp()

    def cycles(self):
        g = self.geom
        # input rows (one loop entry per row) and taps (one entry per output row), not overlapped
        return g["IH"] * g["IW"] + g["OH"] * g["OW"] * g["KH"] * g["KW"] + (g["IH"] + g["OH"]) * FILL

    def estimate(self):
        g = self.geom
        bits = ((g["KH"] - 1) * g["DH"] + 1) * g["IW"] * self.inputs[0].channels * self.inputs[0].elem_bits()
        if bits > 1024:
            return _est(lut=150, bram18=math.ceil(bits / 18432))
        return _est(lut=150 + math.ceil(bits / 64))

    def emit(self, e):
        g, x = self.geom, self.inputs[0]
        e.call("lce_hls::swu<%s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s>(%s, %s);" % (
            x.pixel_cpp(), g["IH"], g["IW"], g["KH"], g["KW"], g["SH"], g["SW"], g["DH"], g["DW"], g["PT"],
            g["PL"], g["OH"], g["OW"], "true" if self.pad_is_data else "false", e.sname(x), e.sname(self.output)))


class Mvau(Unit):
    """The matrix-vector unit (lce_hls::mvau) with PE/SIMD folding; subclasses give the
    dot-product policy and the output stage."""

    def __init__(self, name, source, inp, ci, co, taps, groups, pixels):
        super().__init__(name, source, [inp], None)
        self.ci, self.co, self.taps, self.groups, self.pixels = ci, co, taps, groups, pixels
        self.fixed_pe = self.fixed_simd = None

    @property
    def cg(self):
        return self.ci // self.groups

    def simd_ok(self, simd):
        return self.cg % simd == 0

    def fold_options(self):
        pes = [d for d in range(1, self.co + 1) if self.co % d == 0]
        simds = [d for d in range(1, self.cg + 1) if self.simd_ok(d)]
        if self.fixed_pe:
            pes = [self.fixed_pe]
        if self.fixed_simd:
            simds = [self.fixed_simd]
        return [(p, s) for p in pes for s in simds]

    def fill(self, simd):
        """Assumed pipeline depth: read, the SIMD-wide reduction tree, accumulate, output stage."""
        return 4 + max(1, math.ceil(math.log2(max(simd, 1))))

    def cycles(self, pe=None, simd=None):
        pe, simd = pe or self.pe, simd or self.simd
        return self.pixels * (self.co // pe) * (self.taps * self.cg // simd) + self.fill(simd)

    def report_fields(self):
        return dict(pe=self.pe, simd=self.simd, channels_in=self.ci, channels_out=self.co, taps=self.taps,
                    groups=self.groups, pixels=self.pixels, weight_bits=self.estimate()["weight_bits"])

    def _call(self, e, x_cpp, dot_decl, act_decl):
        e.call("{ static const %s" % act_decl)
        e.call("  static const %s" % dot_decl)
        e.call("  lce_hls::mvau<%d, %d, %d, %d, %d, %d, %d, %s >(%s, %s, %s_dot, %s_act); }" % (
            self.ci, self.co, self.taps, self.groups, self.simd, self.pe, self.pixels, x_cpp + ", " + self.name
            + "_dot_t, " + self.name + "_act_t", e.sname(self.inputs[0]), e.sname(self.output), self.name,
            self.name))


class BMvau(Mvau):
    """lq.Bconv2d (binary dense layers are 1x1 Bconv2d): the BinaryDot policy, and thresholds
    (bitpacked output) or clamp(conv, lo, hi) * multiplier + bias cast to a fixed-point type."""
    kind = "bmvau"

    def __init__(self, name, source, inp, ci, co, taps, groups, pixels, bits, zero_pad):
        super().__init__(name, source, inp, ci, co, taps, groups, pixels)
        self.bits = bits            # uint8 [co, taps, cg], 1 = -1
        self.zero_pad = zero_pad
        self.K = taps * self.cg
        self.thresholds = None      # the converter's int32 thresholds (bitpacked output), or
        self.affine = None          # (multipliers, biases, pre clamp, output type) for fixed output

    @property
    def acc_width(self):
        return self.K.bit_length() + 1  # conv in [-K, K]

    def threshold_cpp(self):
        return "ap_int<%d>" % (self.K.bit_length() + 1) if self.thresholds is not None else None

    def estimate(self, pe=None, simd=None):
        pe, simd = pe or self.pe, simd or self.simd
        wmem = self.co * self.taps * self.cg // (pe * simd)
        tmem = self.co // pe
        acc_w = self.acc_width
        lut = 300 + 1.1 * pe * (2 * simd + 2 * (2 * simd - 1) + 2 * acc_w + acc_w * math.ceil(tmem / 64))
        if wmem <= 128:
            lut += pe * simd * math.ceil(wmem / 64)
        bram = pe * simd * math.ceil(wmem / 16384) if wmem > 128 else 0
        dsp = 0
        if self.affine is not None:  # one multiplier per PE for the output stage
            dsp = pe * (0 if all(m == 0 or (abs(m).numerator == 1 and abs(m).denominator & (abs(m).denominator - 1)
                                            == 0) for m in self.affine[0]) else 1)
        return _est(lut=lut, bram18=bram, dsp=dsp, weight_bits=self.co * self.taps * self.cg)

    def report_fields(self):
        d = super().report_fields()
        d.update(K=self.K, output="thr" if self.thresholds is not None else "affine",
                 threshold_type=self.threshold_cpp(), zero_pad=bool(self.zero_pad))
        return d

    def emit(self, e):
        p, cg, wpr = self.name, self.cg, -(-self.cg // 64)
        e.width(self.ci)
        rows = np.zeros((self.co, self.taps, wpr * 64), np.uint8)
        rows[:, :, :cg] = self.bits
        w64 = np.packbits(rows.reshape(-1, 8), axis=1, bitorder="little").reshape(-1, 8).view("<u8").reshape(-1)
        e.arr("uint64_t", p + "_w", ["0x%016xULL" % int(v) for v in w64], 4)
        acc = "ap_int<%d>" % self.acc_width
        e.params.append("typedef lce_hls::BinaryDot<%d, %d, %s > %s_dot_t;" % (self.simd, wpr, acc, p))
        if self.thresholds is not None:
            K = self.K
            tt = self.threshold_cpp()
            e.params.append("typedef %s %s_thr_t;" % (tt, p))
            e.arr(p + "_thr_t", p + "_thr", ["%d" % min(max(int(t), -1), K) for t in self.thresholds], 16)
            cmp_w = (2 * K + 2).bit_length() + 1
            e.params.append("typedef lce_hls::ThresholdGT<%d, %d, %s, %s_thr_t, ap_int<%d> > %s_act_t;"
                            % (self.co, K, acc, p, cmp_w, p))
            act = "%s_act_t %s_act(%s_thr);" % (p, p, p)
        else:
            Ms, Bs, pre, otype = self.affine
            act = emit_affine(e, p, self.co, acc, (-self.K, self.K, 0), Ms, Bs, pre, None, otype)
        self._call(e, "ap_uint<%d>" % self.ci, "%s_dot_t %s_dot(%s_w);" % (p, p, p), act)


class FMvau(Mvau):
    """A float convolution (also grouped) / dense / depthwise layer on fixed-point data (the first
    layer, a classifier): the FixedDot policy with the float32 weights as exact fixed point and
    an accumulator that cannot wrap; output clamp(acc + bias) cast to a fixed-point type. A
    depthwise convolution is the grouped unit with one channel per group."""
    kind = "fmvau"

    def __init__(self, name, source, inp, ci, co, taps, groups, pixels, weights, bias, post, otype):
        super().__init__(name, source, inp, ci, co, taps, groups, pixels)
        self.weights = weights      # Fractions, index (o*taps + t)*cg + c
        self.bias, self.post, self.otype = bias, post, otype
        self.xtype = inp.fixed_type()
        self.wtype = exact.format_for(weights + [-v for v in weights])
        n = taps * self.cg
        xmax = max(abs(self.xtype.min()), abs(self.xtype.max()))
        bound = max(sum(abs(v) for v in weights[o * n:(o + 1) * n]) for o in range(co)) * xmax
        self.acc_type = exact.range_format(-bound, bound, self.xtype.F + self.wtype.F)
        self.acc_lo, self.acc_hi = -bound, bound

    def estimate(self, pe=None, simd=None):
        pe, simd = pe or self.pe, simd or self.simd
        wmem = self.co * self.taps * self.cg // (pe * simd)
        ww, wx = self.wtype.W, self.xtype.W
        mults = pe * simd
        dsp = mults * (1 if (wx <= 18 and ww <= 27) else math.ceil(wx / 18) * math.ceil(ww / 27)) if wx > 2 else 0
        lut = 300 + 1.1 * pe * (simd * (ww if wx <= 2 else 0) + 2 * self.acc_type.W)
        bram = mults * math.ceil(ww / 18) * math.ceil(wmem / 1024) if wmem > 128 else 0
        if wmem <= 128:
            lut += mults * ww * math.ceil(wmem / 64)
        return _est(lut=lut, bram18=bram, dsp=dsp, weight_bits=self.co * self.taps * self.cg * ww)

    def emit(self, e):
        p, wt = self.name, self.wtype
        if wt.W > 64:
            raise ValueError("layer %s: weights need %d bits; set max_weight_frac_bits lower" % (self.source, wt.W))
        e.width(2 * self.acc_type.W + 2)
        e.params.append("typedef %s %s_w_t;\ntypedef %s %s_acc_t;" % (wt.cpp(), p, self.acc_type.cpp(), p))
        raws = [int(v * 2 ** wt.F) for v in self.weights]
        e.arr("int64_t", p + "_w", ["%dLL" % r if r != -2 ** 63 else "(-0x7fffffffffffffffLL - 1)"
                                    for r in raws], 8)
        e.params.append("typedef lce_hls::FixedDot<%d, %d, %s_w_t, %d, %s_acc_t> %s_dot_t;"
                        % (self.simd, self.cg, p, wt.W, p, p))
        act = emit_affine(e, p, self.co, p + "_acc_t", (self.acc_lo, self.acc_hi, self.acc_type.F),
                          [Fraction(1)] * self.co, self.bias, None, self.post, self.otype)
        self._call(e, "lce_hls::vec<%s, %d>" % (self.inputs[0].elem_cpp(), self.ci),
                   "%s_dot_t %s_dot(%s_w);" % (p, p, p), act)


class Pointwise(Unit):
    """tfl.mul / add / sub by a per-channel (or scalar) constant, or a ReLU variant: per element
    x*M + B (exact), the fused activation, one cast to the output type."""
    kind = "affine"

    def __init__(self, name, source, inp, out, Ms, Bs, post):
        super().__init__(name, source, [inp], out)
        self.Ms, self.Bs, self.post = Ms, Bs, post

    def _multiplies(self):
        return not all(m == 1 for m in self.Ms)

    def estimate(self):
        c, w = self.output.channels, self.output.fixed_type().W
        pow2 = all(m != 0 and abs(m).numerator == 1 and abs(m).denominator & (abs(m).denominator - 1) == 0
                   for m in self.Ms)
        dsp = 0 if pow2 else c * math.ceil(self.inputs[0].elem_bits() / 18) * math.ceil(
            exact.format_for(self.Ms).W / 27)
        return _est(lut=20 + c * w, dsp=dsp)

    def emit(self, e):
        x = self.inputs[0]
        xt = x.fixed_type()
        act = emit_affine(e, self.name, x.channels, x.elem_cpp(), (xt.min(), xt.max(), xt.F), self.Ms, self.Bs,
                          None, self.post, self.output.fixed_type())
        e.call("{ static const %s" % act)
        e.call("  lce_hls::pointwise<%s, %d, %d, %s_act_t>(%s, %s, %s_act); }" % (
            x.elem_cpp(), x.channels, x.pixels, self.name, e.sname(x), e.sname(self.output), self.name))


class BMaxPool(Unit):
    """lq.BMaxPool2d: AND of the window's valid taps (bit 1 is -1)."""
    kind = "bmaxpool"

    def __init__(self, name, source, inp, out, taps):
        super().__init__(name, source, [inp], out)
        self.taps = taps

    def cycles(self):
        return self.output.pixels * self.taps + FILL

    def estimate(self):
        return _est(lut=50 + self.output.channels)

    def emit(self, e):
        o = self.output
        e.call("lce_hls::bmaxpool<%d, %d, %d>(%s, %s);" % (o.channels, o.pixels, self.taps,
                                                            e.sname(self.inputs[0]), e.sname(o)))


class MaxPool(Unit):
    """tfl.max_pool_2d of fixed-point values (out-of-image taps ignored, like TF), then its fused
    activation: one comparator per channel and bit."""
    kind = "maxpool"

    def __init__(self, name, source, inp, out, taps, post=None):
        super().__init__(name, source, [inp], out)
        self.taps, self.post = taps, post

    def cycles(self):
        return self.output.pixels * self.taps + FILL

    def estimate(self):
        o = self.output
        return _est(lut=50 + 2 * o.channels * o.elem_bits())

    def emit(self, e):
        o = self.output
        e.call("lce_hls::maxpool<%s, %d, %d, %d, %s >(%s, %s);" % (
            o.elem_cpp(), o.channels, o.pixels, self.taps, _clamp_cpp(self.post), e.sname(self.inputs[0]), e.sname(o)))


class AvgPool(Unit):
    """tfl.average_pool_2d / tfl.mean over H and W: exact window sum times 1/count."""
    kind = "avgpool"

    def __init__(self, name, source, inp, out, taps, sum_type, padded):
        super().__init__(name, source, [inp], out)
        self.taps, self.sum_type, self.padded = taps, sum_type, padded

    def cycles(self):
        return self.output.pixels * self.taps + FILL

    def estimate(self):
        w, c = self.sum_type.W, self.output.channels
        shift = not self.padded and self.taps & (self.taps - 1) == 0
        return _est(lut=50 + c * w, dsp=0 if shift else c * math.ceil(w / 18) * math.ceil(66 / 27))

    def emit(self, e):
        p, x = self.name, self.inputs[0]
        rt = Fixed(66, 2)
        recip = []
        for n in range(self.taps + 1):
            r = Fraction(1, n) if n else Fraction(0)
            if r.denominator & (r.denominator - 1):
                r = Fraction(round(r * 2 ** 64), 2 ** 64)
            recip.append(exact.cpp_literal(r, p + "_rec_t"))
        e.params.append("typedef %s %s_rec_t;\ntypedef %s %s_sum_t;" % (rt.cpp(), p, self.sum_type.cpp(), p))
        e.arr(p + "_rec_t", p + "_recip", recip, 4)
        e.width(2 * max(rt.W, self.sum_type.W) + 2)
        e.call("lce_hls::avgpool<%s, %s_sum_t, %s_rec_t, %s, %d, %d, %d>(%s, %s, %s_recip);" % (
            x.elem_cpp(), p, p, self.output.elem_cpp(), x.channels, self.output.pixels, self.taps,
            e.sname(x), e.sname(self.output), p))


class Fork(Unit):
    """One stream to two; `outputs` holds both copies (`output` is the first)."""
    kind = "fork"

    def __init__(self, name, source, inp, a, b):
        super().__init__(name, source, [inp], a)
        self.copies = [a, b]

    @property
    def outputs(self):
        return self.copies

    def estimate(self):  # the bypass FIFO holds a frame
        bits = self.inputs[0].pixels * self.inputs[0].channels * self.inputs[0].elem_bits()
        return _est(lut=20, bram18=math.ceil(bits / 18432) if bits > 1024 else 0)

    def emit(self, e):
        a, b = self.copies
        x = self.inputs[0]
        e.call("lce_hls::fork2<%s, %d>(%s, %s, %s);" % (x.pixel_cpp(), x.pixels, e.sname(x), e.sname(a), e.sname(b)))


class Add(Unit):
    """tfl.add of two activation streams (shortcuts): exact, then the fused activation."""
    kind = "add"

    def __init__(self, name, source, a, b, out, post):
        super().__init__(name, source, [a, b], out)
        self.post = post

    def estimate(self):
        return _est(lut=20 + self.output.channels * self.output.fixed_type().W)

    def emit(self, e):
        a, b = self.inputs
        e.call("lce_hls::add<%s, %s, %s, %d, %d, %s >(%s, %s, %s);" % (
            a.elem_cpp(), b.elem_cpp(), self.output.elem_cpp(), a.channels, a.pixels, _clamp_cpp(self.post),
            e.sname(a), e.sname(b), e.sname(self.output)))


def _chain_stream(e, name, kind, channels, elem):
    """An internal stream of a unit made of a chain of templates (declared in the top body)."""
    cpp = "ap_uint<%d>" % channels if kind == "bits" else "lce_hls::vec<%s, %d>" % (elem, channels)
    e.call('hls::stream<%s > %s("%s");' % (cpp, name, name))
    return name


class Concat(Unit):
    """tfl.concatenation along channels (DenseNet, MeliusNet): a chain of the two-input concat
    template for more than two inputs."""
    kind = "concat"

    def cycles(self):
        return self.output.pixels + FILL * (len(self.inputs) - 1)

    def estimate(self):
        return _est(lut=20 * (len(self.inputs) - 1) + (self.output.channels if self.output.kind == "fixed" else 0))

    def emit(self, e):
        o = self.output
        e.width(o.channels)
        acc, acc_c = e.sname(self.inputs[0]), self.inputs[0].channels
        for i, b in enumerate(self.inputs[1:], 1):
            last = i == len(self.inputs) - 1
            dst = e.sname(o) if last else _chain_stream(e, "%s_t%d" % (self.name, i), o.kind, acc_c + b.channels,
                                                       o.elem_cpp() if o.kind == "fixed" else None)
            ta = self.inputs[0].elem_cpp() if i == 1 else o.elem_cpp()
            if o.kind == "bits":
                e.call("lce_hls::concat<%d, %d, %d>(%s, %s, %s);" % (acc_c, b.channels, o.pixels, acc, e.sname(b), dst))
            else:
                e.call("lce_hls::concat<%s, %s, %s, %d, %d, %d>(%s, %s, %s);" % (
                    ta, b.elem_cpp(), o.elem_cpp(), acc_c, b.channels, o.pixels, acc, e.sname(b), dst))
            acc, acc_c = dst, acc_c + b.channels


class Split(Unit):
    """SPLIT along channels into equal parts: a chain of the two-output split template."""
    kind = "split"

    def __init__(self, name, source, inp, outs):
        super().__init__(name, source, [inp], outs[0])
        self.parts = list(outs)

    @property
    def outputs(self):
        return self.parts

    def cycles(self):
        return self.inputs[0].pixels + FILL * (len(self.parts) - 1)

    def estimate(self):
        return _est(lut=20 * (len(self.parts) - 1))

    def emit(self, e):
        x = self.inputs[0]
        e.width(x.channels)
        src, rest = e.sname(x), x.channels
        for i, a in enumerate(self.parts[:-1]):
            rest -= a.channels
            last = i == len(self.parts) - 2
            dst = e.sname(self.parts[-1]) if last else _chain_stream(
                e, "%s_r%d" % (self.name, i + 1), x.kind, rest, x.elem_cpp() if x.kind == "fixed" else None)
            if x.kind == "bits":
                e.call("lce_hls::split<%d, %d, %d>(%s, %s, %s);" % (a.channels, rest, x.pixels, src, e.sname(a), dst))
            else:
                e.call("lce_hls::split<%s, %d, %d, %d>(%s, %s, %s);" % (x.elem_cpp(), a.channels, rest, x.pixels, src,
                                                                         e.sname(a), dst))
            src = dst


class Pad(Unit):
    """tfl.pad with zeros of a fixed-point map: rows, columns and channels."""
    kind = "pad"

    def __init__(self, name, source, inp, out, pads):
        super().__init__(name, source, [inp], out)
        self.pads = pads  # (top, bottom, left, right, channels before, channels after)

    def cycles(self):
        return self.output.pixels + FILL

    def estimate(self):
        return _est(lut=20 + self.output.channels)

    def emit(self, e):
        x = self.inputs[0]
        e.width(self.output.channels)
        e.call("lce_hls::pad<%s, %d, %d, %d, %d, %d, %d, %d, %d, %d>(%s, %s);" % (
            (x.elem_cpp(), x.channels) + x.shape[:2] + tuple(self.pads) + (e.sname(x), e.sname(self.output))))


class Sign(Unit):
    """lq.Quantize of fixed-point values: bit 1 (-1) iff x < 0."""
    kind = "sign"

    def emit(self, e):
        x = self.inputs[0]
        e.call("lce_hls::sign<%s, %d, %d>(%s, %s);" % (x.elem_cpp(), x.channels, x.pixels, e.sname(x),
                                                        e.sname(self.output)))


class Dequantize(Unit):
    """lq.Dequantize: bits to +-1."""
    kind = "dequantize"

    def emit(self, e):
        x = self.inputs[0]
        e.call("lce_hls::dequantize<%d, %d>(%s, %s);" % (x.channels, x.pixels, e.sname(x), e.sname(self.output)))


class Flatten(Unit):
    """tfl.reshape that flattens [H, W, C] to one pixel."""
    kind = "flatten"

    def emit(self, e):
        x = self.inputs[0]
        e.width(self.output.channels)
        if x.kind == "bits":
            e.call("lce_hls::flatten<%d, %d>(%s, %s);" % (x.channels, x.pixels, e.sname(x), e.sname(self.output)))
        else:
            e.call("lce_hls::flatten<%s, %d, %d>(%s, %s);" % (x.elem_cpp(), x.channels, x.pixels, e.sname(x),
                                                               e.sname(self.output)))
