"""Lowering of a converted model (the `tfl` + `lq` MLIR module the converter's passes produced)
to a streaming dataflow design: one hardware unit per op, connected by streams of pixels. The
lowering does no fusion of its own: the converter has already fused what it fuses (an affine
step into a Bconv2d's multiplier and bias, a following sign into its thresholds, a max-pool onto
bits), so `experimental_enable_bitpacked_activations` changes the design exactly where it
changes the graph.

    op                                      unit (units.py; template in lce_hls.h)
    lq.Bconv2d (bitpacked / float output)   swu + bmvau (thresholds / clamp*multiplier+bias)
    lq.BMaxPool2d                           swu + bmaxpool
    lq.Quantize / lq.Dequantize             sign / dequantize
    tfl.conv_2d, fully_connected,           swu + fmvau (float32 weights as exact fixed point)
      depthwise_conv_2d
    tfl.mul / add / sub by a constant,      affine (per channel x*M + B, fused activation)
      tfl.relu / relu6 / relu_n1_to_1
    tfl.add of two activations              add
    tfl.concatenation (channels)            concat
    tfl.split (channels, SPLIT)             split
    tfl.pad (zeros)                         pad
    tfl.max_pool_2d                         swu + maxpool
    tfl.average_pool_2d / tfl.mean          swu + avgpool
    tfl.reshape (a flatten)                 flatten (none if the layout is unchanged)
    tfl.softmax as the model output         on the host
A value read by several ops gets a fork.
"""
import re
from fractions import Fraction

import numpy as np

from .. import mlir
from ..errors import HlsUnsupportedError
from . import exact
from .units import (PM1_CPP, Add, AvgPool, BMaxPool, BMvau, Concat, Dequantize, FMvau, Flatten, Fork, MaxPool, Mvau,
                    Pad, Pointwise, Sign, Split, Stream, Swu)

DEFAULT_INPUT_TYPE = "ap_fixed<16,8,AP_RND_CONV,AP_SAT>"
DEFAULT_OUTPUT_TYPE = "ap_fixed<32,16,AP_RND_CONV,AP_SAT>"
# fixed-point values between layers: 32 fraction bits, so that their one rounding per op is far
# below float32's own error on the CPU
DEFAULT_INTERMEDIATE_TYPE = "ap_fixed<48,16,AP_RND_CONV,AP_SAT>"
# fused activations as (lo, hi) bounds, None = unbounded; the Bconv2d clamp of conv (semantics.md)
# The ReLU-family ops as the fused activation of the same name (their clamps: mlir.activations).
_RELU_OPS = {"tfl.relu": "RELU", "tfl.relu6": "RELU6", "tfl.relu_n1_to_1": "RELU_N1_TO_1"}
# ops whose presence means the model was not converted (its binarization is still float ops)
_UNCONVERTED = ("tfl.sign", "SIGN")


def layer_key_matches(key, name, source):
    """A per-layer option key names a unit, or is a part of its source tensor's name."""
    return key == name or bool(source and key in source)


class Design:
    """The lowered design: units in dataflow order, the input and output streams."""

    def __init__(self, units, inp, out, input_type, config):
        self.units, self.input, self.output = units, inp, out
        self.input_type, self.config = input_type, config

    def mvaus(self):
        return [u for u in self.units if isinstance(u, Mvau)]


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
    """(out, padding before) of TF's SAME padding, from the one table (mlir.same_padding)."""
    out, before, _ = mlir.same_padding(size, k, stride, dil)
    return out, before



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




def _activation(op):
    act = _attr(op, "fused_activation_function", "NONE")
    table = mlir.activations()  # {name: (code, lo, hi)}: the one table (semantics.h)
    if act not in table:
        raise HlsUnsupportedError("fused activation %s" % act)
    _, lo, hi = table[act]
    return None if lo is None and hi is None else (lo, hi)


def _exact_values(arr, what):
    try:
        return [exact.exact(v) for v in np.asarray(arr, np.float32).reshape(-1)]
    except ValueError as e:
        raise HlsUnsupportedError("%s: %s" % (what, e)) from None


class _HostSoftmax:
    """A softmax that is the model's output: left to the host (argmax is unchanged)."""

    def __init__(self, operand, beta):
        self.operand, self.beta = operand, beta


class _Lowering:
    def __init__(self, desc, config):
        self.desc, self.config = desc, config
        self.units, self.values, self.n_streams = [], {}, 0
        self.uses, self.result_shapes, self.value_names = {}, {}, {}
        self.layer_cfg = config.get("layers") or {}
        self.handlers = {
            "lq.Bconv2d": self.bconv2d, "lq.BMaxPool2d": self.bmaxpool, "lq.Quantize": self.quantize,
            "lq.Dequantize": self.dequantize,
            "tfl.conv_2d": self.conv2d, "tfl.fully_connected": self.fully_connected,
            "tfl.depthwise_conv_2d": self.depthwise,
            "tfl.mul": self.elementwise, "tfl.add": self.elementwise, "tfl.sub": self.elementwise,
            "tfl.relu": self.relu, "tfl.relu6": self.relu, "tfl.relu_n1_to_1": self.relu,
            "tfl.concatenation": self.concatenation, "tfl.split": self.split, "tfl.pad": self.pad,
            "tfl.max_pool_2d": self.maxpool, "tfl.average_pool_2d": self.avgpool, "tfl.mean": self.avgpool,
            "tfl.reshape": self.reshape,
        }

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

    def out_type(self, name, src, vid):
        """The fixed-point type of a unit's output: the layer's output_type option, else
        output_type for the model output (through layout-only reshapes), else intermediate_type."""
        cfg = self.cfg_for(name, src)
        if "output_type" in cfg:
            return exact.parse_fixed(cfg["output_type"])
        if vid in self.final_values:
            return exact.parse_fixed(self.config.get("output_type", DEFAULT_OUTPUT_TYPE))
        return exact.parse_fixed(self.config.get("intermediate_type", DEFAULT_INTERMEDIATE_TYPE))

    def const(self, vid, what):
        v = self.values.get(vid)
        if not isinstance(v, np.ndarray):
            raise HlsUnsupportedError("%s must be a constant" % what)
        return v

    def supported(self):
        return ", ".join(sorted(self.handlers)) + ", tfl.softmax (as the model output, on the host)"

    def run(self):
        funcs = self.desc["functions"]
        if not funcs:
            raise HlsUnsupportedError("the model has no subgraph")
        f = funcs[0]
        if len(f["args"]) != 1 or len(f["returns"]) != 1:
            raise HlsUnsupportedError("the HLS lowering supports models with one input and one output "
                                      "(this one has %d and %d)" % (len(f["args"]), len(f["returns"])))
        names = [op["name"] if op["name"] not in ("tfl.builtin", "tfl.custom")
                 else _attr(op, "name", _attr(op, "custom_code", "")) for op in f["ops"]]
        if any(n in _UNCONVERTED for n in names) and not any(n.startswith("lq.") for n in names):
            raise HlsUnsupportedError(
                "this model has not been converted: its binarization is still float ops (%s). Convert it "
                "first (lce_convert.convert_keras_model or lce_convert.convert_saved_model), then lower "
                "the converted model" % ", ".join(sorted({n for n in names if n in _UNCONVERTED})))
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
        # values that are the model output up to layout-only reshapes (and a host softmax)
        producer = {r["id"]: op for op in self.live_ops for r in op["results"]}
        self.final_values, v = set(), f["returns"][0]
        while v is not None:
            self.final_values.add(v)
            op = producer.get(v)
            is_softmax = op is not None and op["name"] == "tfl.builtin" and _attr(op, "name") == "SOFTMAX"
            v = op["operands"][0] if op is not None and (op["name"] == "tfl.reshape" or is_softmax) \
                and self.uses.get(op["operands"][0], 0) == 1 else None
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
        if isinstance(out, Stream):
            out = self.take(ret, out)
        if not isinstance(out, Stream):
            raise HlsUnsupportedError("model output is not computed by a supported layer")
        d = Design(self.units, self.input, out, input_type, self.config)
        d.input_shape = _shape(arg["type"])
        d.host_softmax = host_softmax
        if host_softmax is not None and self.units:
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
        if "data" in op:  # a constant
            t = res[0]["type"]
            if t["quant"] or t["elem"] not in _NP:
                self.values[res[0]["id"]] = None
                return
            arr = np.frombuffer(self.desc["blobs"][op["data"]], dtype=_NP[t["elem"]]).reshape(_shape(t) or ())
            self.values[res[0]["id"]] = arr
            return
        if name == "tfl.no_value":
            self.values[res[0]["id"]] = "none"
            return
        if name == "tfl.builtin" and _attr(op, "name") == "SOFTMAX" and res[0]["id"] in self.returns:
            beta = (op["attrs"].get("options") or {}).get("beta", 1.0)
            self.values[res[0]["id"]] = _HostSoftmax(op["operands"][0], float(getattr(beta, "value", beta)))
            return
        key = name
        if name == "tfl.builtin":  # builtins without a typed op: SPLIT lowers as tfl.split
            key = "tfl." + str(_attr(op, "name", "")).lower()
        handler = self.handlers.get(key)
        if handler is None:
            label = name if name not in ("tfl.builtin", "tfl.custom") else "%s %s" % (
                name, _attr(op, "name", _attr(op, "custom_code", "")))
            raise HlsUnsupportedError("layer %s: %s is not supported by the HLS lowering (ops that lower: %s)"
                                      % (src, label, self.supported()))
        try:
            out = handler(op, src)
        except HlsUnsupportedError as e:
            msg = str(e)
            raise HlsUnsupportedError(msg if msg.startswith("layer ") else "layer %s: %s" % (src, msg)) from None
        outs = out if isinstance(out, list) else [out]  # one value per result
        for r, o in zip(res, outs):
            if isinstance(o, Stream) and o.cpu_tensor is None:
                o.cpu_tensor = (r["id"], _name(r))
            self.values[r["id"]] = o

    def operand(self, op, i):
        return self.values.get(op["operands"][i])

    def materialized(self, op, i, kind=None):
        """The stream of operand i for this consumer (a copy from a fork if the value has
        several consumers)."""
        vid = op["operands"][i]
        v = self.operand(op, i)
        if not isinstance(v, Stream):
            raise HlsUnsupportedError("operand %d is not an activation stream" % i)
        if kind and v.kind != kind:
            raise HlsUnsupportedError("expects %s input, got %s" % (
                "bitpacked" if kind == "bits" else "float (fixed-point)",
                "bitpacked" if v.kind == "bits" else "float (fixed-point)"))
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
                self.add(Fork(self.unit_name("fork"), v.cpu_tensor[1] if v.cpu_tensor else "", src, a, b))
                copies.append(a)
                src = b
            copies.append(src)
            self.forks[vid] = copies
        return copies.pop(0)

    def swu(self, name, src, x, g, pad_is_data):
        """A sliding-window unit (also for 1x1 windows: it turns pixels into taps)."""
        out = self.stream(x.kind, (g["OH"], g["OW"], x.channels), x.elem)
        return self.add(Swu(name + "_swu", src, x, out, g, pad_is_data)).output

    # binary ops
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
        g = _geometry(x.shape, kh, kw, _attr(op, "stride_height", 1), _attr(op, "stride_width", 1),
                      _attr(op, "dilation_height_factor", 1), _attr(op, "dilation_width_factor", 1), padding)
        zero_pad = bool(padding == "SAME" and pad_values == 0 and (g["PT"] or g["PL"] or _pads_after(g)))
        name = self.unit_name("bconv")
        # zero padding: flagged taps that contribute nothing (the CPU's popcount correction);
        # one padding: all-zero words (+1) as data
        win = self.swu(name, src, x, g, pad_is_data=not zero_pad)
        u = self.add(BMvau(name, src, win, ci, co, kh * kw, groups, g["OH"] * g["OW"], bits, zero_pad))
        out_shape = (g["OH"], g["OW"], co)
        rtype = op["results"][0]["type"]
        thr = self.operand(op, 4)
        if rtype["elem"] == "i32":
            if not isinstance(thr, np.ndarray) or thr.size != co:
                raise HlsUnsupportedError("bitpacked output without %d thresholds" % co)
            u.thresholds = [int(t) for t in thr.reshape(-1)]
            u.output = self.stream("bits", out_shape)
            return u.output
        if rtype["elem"] != "f32" or rtype["quant"]:
            raise HlsUnsupportedError("Bconv2d with %s output (float32 and bitpacked outputs lower)" % rtype["elem"])
        mult, bias = self.operand(op, 2), self.operand(op, 3)
        Ms = _exact_values(mult, "multiplier") if isinstance(mult, np.ndarray) else [Fraction(1)] * co
        Bs = _exact_values(bias, "bias") if isinstance(bias, np.ndarray) else [Fraction(0)] * co
        if len(Ms) != co or len(Bs) != co:
            raise HlsUnsupportedError("multiplier/bias of %d/%d values for %d channels" % (len(Ms), len(Bs), co))
        pre = _activation(op)
        u.affine = (Ms, Bs, pre, self.out_type(name, src, op["results"][0]["id"]))
        u.output = self.stream("fixed", out_shape, u.affine[3])
        return u.output

    def bmaxpool(self, op, src):
        x = self.materialized(op, 0, "bits")
        g = _geometry(x.shape, _attr(op, "filter_height"), _attr(op, "filter_width"), _attr(op, "stride_height"),
                      _attr(op, "stride_width"), 1, 1, _attr(op, "padding"))
        name = self.unit_name("bmaxpool")
        win = self.swu(name, src, x, g, pad_is_data=False)
        out = self.stream("bits", (g["OH"], g["OW"], x.channels))
        self.add(BMaxPool(name, src, win, out, g["KH"] * g["KW"]))
        return out

    def quantize(self, op, src):
        x = self.materialized(op, 0, "fixed")
        out = self.stream("bits", x.shape)
        self.add(Sign(self.unit_name("sign"), src, [x], out))
        return out

    def dequantize(self, op, src):
        x = self.materialized(op, 0, "bits")
        rtype = op["results"][0]["type"]
        if rtype["elem"] != "f32":
            raise HlsUnsupportedError("Dequantize to %s (float32 lowers)" % rtype["elem"])
        out = self.stream("fixed", x.shape, PM1_CPP)
        self.add(Dequantize(self.unit_name("dequantize"), src, [x], out))
        return out

    # fixed-point ops
    def conv2d(self, op, src):
        x = self.materialized(op, 0, "fixed")
        w = self.const(op["operands"][1], "the filter").astype(np.float32)
        co, kh, kw, cg = w.shape
        groups = x.channels // cg if cg else 0
        if groups < 1 or groups * cg != x.channels or co % groups:
            raise HlsUnsupportedError("filter of %d input channels for %d input channels and %d outputs (not a "
                                      "grouped convolution)" % (cg, x.channels, co))
        g = _geometry(x.shape, kh, kw, _attr(op, "stride_h"), _attr(op, "stride_w"), _attr(op, "dilation_h_factor"),
                      _attr(op, "dilation_w_factor"), _attr(op, "padding"))
        return self.fixed_mvau(op, src, x, w.reshape(co, kh * kw, cg), g, self.operand(op, 2), groups)

    def fully_connected(self, op, src):
        x = self.materialized(op, 0, "fixed")
        if x.pixels != 1:
            raise HlsUnsupportedError("fully-connected layer on a %dx%d map (flatten first)" % x.shape[:2])
        w = self.const(op["operands"][1], "the weights").astype(np.float32)
        if w.ndim != 2 or w.shape[1] != x.channels:
            raise HlsUnsupportedError("weights of shape %s do not match %d inputs" % (list(w.shape), x.channels))
        g = _geometry((1, 1), 1, 1, 1, 1, 1, 1, "VALID")
        return self.fixed_mvau(op, src, x, w.reshape(w.shape[0], 1, w.shape[1]), g, self.operand(op, 2), 1)

    def depthwise(self, op, src):
        x = self.materialized(op, 0, "fixed")
        w = self.const(op["operands"][1], "the filter").astype(np.float32)
        _, kh, kw, c = w.shape
        if c != x.channels or int(_attr(op, "depth_multiplier", 1)) != 1:
            raise HlsUnsupportedError("depthwise conv with a depth multiplier other than 1")
        g = _geometry(x.shape, kh, kw, _attr(op, "stride_h"), _attr(op, "stride_w"), _attr(op, "dilation_h_factor"),
                      _attr(op, "dilation_w_factor"), _attr(op, "padding"))
        # one channel per group: weights per channel o and tap t, index o*taps + t
        wt = np.transpose(w.reshape(kh * kw, c), (1, 0)).reshape(c, kh * kw, 1)
        return self.fixed_mvau(op, src, x, wt, g, self.operand(op, 2), c)

    def fixed_mvau(self, op, src, x, w, g, bias, groups):
        co, taps, cg = w.shape
        name = self.unit_name("fixed")
        win = self.swu(name, src, x, g, pad_is_data=False)
        vals = _exact_values(w, "weights")
        # Raw weights travel as int64: at most 64 bits with the integer part (and a sign bit for
        # negation), so at most 64 - I fraction bits; fewer if the user asks.
        big = max(abs(v) for v in vals) + 1
        maxfb = min(int(self.config.get("max_weight_frac_bits", 64)), 64 - exact.format_for([big, -big]).I)
        rounded = False
        for i, v in enumerate(vals):
            if exact.frac_bits(v) > maxfb:
                vals[i] = Fraction(round(v * 2 ** maxfb), 2 ** maxfb)
                rounded = True
        Bs = [Fraction(0)] * co
        if isinstance(bias, np.ndarray):
            Bs = _exact_values(bias, "bias")
            if len(Bs) != co:
                raise HlsUnsupportedError("bias of %d values for %d channels" % (len(Bs), co))
        otype = self.out_type(name, src, op["results"][0]["id"])
        out = self.stream("fixed", (g["OH"], g["OW"], co), otype)
        u = self.add(FMvau(name, src, win, cg * groups, co, taps, groups, g["OH"] * g["OW"], vals, Bs,
                           _activation(op), otype))
        u.output = out
        if rounded:
            u.notes.append("weights rounded to 2^-%d (max_weight_frac_bits): not exact" % maxfb)
        return out

    def elementwise(self, op, src):
        name = op["name"]
        a, b = self.operand(op, 0), self.operand(op, 1)
        if name == "tfl.add" and isinstance(a, Stream) and isinstance(b, Stream):
            return self.add2(op, src)
        if isinstance(a, np.ndarray) and isinstance(b, Stream):
            const, i = a, 1
        elif isinstance(b, np.ndarray) and isinstance(a, Stream):
            const, i = b, 0
        else:
            raise HlsUnsupportedError("%s of two activations (only tfl.add of two activations, or an op with a "
                                      "per-channel constant, lowers)" % name)
        x = self.materialized(op, i, "fixed")
        c = x.channels
        vals = _exact_values(const, "constant")
        if const.ndim and any(d != 1 for d in const.shape[:-1]) or len(vals) not in (1, c):
            raise HlsUnsupportedError("%s by a constant of shape %s is not per-channel" % (name, list(const.shape)))
        if len(vals) == 1:
            vals = vals * c
        if name == "tfl.mul":
            Ms, Bs = vals, [Fraction(0)] * c
        elif name == "tfl.add":
            Ms, Bs = [Fraction(1)] * c, vals
        elif i == 0:  # x - c
            Ms, Bs = [Fraction(1)] * c, [-v for v in vals]
        else:         # c - x
            Ms, Bs = [Fraction(-1)] * c, vals
        return self.pointwise(op, src, x, Ms, Bs, _activation(op))

    def relu(self, op, src):
        x = self.materialized(op, 0, "fixed")
        c = x.channels
        clamp = mlir.activations()[_RELU_OPS[op["name"]]][1:]
        return self.pointwise(op, src, x, [Fraction(1)] * c, [Fraction(0)] * c, clamp)

    def pointwise(self, op, src, x, Ms, Bs, post):
        name = self.unit_name("affine" if op["name"] in ("tfl.mul", "tfl.add", "tfl.sub") else "clamp")
        out = self.stream("fixed", x.shape, self.out_type(name, src, op["results"][0]["id"]))
        u = self.add(Pointwise(name, src, x, out, Ms, Bs, post))
        u.kind = "affine" if name.startswith("affine") else "clamp"
        return out

    def add2(self, op, src):
        a, b = self.materialized(op, 0, "fixed"), self.materialized(op, 1, "fixed")
        if a.shape != b.shape:
            raise HlsUnsupportedError("adding %s and %s (broadcasting is not supported)" % (a.shape, b.shape))
        ta, tb = a.fixed_type(), b.fixed_type()
        post = _activation(op)
        otype = exact.range_format(ta.min() + tb.min(), ta.max() + tb.max(), max(ta.F, tb.F))
        out = self.stream("fixed", a.shape, exact.Fixed(otype.W, otype.I, True, "AP_TRN", "AP_WRAP"))  # exact
        self.add(Add(self.unit_name("add"), src, a, b, out, post))
        return out

    def _channel_axis(self, axis, value_type, what):
        rank = len(_shape(value_type))
        if int(axis) not in (-1, rank - 1):
            raise HlsUnsupportedError("%s along axis %d (only the channel axis lowers)" % (what, int(axis)))

    def concatenation(self, op, src):
        if _activation(op) is not None:
            raise HlsUnsupportedError("concatenation with a fused activation")
        self._channel_axis(_attr(op, "axis", -1), op["results"][0]["type"], "concatenation")
        xs = [self.materialized(op, i) for i in range(len(op["operands"]))]
        if len(xs) < 2 or any(x.kind != xs[0].kind or x.shape[:2] != xs[0].shape[:2] for x in xs):
            raise HlsUnsupportedError("concatenating %s" % ", ".join("%s %s" % (x.kind, list(x.shape)) for x in xs))
        shape = (xs[0].shape[0], xs[0].shape[1], sum(x.channels for x in xs))
        if xs[0].kind == "bits":
            if any(x.channels % 32 for x in xs[:-1]):
                raise HlsUnsupportedError("concatenating bitpacked tensors of %s channels (all but the last must be "
                                          "multiples of 32: the words do not line up)" % [x.channels for x in xs])
            out = self.stream("bits", shape)
        else:
            ts = [x.fixed_type() for x in xs]
            I, F = max(t.I for t in ts), max(t.F for t in ts)
            out = self.stream("fixed", shape, exact.Fixed(I + F, I))  # holds every input exactly
        self.add(Concat(self.unit_name("concat"), src, xs, out))
        return out

    def split(self, op, src):
        axis = self.const(op["operands"][0], "the split axis").reshape(-1)
        x = self.materialized(op, 1)
        self._channel_axis(axis[0], op["results"][0]["type"], "split")
        n = len(op["results"])
        if n < 1 or x.channels % n:
            raise HlsUnsupportedError("split of %d channels into %d parts" % (x.channels, n))
        part = x.channels // n
        if x.kind == "bits" and part % 32 and n > 1:
            raise HlsUnsupportedError("split of bitpacked tensors into parts of %d channels (not whole words)" % part)
        if n == 1:
            return [x]
        outs = [self.stream(x.kind, (x.shape[0], x.shape[1], part), x.elem) for _ in range(n)]
        self.add(Split(self.unit_name("split"), src, x, outs))
        return outs

    def pad(self, op, src):
        x = self.materialized(op, 0, "fixed")
        pads = self.const(op["operands"][1], "the paddings").astype(np.int64)
        if pads.ndim != 2 or pads.shape[1] != 2 or pads.shape[0] not in (2, 4) or pads[0].any() or (pads < 0).any():
            raise HlsUnsupportedError("paddings %s (zero padding of H, W and channels lowers)" % pads.tolist())
        if pads.shape[0] == 2:  # [batch, C]
            pads = np.concatenate([pads[:1], [[0, 0], [0, 0]], pads[1:]])
        (pt, pb), (pl, pr), (cb, ca) = pads[1].tolist(), pads[2].tolist(), pads[3].tolist()
        out = self.stream("fixed", (x.shape[0] + pt + pb, x.shape[1] + pl + pr, x.channels + cb + ca), x.elem)
        self.add(Pad(self.unit_name("pad"), src, x, out, (pt, pb, pl, pr, cb, ca)))
        return out

    def maxpool(self, op, src):
        x = self.materialized(op, 0, "fixed")
        g = _geometry(x.shape, _attr(op, "filter_height"), _attr(op, "filter_width"), _attr(op, "stride_h"),
                      _attr(op, "stride_w"), 1, 1, _attr(op, "padding"))
        name = self.unit_name("maxpool")
        win = self.swu(name, src, x, g, pad_is_data=False)
        out = self.stream("fixed", (g["OH"], g["OW"], x.channels), x.elem)
        self.add(MaxPool(name, src, win, out, g["KH"] * g["KW"], _activation(op)))
        return out

    def avgpool(self, op, src):
        x = self.materialized(op, 0, "fixed")
        if op["name"] == "tfl.mean":
            axes = self.const(op["operands"][1], "the mean axes").reshape(-1).tolist()
            if sorted(int(a) for a in axes) != [1, 2]:
                raise HlsUnsupportedError("mean over axes %s (only the spatial mean, axes [1, 2])" % axes)
            g = _geometry(x.shape, x.shape[0], x.shape[1], 1, 1, 1, 1, "VALID")
        else:
            if _activation(op) is not None:
                raise HlsUnsupportedError("average pool with a fused activation")
            g = _geometry(x.shape, _attr(op, "filter_height"), _attr(op, "filter_width"), _attr(op, "stride_h"),
                          _attr(op, "stride_w"), 1, 1, _attr(op, "padding"))
        name = self.unit_name("avgpool")
        win = self.swu(name, src, x, g, pad_is_data=False)
        xt = x.fixed_type()
        taps = g["KH"] * g["KW"]
        sum_type = exact.range_format(xt.min() * taps, xt.max() * taps, xt.F)
        out = self.stream("fixed", (g["OH"], g["OW"], x.channels), self.out_type(name, src, op["results"][0]["id"]))
        padded = bool(g["PT"] or g["PL"] or _pads_after(g))
        u = self.add(AvgPool(name, src, win, out, taps, sum_type, padded))
        if padded or taps & (taps - 1):
            u.notes.append("1/count rounded to 2^-64 unless count is a power of two (then exact)")
        return out

    def reshape(self, op, src):
        res_shape = _shape(op["results"][0]["type"])
        x = self.materialized(op, 0)
        new = _reshaped(x.shape, res_shape, x.kind == "bits")
        if new is None:
            raise HlsUnsupportedError("reshape %s -> %s is not a flatten" % (list(x.shape), res_shape))
        if new == x.shape:
            return x
        out = self.stream(x.kind, new, x.elem)
        self.add(Flatten(self.unit_name("flatten"), src, [x], out))
        return out


def description(module):
    """The description of an imported module (lce_convert.mlir.Module.description)."""
    return module.description()


def lower(model_bytes, config=None):
    """Lower converted .tflite bytes (our converter's or LCE 0.16's output) to a Design."""
    module = mlir.import_tflite(bytes(model_bytes))
    return _Lowering(description(module), dict(config or {})).run()
