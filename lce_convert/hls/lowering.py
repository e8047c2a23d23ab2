"""Lowering of a converted model (the `tfl` + `lq` MLIR module) to a streaming dataflow design:
one hardware unit per layer, connected by streams of pixels.

Units (each maps to one template of kernels/hls/lce_hls.h):
- `swu`: padding + sliding window (line buffer), emits the taps of each output pixel;
- `bmvau`: XNOR-popcount matrix-vector unit (lq.Bconv2d, binary dense as a 1x1 Bconv2d) with
  PE/SIMD folding and integer thresholds (bitpacked output) or an exact affine output cast to a
  fixed-point type;
- `fmvau`: fixed-point matrix-vector unit (the non-binary first layer, a classifier on +-1
  inputs), exact accumulation of the float32 weights as fixed point;
- `bmaxpool` (AND of bits), `sign` (lq.Quantize of fixed-point values), `dequantize`
  (bits to +-1), `flatten` (reshape to one pixel).

Elementwise per-channel ops after a matrix-vector unit (mul/add/sub by constants, ReLU
variants, fused activations) and a following lq.Quantize are folded exactly into that unit's
output stage (`exact.Chain`), through a flattening reshape if there is one.
"""
import re
from fractions import Fraction

import numpy as np

from ..errors import HlsUnsupportedError
from . import exact
from .exact import Chain, Fixed, INF

DEFAULT_INPUT_TYPE = "ap_fixed<16,8,AP_RND_CONV,AP_SAT>"
DEFAULT_OUTPUT_TYPE = "ap_fixed<32,16,AP_RND_CONV,AP_SAT>"
# fixed-point values between layers (residual streams, pooled maps): 32 fraction bits, so that
# their one rounding is far below float32's own error on the CPU
DEFAULT_INTERMEDIATE_TYPE = "ap_fixed<48,16,AP_RND_CONV,AP_SAT>"
_ACTIVATION_CLAMPS = {  # in the accumulator/value domain
    "NONE": (-INF, INF), "RELU": (0, INF), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1),
}


PM1_CPP = "ap_int<2>"  # the element type of dequantized +-1 values
PM1 = Fixed(2, 2)      # the same values as a fixed-point type


def layer_key_matches(key, name, source):
    """A per-layer option key names a unit, or is a part of its source tensor's name."""
    return key == name or bool(source and key in source)


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

    def elem_cpp(self):
        return self.elem if isinstance(self.elem, str) else self.elem.cpp()

    def pixel_cpp(self):
        if self.kind == "bits":
            return "ap_uint<%d>" % self.channels
        return "lce_hls::vec<%s, %d>" % (self.elem_cpp(), self.channels)


class Unit:
    """One hardware unit. `inputs`/`output` are Streams; `source` is the model tensor it came from."""
    kind = "unit"

    def __init__(self, name, source, inputs, output):
        self.name, self.source, self.inputs, self.output = name, source, list(inputs), output
        self.pe = self.simd = 1
        self.notes = []

    def fold_options(self):
        return [(1, 1)]


class Swu(Unit):
    kind = "swu"

    def __init__(self, name, source, inp, out, geom, pad_is_data):
        super().__init__(name, source, [inp], out)
        self.geom, self.pad_is_data = geom, pad_is_data


class BMaxPool(Unit):
    kind = "bmaxpool"

    def __init__(self, name, source, inp, out, taps):
        super().__init__(name, source, [inp], out)
        self.taps = taps


class Mvau(Unit):
    """Common part of the binary and fixed-point matrix-vector units."""

    def __init__(self, name, source, inp, ci, co, taps, groups, pixels):
        super().__init__(name, source, [inp], None)
        self.ci, self.co, self.taps, self.groups, self.pixels = ci, co, taps, groups, pixels
        self.act = None          # ('thr', ...) or ('affine', ...)
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

    def cycles(self, pe=None, simd=None):
        pe, simd = pe or self.pe, simd or self.simd
        return self.pixels * (self.co // pe) * (self.taps * self.cg // simd)


class BMvau(Mvau):
    kind = "bmvau"

    def __init__(self, name, source, inp, ci, co, taps, groups, pixels, bits, zero_pad):
        super().__init__(name, source, inp, ci, co, taps, groups, pixels)
        self.bits = bits            # uint8 [co, taps, cg], 1 = -1
        self.zero_pad = zero_pad
        self.K = taps * self.cg

    def simd_ok(self, simd):
        return self.cg % simd == 0 and (not self.zero_pad or simd % 2 == 0)


class FMvau(Mvau):
    kind = "fmvau"

    def __init__(self, name, source, inp, ci, co, taps, pixels, weights, xtype, depthwise=False):
        super().__init__(name, source, inp, ci, co, taps, 1, pixels)
        self.depthwise = depthwise  # ci == 1: channel o reads input channel o
        self.weights = weights      # list of Fractions, index (o*taps + t)*ci + c
        self.xtype = xtype  # a Fixed
        # Exact formats: weights (symmetric, so a channel can be negated), and an accumulator
        # that can never wrap.
        self.wtype = exact.format_for(weights + [-v for v in weights])
        n = taps * ci
        xmax = max(abs(self.xtype.min()), abs(self.xtype.max()))
        bound = max(sum(abs(v) for v in weights[o * n:(o + 1) * n]) for o in range(co)) * xmax
        self.acc_type = exact.range_format(-bound, bound, self.xtype.F + self.wtype.F)
        self.acc_lo, self.acc_hi, self.acc_w = -bound, bound, self.acc_type.W


class MaxPool(BMaxPool):
    """Max-pool of fixed-point values (out-of-image taps ignored, like TF)."""
    kind = "maxpool"


class Fork(Unit):
    """One stream to two; `outputs` holds both copies (output is the first)."""
    kind = "fork"


class Add(Unit):
    kind = "add"

    def __init__(self, name, source, a, b, out, lo, hi):
        super().__init__(name, source, [a, b], out)
        self.lo, self.hi = lo, hi


class AvgPool(Unit):
    """Average pool / global mean: exact window sum times 1/count."""
    kind = "avgpool"

    def __init__(self, name, source, inp, out, taps, sum_type):
        super().__init__(name, source, [inp], out)
        self.taps, self.sum_type = taps, sum_type


class Sign(Unit):
    kind = "sign"


class Dequantize(Unit):
    kind = "dequantize"


class Flatten(Unit):
    kind = "flatten"


class Design:
    """The lowered design: units in dataflow order, the input and output streams."""

    def __init__(self, units, inp, out, input_type, config):
        self.units, self.input, self.output = units, inp, out
        self.input_type, self.config = input_type, config

    def mvaus(self):
        return [u for u in self.units if isinstance(u, Mvau)]


# --- reading the module ----------------------------------------------------------------------------

_NP = {"f32": np.float32, "i32": np.int32, "i8": np.int8, "ui8": np.uint8, "i64": np.int64, "i16": np.int16}


def _attr(op, key, default=None):
    v = op["attrs"].get(key, default)
    if isinstance(v, bytes):
        v = v.decode()
    return v


def _shape(t):
    return list(t["shape"])


def _hwc(shape, what):
    """A tensor shape [batch, H, W, C] or [batch, C] as (H, W, C)."""
    if len(shape) == 4 and shape[0] in (-1, 1):
        return tuple(shape[1:])
    if len(shape) == 2 and shape[0] in (-1, 1):
        return (1, 1, shape[1])
    raise HlsUnsupportedError("%s: tensor shape %s is not [batch, H, W, C] or [batch, C]" % (what, shape))


def _same_pads(size, k, stride, dil):
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dil + 1 - size, 0)
    return out, total // 2


def _geometry(in_hwc, kh, kw, sh, sw, dh, dw, padding):
    ih, iw = in_hwc[0], in_hwc[1]
    if padding == "SAME":
        oh, pt = _same_pads(ih, kh, sh, dh)
        ow, pl = _same_pads(iw, kw, sw, dw)
    elif padding == "VALID":
        oh = (ih - (kh - 1) * dh - 1) // sh + 1
        ow = (iw - (kw - 1) * dw - 1) // sw + 1
        pt = pl = 0
    else:
        raise HlsUnsupportedError("padding %r" % padding)
    if oh < 1 or ow < 1:
        raise HlsUnsupportedError("window %dx%d does not fit the %dx%d input" % (kh, kw, ih, iw))
    return dict(IH=ih, IW=iw, KH=kh, KW=kw, SH=sh, SW=sw, DH=dh, DW=dw, PT=pt, PL=pl, OH=oh, OW=ow)


class _Pending:
    """A matrix-vector unit whose output stage is still open: a per-channel chain, then layout
    or max-pool steps seen after it (`post`, applied to the stream once the stage is chosen;
    a following lq.Quantize makes them act on bits: max-pool of the signs is the AND of bits,
    since the sign is monotone). `shape` is the unit's output shape."""

    def __init__(self, unit, chains, out_shape, post=()):
        self.unit, self.chains, self.shape, self.post = unit, chains, out_shape, list(post)

    def then(self, step):
        return _Pending(self.unit, self.chains, self.shape, self.post + [step])

    def with_chains(self, chains):
        return _Pending(self.unit, chains, self.shape, self.post)

    def current_shape(self):
        return self.post[-1][-1] if self.post else self.shape


class _Lowering:
    def __init__(self, desc, config):
        self.desc, self.config = desc, config
        self.units, self.values, self.n_streams = [], {}, 0
        self.uses, self.result_shapes, self.value_names = {}, {}, {}
        self.layer_cfg = config.get("layers") or {}

    # streams and names
    def stream(self, kind, shape, elem=None):
        self.n_streams += 1
        return Stream("s%d" % self.n_streams, kind, shape, elem)

    def add(self, unit):
        self.units.append(unit)
        return unit

    def unit_name(self, prefix):
        return "%s%d" % (prefix, sum(1 for u in self.units if re.fullmatch(prefix + r"\d+", u.name)))

    def cfg_for(self, name, source):
        """Per-layer options of the unit `name` made from the tensor `source`."""
        out = {}
        for key, opts in self.layer_cfg.items():
            if layer_key_matches(key, name, source):
                out.update(opts)
        return out

    def const(self, vid, what):
        v = self.values.get(vid)
        if not isinstance(v, np.ndarray):
            raise HlsUnsupportedError("%s must be a constant" % what)
        return v

    def run(self):
        funcs = self.desc["functions"]
        if not funcs:
            raise HlsUnsupportedError("the model has no subgraph")
        f = funcs[0]
        if len(f["args"]) != 1 or len(f["returns"]) != 1:
            raise HlsUnsupportedError("the HLS lowering supports models with one input and one output "
                                      "(this one has %d and %d)" % (len(f["args"]), len(f["returns"])))
        live = set(f["returns"])
        for op in reversed(f["ops"]):
            if any(r["id"] in live for r in op["results"]):
                live.update(op["operands"])
        self.live_ops = [op for op in f["ops"] if any(r["id"] in live for r in op["results"])]
        for op in self.live_ops:  # dead ops need no hardware
            for o in op["operands"]:
                self.uses[o] = self.uses.get(o, 0) + 1
        for r in f["returns"]:
            self.uses[r] = self.uses.get(r, 0) + 1
        self.forks = {}
        self.returns = set(f["returns"])
        arg = f["args"][0]
        if arg["type"]["elem"] != "f32" or arg["type"]["quant"]:
            raise HlsUnsupportedError("model input %s: only float32 inputs are supported (got %s)"
                                      % (_name(arg), arg["type"]["elem"]))
        input_type = exact.parse_fixed(self.config.get("input_type", DEFAULT_INPUT_TYPE))
        self.input = self.stream("fixed", _hwc(_shape(arg["type"]), "model input"), input_type)
        self.values[arg["id"]] = self.input
        self.input_type = input_type
        for op in self.live_ops:
            self.op(op)
        (ret,) = f["returns"]
        host_softmax = None
        if isinstance(self.values.get(ret), _HostSoftmax):
            host_softmax = self.values[ret].beta
            ret = self.values[ret].operand
        out = self.values.get(ret)
        if isinstance(out, _Pending):
            out = self.finish(out, "fixed", final=True)
            out.cpu_tensor = (ret, self.value_names.get(ret))
        elif isinstance(out, Stream):
            out = self.take(ret, out)
        if not isinstance(out, Stream):
            raise HlsUnsupportedError("model output is not computed by a supported layer")
        d = Design(self.units, self.input, out, input_type, self.config)
        d.input_shape = _shape(arg["type"])
        d.host_softmax = host_softmax
        if host_softmax is not None:
            self.units[-1].notes.append("the model's final softmax (beta %g) runs on the host: the design "
                                        "outputs logits" % host_softmax)
        d.output_shape = self.result_shapes.get(ret, [-1] + list(out.shape))
        return d

    # --- ops ------------------------------------------------------------------------------------
    def op(self, op):
        name = op["name"]
        res = op["results"]
        src = _name(res[0]) if res else name
        for r in res:
            self.value_names[r["id"]] = _name(r)
            if isinstance(r.get("type"), dict) and r["type"].get("shape") is not None:
                self.result_shapes[r["id"]] = _shape(r["type"])
        if name == "tfl.const":
            t = res[0]["type"]
            if t["quant"] or t["elem"] not in _NP:
                self.values[res[0]["id"]] = None
                return
            data = self.desc["blobs"][op["data"]]
            arr = np.frombuffer(data, dtype=_NP[t["elem"]]).reshape(_shape(t) or ())
            self.values[res[0]["id"]] = arr
            return
        if name == "tfl.no_value":
            self.values[res[0]["id"]] = "none"
            return
        if name == "tfl.builtin" and _attr(op, "name") == "SOFTMAX" and res[0]["id"] in self.returns:
            beta = (op["attrs"].get("options") or {}).get("beta", 1.0)
            self.values[res[0]["id"]] = _HostSoftmax(op["operands"][0], float(getattr(beta, "value", beta)))
            return
        handler = {
            "tfl.conv_2d": self.conv2d, "tfl.fully_connected": self.fully_connected,
            "lq.Bconv2d": self.bconv2d, "lq.BMaxPool2d": self.bmaxpool, "lq.Quantize": self.quantize,
            "lq.Dequantize": self.dequantize, "tfl.reshape": self.reshape,
            "tfl.mul": self.elementwise, "tfl.add": self.elementwise, "tfl.sub": self.elementwise,
            "tfl.relu": self.relu, "tfl.max_pool_2d": self.maxpool, "tfl.average_pool_2d": self.avgpool,
            "tfl.mean": self.avgpool, "tfl.depthwise_conv_2d": self.depthwise, "tfl.relu6": self.relu, "tfl.relu_n1_to_1": self.relu,
        }.get(name)
        if handler is None:
            label = name if name not in ("tfl.builtin", "tfl.custom") else "%s %s" % (
                name, _attr(op, "name", _attr(op, "custom_code", "")))
            raise HlsUnsupportedError("layer %s: %s is not supported by the HLS lowering (supported: binary "
                                      "convolutions and dense layers, binary max-pool, a fixed-point first "
                                      "layer and classifier, per-channel affine and ReLU steps, flatten)"
                                      % (src, label))
        try:
            out = handler(op, src)
        except HlsUnsupportedError as e:
            msg = str(e)
            raise HlsUnsupportedError(msg if msg.startswith("layer ") else "layer %s: %s" % (src, msg)) from None
        if isinstance(out, Stream) and out.cpu_tensor is None:
            out.cpu_tensor = (res[0]["id"], src)
        self.values[res[0]["id"]] = out

    def operand(self, op, i):
        return self.values.get(op["operands"][i])

    def materialized(self, op, i, kind=None):
        """The stream of operand i for this consumer (a copy from a fork if the value has
        several consumers)."""
        vid = op["operands"][i]
        v = self.operand(op, i)
        if isinstance(v, _Pending):
            v = self.finish(v, "fixed")
            v.cpu_tensor = (vid, self.value_names.get(vid))
            self.values[vid] = v
        if not isinstance(v, Stream):
            raise HlsUnsupportedError("operand %d is not an activation stream" % i)
        if kind and v.kind != kind:
            raise HlsUnsupportedError("expects %s input, got %s" % (
                "bitpacked" if kind == "bits" else "float (fixed-point)", v.kind))
        return self.take(vid, v)

    def take(self, vid, v):
        n = self.uses.get(vid, 1)
        if n <= 1:
            return v
        copies = self.forks.get(vid)
        if copies is None:
            copies, src = [], v
            for k in range(n - 1):  # a chain of two-way forks
                a, b = self.stream(v.kind, v.shape, v.elem), self.stream(v.kind, v.shape, v.elem)
                f = self.add(Fork(self.unit_name("fork"), v.cpu_tensor[1] if v.cpu_tensor else "", [src], a))
                f.outputs = [a, b]
                copies.append(a)
                src = b
            copies.append(src)
            self.forks[vid] = copies
        return copies.pop(0)

    def single_use_pending(self, op, i):
        v = self.operand(op, i)
        return v if isinstance(v, _Pending) and self.uses.get(op["operands"][i], 0) == 1 else None

    def conv2d(self, op, src):
        x = self.materialized(op, 0, "fixed")
        w = self.const(op["operands"][1], "the filter").astype(np.float32)
        co, kh, kw, ci = w.shape
        if ci != x.channels:
            raise HlsUnsupportedError("grouped float convolutions are not supported")
        g = _geometry(x.shape, kh, kw, _attr(op, "stride_h"), _attr(op, "stride_w"), _attr(op, "dilation_h_factor"),
                      _attr(op, "dilation_w_factor"), _attr(op, "padding"))
        bias = self.operand(op, 2)
        return self.fixed_mvau(op, src, x, w.reshape(co, kh * kw, ci), g, bias)

    def fully_connected(self, op, src):
        x = self.materialized(op, 0, "fixed")
        if x.pixels != 1:
            raise HlsUnsupportedError("fully-connected layer on a %dx%d map (flatten first)" % x.shape[:2])
        w = self.const(op["operands"][1], "the weights").astype(np.float32)
        if w.ndim != 2 or w.shape[1] != x.channels:
            raise HlsUnsupportedError("weights of shape %s do not match %d inputs" % (w.shape, x.channels))
        g = _geometry((1, 1), 1, 1, 1, 1, 1, 1, "VALID")
        return self.fixed_mvau(op, src, x, w.reshape(w.shape[0], 1, w.shape[1]), g, self.operand(op, 2))

    def fixed_mvau(self, op, src, x, w, g, bias, depthwise=False):
        co, taps, ci = w.shape
        name = self.unit_name("fixed")
        win = self.swu(name, src, x, g, pad_is_data=False)
        vals = [exact.exact(v) for v in w.reshape(-1)]
        # Raw weights travel as int64: at most 64 bits with the integer part (and a sign bit for
        # negation), so at most 64 - I fraction bits; fewer if the user asks.
        int_bits = exact.format_for([max(abs(v) for v in vals) + 1, -(max(abs(v) for v in vals) + 1)]).I
        maxfb = min(int(self.config.get("max_weight_frac_bits", 64)), 64 - int_bits)
        rounded = False
        for i, v in enumerate(vals):
            if exact.frac_bits(v) > maxfb:
                vals[i] = Fraction(round(v * 2 ** maxfb), 2 ** maxfb)
                rounded = True
        u = self.add(FMvau(name, src, win, ci, co, taps, g["OH"] * g["OW"], vals, x.fixed_type(), depthwise))
        if rounded:
            u.notes.append("weights rounded to 2^-%d (max_weight_frac_bits): not exact" % maxfb)
        chains = [Chain() for _ in range(co)]
        if isinstance(bias, np.ndarray):
            b = bias.astype(np.float32).reshape(-1)
            if b.shape[0] != co:
                raise HlsUnsupportedError("bias of %d values for %d channels" % (b.shape[0], co))
            for c, v in zip(chains, b):
                c.add(exact.exact(v))
        lo, hi = _ACTIVATION_CLAMPS.get(_attr(op, "fused_activation_function", "NONE"), (None, None))
        if lo is None:
            raise HlsUnsupportedError("fused activation %s" % _attr(op, "fused_activation_function"))
        for c in chains:
            c.clamp(lo, hi)
        return _Pending(u, chains, (g["OH"], g["OW"], co))

    def swu(self, name, src, x, g, pad_is_data):
        """A sliding-window unit (also for 1x1 windows: it turns pixels into taps)."""
        out = self.stream(x.kind, (g["OH"], g["OW"], x.channels), x.elem)
        return self.add(Swu(name + "_swu", src, x, out, g, pad_is_data)).output

    def bconv2d(self, op, src):
        x = self.materialized(op, 0, "bits")
        filt = self.const(op["operands"][1], "the filter")
        co, kh, kw, words = filt.shape
        ci = int(_attr(op, "channels_in"))  # all input channels; groups from the packed filter depth
        if ci != x.channels:
            raise HlsUnsupportedError("channels_in %d does not match the %d input channels" % (ci, x.channels))
        groups = -(-ci // 32) // words if words else 0
        if groups < 1 or -(-ci // 32) % words or ci % groups:
            raise HlsUnsupportedError("filter depth of %d words does not divide %d input channels into groups"
                                      % (words, ci))
        cg = ci // groups
        if -(-cg // 32) != words:
            raise HlsUnsupportedError("filter depth of %d words does not match %d channels per group" % (words, cg))
        if co % groups:
            raise HlsUnsupportedError("%d output channels are not divisible by %d groups" % (co, groups))
        bits = np.unpackbits(np.ascontiguousarray(filt.astype("<i4")).view(np.uint8), bitorder="little")
        bits = bits.reshape(co, kh, kw, words * 32)[..., :cg].reshape(co, kh * kw, cg)
        padding, pad_values = _attr(op, "padding"), int(_attr(op, "pad_values", 0))
        g = _geometry(x.shape, kh, kw, _attr(op, "stride_height"), _attr(op, "stride_width"),
                      _attr(op, "dilation_height_factor"), _attr(op, "dilation_width_factor"), padding)
        zero_pad = padding == "SAME" and pad_values == 0 and (g["PT"] or g["PL"] or _pads_after(g))
        if zero_pad and cg % 2:
            raise HlsUnsupportedError("zero padding with an odd channel count per group (%d): the popcount "
                                      "domain needs C/2 per padded tap (train with pad_values=1 or an even "
                                      "channel count)" % cg)
        name = self.unit_name("bconv")
        # one padding: padded taps are all-zero words (+1); zero padding: flagged taps that add
        # SIMD/2 to the popcount, i.e. 0 to the +-1 dot product
        win = self.swu(name, src, x, g, pad_is_data=not zero_pad)
        u = self.add(BMvau(name, src, win, x.channels, co, kh * kw, groups, g["OH"] * g["OW"], bits, bool(zero_pad)))
        mult, bias, thr = self.operand(op, 2), self.operand(op, 3), self.operand(op, 4)
        out_shape = (g["OH"], g["OW"], co)
        act = _attr(op, "fused_activation_function", "NONE")
        if isinstance(thr, np.ndarray):
            tau = [min(max(int(t) + 1, 0), u.K + 1) for t in thr.reshape(-1)]
            u.act = ("thr", tau)
            u.output = self.stream("bits", out_shape)
            return u.output
        if not (isinstance(mult, np.ndarray) and isinstance(bias, np.ndarray)):
            raise HlsUnsupportedError("Bconv2d without multiplier/bias or thresholds")
        lo, hi = _ACTIVATION_CLAMPS.get(act, (None, None))
        if lo is None:
            raise HlsUnsupportedError("fused activation %s" % act)
        chains = []
        for m, b in zip(mult.astype(np.float32).reshape(-1), bias.astype(np.float32).reshape(-1)):
            chains.append(Chain().clamp(lo, hi).mul(exact.exact(m)).add(exact.exact(b)))
        return _Pending(u, chains, out_shape)

    def bmaxpool(self, op, src):
        x = self.materialized(op, 0, "bits")
        g = _geometry(x.shape, _attr(op, "filter_height"), _attr(op, "filter_width"), _attr(op, "stride_height"),
                      _attr(op, "stride_width"), 1, 1, _attr(op, "padding"))
        return self.pool(x, g, src)

    def quantize(self, op, src):
        p = self.single_use_pending(op, 0)
        if p is not None:
            return self.finish(p, "bits")
        x = self.materialized(op, 0, "fixed")
        out = self.stream("bits", x.shape)
        self.add(Sign(self.unit_name("sign"), src, [x], out))
        return out

    def dequantize(self, op, src):
        x = self.materialized(op, 0, "bits")
        out = self.stream("fixed", x.shape, PM1_CPP)
        self.add(Dequantize(self.unit_name("dequantize"), src, [x], out))
        return out

    def reshape(self, op, src):
        res_shape = _shape(op["results"][0]["type"])
        p = self.single_use_pending(op, 0)
        if p is not None:
            new = _reshaped(p.current_shape(), res_shape, False)
            if new is None:
                raise HlsUnsupportedError("reshape %s -> %s is not a flatten" % (p.current_shape(), res_shape))
            return p.then(("reshape", src, new))
        x = self.materialized(op, 0)
        new = _reshaped(x.shape, res_shape, x.kind == "bits")
        if new is None:
            raise HlsUnsupportedError("reshape %s -> %s is not a flatten" % (x.shape, res_shape))
        return self.flatten(x, new, src)

    def flatten(self, x, new, src):
        if new == x.shape:
            return x
        out = self.stream(x.kind, new, x.elem)
        self.add(Flatten(self.unit_name("flatten"), src, [x], out))
        return out

    def elementwise(self, op, src):
        name = op["name"]
        a, b = self.operand(op, 0), self.operand(op, 1)
        if name == "tfl.add" and not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            return self.add2(op, src)
        if isinstance(a, np.ndarray) and name != "tfl.sub":
            a, b, i = b, a, 1
        else:
            i = 0
        p = self.single_use_pending(op, i)
        if p is not None and any(step[0] == "maxpool" for step in p.post):
            p = None  # max then affine is not affine then max
        if p is None or not isinstance(b, np.ndarray):
            raise HlsUnsupportedError("%s is supported only as a per-channel constant step after a convolution "
                                      "or dense layer (float element-wise ops between layers, e.g. shortcut "
                                      "additions, are not)" % name)
        c = p.shape[2]
        vals = b.astype(np.float32).reshape(-1)
        if b.ndim and any(d != 1 for d in b.shape[:-1]) or vals.shape[0] not in (1, c) or \
                (p.post and vals.shape[0] != 1):
            raise HlsUnsupportedError("%s by a constant of shape %s is not per-channel" % (name, list(b.shape)))
        if vals.shape[0] == 1:
            vals = np.repeat(vals, c)
        chains = [ch.copy() for ch in p.chains]
        for ch, v in zip(chains, vals):
            v = exact.exact(v)
            if name == "tfl.mul":
                ch.mul(v)
            elif name == "tfl.add":
                ch.add(v)
            else:
                ch.add(-v)
        lo, hi = _ACTIVATION_CLAMPS.get(_attr(op, "fused_activation_function", "NONE"), (None, None))
        if lo is None:
            raise HlsUnsupportedError("fused activation %s" % _attr(op, "fused_activation_function"))
        for ch in chains:
            ch.clamp(lo, hi)
        return p.with_chains(chains)

    def relu(self, op, src):
        p = self.single_use_pending(op, 0)
        if p is None:
            raise HlsUnsupportedError("%s is supported only directly after a convolution or dense layer" % op["name"])
        lo, hi = {"tfl.relu": (0, INF), "tfl.relu6": (0, 6), "tfl.relu_n1_to_1": (-1, 1)}[op["name"]]
        # clamps are monotone non-decreasing: they commute with max-pool and layout steps
        return p.with_chains([ch.copy().clamp(lo, hi) for ch in p.chains])

    # --- closing an output stage ---------------------------------------------------------------
    def finish(self, p, mode, final=False):
        u = p.unit
        if mode == "bits":
            if isinstance(u, BMvau):
                tau, flips = [], []
                for ch in p.chains:
                    t, f = exact.binary_tau(u.K, ch)
                    tau.append(t)
                    flips.append(f)
                for o, f in enumerate(flips):
                    if f:
                        u.bits[o] ^= 1
                u.act = ("thr", tau)
            else:
                u.act = ("fthr", p.chains)
            u.output = self.stream("bits", p.shape)
        else:
            cfg = self.cfg_for(u.name, u.source)
            otype = exact.parse_fixed(cfg.get("output_type", self.config.get("output_type", DEFAULT_OUTPUT_TYPE))
                                      if final else cfg.get("output_type", self.config.get(
                                          "intermediate_type", DEFAULT_INTERMEDIATE_TYPE)))
            u.act = ("affine", p.chains, otype)
            u.output = self.stream("fixed", p.shape, otype)
        out = u.output
        for step in p.post:
            if step[0] == "reshape":
                out = self.flatten(out, step[2], step[1])
            else:
                out = self.pool(out, step[2], step[1])
        return out

    def maxpool(self, op, src):
        p = self.single_use_pending(op, 0)
        x = None if p is not None else self.materialized(op, 0, "fixed")
        shape = p.current_shape() if p is not None else x.shape
        g = _geometry(shape, _attr(op, "filter_height"), _attr(op, "filter_width"), _attr(op, "stride_h"),
                      _attr(op, "stride_w"), 1, 1, _attr(op, "padding"))
        if _attr(op, "fused_activation_function", "NONE") != "NONE":
            raise HlsUnsupportedError("max-pool with a fused activation")
        if p is not None:
            return p.then(("maxpool", src, g, (g["OH"], g["OW"], shape[2])))
        return self.pool(x, g, src)

    def avgpool(self, op, src):
        x = self.materialized(op, 0, "fixed")
        if op["name"] == "tfl.mean":
            axes = self.const(op["operands"][1], "the mean axes").reshape(-1).tolist()
            if sorted(int(a) for a in axes) != [1, 2]:
                raise HlsUnsupportedError("mean over axes %s (only the spatial mean, axes [1, 2])" % axes)
            g = _geometry(x.shape, x.shape[0], x.shape[1], 1, 1, 1, 1, "VALID")
        else:
            if _attr(op, "fused_activation_function", "NONE") != "NONE":
                raise HlsUnsupportedError("average pool with a fused activation")
            g = _geometry(x.shape, _attr(op, "filter_height"), _attr(op, "filter_width"), _attr(op, "stride_h"),
                          _attr(op, "stride_w"), 1, 1, _attr(op, "padding"))
        name = self.unit_name("avgpool")
        win = self.swu(name, src, x, g, pad_is_data=False)
        xt = x.fixed_type()
        taps = g["KH"] * g["KW"]
        sum_type = exact.range_format(xt.min() * taps, xt.max() * taps, xt.F)
        cfg = self.cfg_for(name, src)
        otype = exact.parse_fixed(cfg.get("output_type", self.config.get("intermediate_type",
                                                                          DEFAULT_INTERMEDIATE_TYPE)))
        out = self.stream("fixed", (g["OH"], g["OW"], x.channels), otype)
        u = self.add(AvgPool(name, src, win, out, taps, sum_type))
        padded = g["PT"] or g["PL"] or _pads_after(g)
        if padded or taps & (taps - 1):
            u.notes.append("1/count rounded to 2^-64 unless count is a power of two (then exact)")
        return out

    def add2(self, op, src):
        a, b = self.materialized(op, 0, "fixed"), self.materialized(op, 1, "fixed")
        if a.shape != b.shape:
            raise HlsUnsupportedError("adding %s and %s (broadcasting is not supported)" % (a.shape, b.shape))
        ta, tb = a.fixed_type(), b.fixed_type()
        lo, hi = _ACTIVATION_CLAMPS.get(_attr(op, "fused_activation_function", "NONE"), (None, None))
        if lo is None:
            raise HlsUnsupportedError("fused activation %s" % _attr(op, "fused_activation_function"))
        otype = exact.range_format(ta.min() + tb.min(), ta.max() + tb.max(), max(ta.F, tb.F))
        otype = Fixed(otype.W, otype.I, True, "AP_TRN", "AP_WRAP")  # exact: no rounding, no overflow
        out = self.stream("fixed", a.shape, otype)
        self.add(Add(self.unit_name("add"), src, a, b, out, lo, hi))
        return out

    def depthwise(self, op, src):
        x = self.materialized(op, 0, "fixed")
        w = self.const(op["operands"][1], "the filter").astype(np.float32)
        _, kh, kw, c = w.shape
        if c != x.channels or int(_attr(op, "depth_multiplier", 1)) != 1:
            raise HlsUnsupportedError("depthwise conv with a depth multiplier other than 1")
        g = _geometry(x.shape, kh, kw, _attr(op, "stride_h"), _attr(op, "stride_w"), _attr(op, "dilation_h_factor"),
                      _attr(op, "dilation_w_factor"), _attr(op, "padding"))
        # weights per channel o and tap t, as (o*taps + t) with one input channel per output
        wt = np.transpose(w.reshape(kh * kw, c), (1, 0)).reshape(c, kh * kw, 1)
        return self.fixed_mvau(op, src, x, wt, g, self.operand(op, 2), depthwise=True)

    def pool(self, x, g, src):
        name = self.unit_name("bmaxpool" if x.kind == "bits" else "maxpool")
        win = self.swu(name, src, x, g, pad_is_data=False)
        out = self.stream(x.kind, (g["OH"], g["OW"], x.channels), x.elem)
        self.add(BMaxPool(name, src, win, out, g["KH"] * g["KW"]) if x.kind == "bits"
                 else MaxPool(name, src, win, out, g["KH"] * g["KW"]))
        return out


class _HostSoftmax:
    """A softmax that is the model's output: left to the host (argmax is unchanged)."""

    def __init__(self, operand, beta):
        self.operand, self.beta = operand, beta


def _pads_after(g):
    bottom = max((g["OH"] - 1) * g["SH"] + (g["KH"] - 1) * g["DH"] + 1 - g["IH"] - g["PT"], 0)
    right = max((g["OW"] - 1) * g["SW"] + (g["KW"] - 1) * g["DW"] + 1 - g["IW"] - g["PL"], 0)
    return bottom or right


def _reshaped(hwc, res_shape, packed):
    """The (H, W, C) after a reshape that flattens (or keeps a flat tensor flat), or None."""
    n = hwc[0] * hwc[1] * hwc[2]
    try:
        rh = _hwc(res_shape, "reshape")
    except HlsUnsupportedError:
        return None
    if rh[0] != 1 or rh[1] != 1:
        return (tuple(rh) if tuple(rh) == tuple(hwc) else None)
    last = rh[2]
    if packed:
        if hwc[0] * hwc[1] != 1 and hwc[2] % 32:
            return None  # packed words of several pixels do not flatten into one word string
        return (1, 1, n) if last == -(-n // 32) else None
    return (1, 1, n) if last == n else None


def _name(value):
    n = value.get("name")
    if isinstance(n, bytes):
        n = n.decode(errors="replace")
    return n or "?"


def lower(model_bytes, config=None):
    """Lower converted .tflite bytes (our converter's or LCE 0.16's output) to a Design."""
    from .. import mlir
    module = mlir.import_tflite(bytes(model_bytes))
    desc = module._handle.to_description()
    return _Lowering(desc, dict(config or {})).run()
