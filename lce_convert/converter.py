"""The converter: Keras/larq model, SavedModel or plain .tflite in; .tflite with LCE-compatible
binary custom ops out.

TensorFlow's own TFLite converter handles every ordinary layer (float, or int8 where the model
has fake-quantization nodes); our MLIR passes then find the binarized layers and fuse them (see
passes/transforms/). The result is a `ConvertedModel`: the flatbuffer bytes, with the per-layer
conversion report attached as `.report` (also logged on the "lce_convert" logger).

int8, with the meaning of LCE 0.16's options:
- a model with fake-quantization nodes (tf.quantization.fake_quant_with_min_max_*, QAT) is
  converted by TensorFlow as quantization-aware: int8 where the nodes give ranges;
- `experimental_default_int8_range=(min, max)` ("dummy quantization", for latency tests) gives
  that range to every float tensor that has none and that LCE 0.16's default-range pass would
  quantize (model inputs and results of builtin ops), after binarization; TensorFlow's
  quantizer then quantizes the builtin ops;
- in both cases `lq-fuse-int8` lets binary ops consume and produce int8 directly where the
  quantizer left DEQUANTIZE/QUANTIZE around them, as LCE does;
- `inference_input_type`/`inference_output_type=tf.int8` then make the model's float inputs
  and outputs int8 where an int8 QUANTIZE/DEQUANTIZE sits at them (`tfl-int8-io`); as in LCE,
  the others stay float32 (with a warning here), and a model without int8 tensors is an error.
"""
import contextlib
import logging
import math
import re
import warnings

import numpy as np

from . import _tflite_io
from ._schema import schema
from .errors import InvalidModelError, InvalidOptionError, LceConvertError
from .mlir import import_tflite

logger = logging.getLogger("lce_convert")

_CONV_LAYER_TYPES = ("Conv1D", "QuantConv1D", "Conv2D", "QuantConv2D", "DepthwiseConv2D", "QuantDepthwiseConv2D",
                     "Dense", "QuantDense", "SeparableConv2D", "QuantSeparableConv2D")


class LayerReport:
    """What happened to one conv/dense layer."""

    def __init__(self, name, op, binarized, reason="", details=None, keras_layer=None):
        self.name = name                  # TFLite tensor name of the layer's output
        self.op = op                      # "conv2d", "dense" or "depthwise_conv2d"
        self.binarized = binarized
        self.reason = reason              # why it stayed float ("" if binarized)
        self.details = details or {}      # for binarized layers: output mode, padding, ...
        self.keras_layer = keras_layer    # the Keras layer name, when converting a Keras model

    def __repr__(self):
        what = "binarized" if self.binarized else "float: " + self.reason
        return "LayerReport(%s, %s)" % (self.keras_layer or self.name, what)


class ConversionReport:
    """Per-layer conversion report: for every conv/dense layer, whether it was binarized and,
    if not, why."""

    def __init__(self, layers):
        self.layers = layers

    @property
    def binarized(self):
        return [l for l in self.layers if l.binarized]

    @property
    def not_binarized(self):
        return [l for l in self.layers if not l.binarized]

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def __str__(self):
        rows = [("layer", "op", "result")]
        for l in self.layers:
            if l.binarized:
                d = l.details
                result = "binarized (%s output%s)" % (d.get("output", "?"),
                                                      ", zero padding" if d.get("zero_padding") else "")
            else:
                result = "float: " + l.reason
            rows.append((l.keras_layer or _short(l.name), l.op, result))
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = ["%-*s  %-*s  %s" % (widths[0], r[0], widths[1], r[1], r[2]) for r in rows]
        lines.append("%d of %d conv/dense layers binarized" % (len(self.binarized), len(self.layers)))
        return "\n".join(lines)

    def to_dict(self):
        """The report as plain data (for JSON): {"layers": [...], "binarized": n, "total": n}."""
        return {"layers": [{"keras_layer": l.keras_layer, "tensor": l.name, "op": l.op, "binarized": l.binarized,
                            "reason": l.reason, "details": {k: (v.decode() if isinstance(v, bytes) else v)
                                                            for k, v in l.details.items()}}
                           for l in self.layers],
                "binarized": len(self.binarized), "total": len(self.layers)}


class ConvertedModel(bytes):
    """A converted .tflite flatbuffer (it is a `bytes`), with its `.report`."""

    report: ConversionReport

    def __new__(cls, data, report):
        obj = super().__new__(cls, data)
        obj.report = report
        return obj


def _short(name):
    name = name.split(";")[-1] if name else "?"
    return name


TF_EXTRA = "pip install 'lce_convert[tf]'"


def _tensorflow():
    """TensorFlow, which the converter's front end needs (the runtime does not): a clear
    LceConvertError naming the extra to install when it is missing."""
    try:
        import tensorflow as tf
    except ImportError as e:
        raise LceConvertError("converting needs TensorFlow, which is not installed (%s): %s (TensorFlow 2.21, "
                              "tf-keras and larq; set TF_USE_LEGACY_KERAS=1 for larq)" % (e, TF_EXTRA)) from None
    return tf


def _dtype_name(t, what):
    name = getattr(t, "name", t)
    if isinstance(name, str) and name in ("float32", "int8"):
        return name
    raise InvalidOptionError("%s must be tf.float32 or tf.int8, got %r" % (what, t))


def _check_options(inference_input_type, inference_output_type, target,
                   experimental_default_int8_range, experimental_enable_bitpacked_activations,
                   lce_compatible=True):
    input_type = _dtype_name(inference_input_type, "inference_input_type")
    output_type = _dtype_name(inference_output_type, "inference_output_type")
    if target not in ("arm", "xcore"):
        raise InvalidOptionError("target must be 'arm' or 'xcore', got %r" % (target,))
    if experimental_default_int8_range is not None:
        r = experimental_default_int8_range
        if (not isinstance(r, (tuple, list)) or len(r) != 2 or
                not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r) or
                not r[0] < r[1]):
            raise InvalidOptionError("experimental_default_int8_range must be None or a (min, max) pair "
                                     "of numbers with min < max, got %r" % (r,))
        if not all(math.isfinite(x) for x in r):
            raise InvalidOptionError("experimental_default_int8_range must be finite, got %r" % (r,))
    if not isinstance(experimental_enable_bitpacked_activations, bool):
        raise InvalidOptionError("experimental_enable_bitpacked_activations must be a bool, got %r"
                                 % (experimental_enable_bitpacked_activations,))
    if not isinstance(lce_compatible, bool):
        raise InvalidOptionError("lce_compatible must be a bool, got %r" % (lce_compatible,))
    return input_type, output_type


def _flag(value):
    return "true" if value else "false"


def _pipeline(bitpacked_activations, lce_compatible=True, target="arm"):
    """The binarization pipeline, registered in C++ (passes/transforms/Pipelines.cpp). Without
    `lce_compatible`, zero-padded binary convs also take fused activations, affine steps after
    them, bitpacked and int8 output: our runtime corrects zero padding in the accumulator, LCE
    0.16's runtime cannot run these ops."""
    return "lq-binarize{bitpacked-activations=%s lce-compatible=%s target=%s}" % (
        _flag(bitpacked_activations), _flag(lce_compatible), target)


def _quantized_pipeline(lce_compatible=True):
    """After TensorFlow's quantizer: binary ops read and write int8 where that is exact."""
    return "lq-fuse-quantized{lce-compatible=%s}" % _flag(lce_compatible)


def _quantize_default_range(desc, default_range):
    """TensorFlow's post-training quantizer run on the binarized model with default ranges (the
    one place where the conversion serializes: the quantizer takes bytes): builtin ops become
    int8 (weights per channel, dense layers per tensor, as LCE 0.16); the binary custom ops stay
    and get DEQUANTIZE/QUANTIZE around them. The ranges go on the tensors that LCE 0.16's
    default-range pass gives one to (_tflite_io.write)."""
    _tensorflow()
    from tensorflow.lite.python.convert import mlir_quantize
    try:
        return mlir_quantize(_tflite_io.write(desc, default_range=default_range), disable_per_channel=False,
                             fully_quantize=False, disable_per_channel_for_dense_layers=True)
    except Exception as e:  # TF raises many exception types here
        raise LceConvertError("TensorFlow's quantizer failed with experimental_default_int8_range=%r: %s"
                              % (tuple(default_range), e)) from e


def _quantized_storages(desc):
    """The storage types ("i8", "ui8", ...) of the quantized tensors of a model description."""
    types = [a["type"] for f in desc["functions"] for a in f["args"]]
    types += [r["type"] for f in desc["functions"] for o in f["ops"] for r in o["results"]]
    return {t["quant"]["storage"] for t in types if t.get("quant")}


def _check_int8_io(desc, input_type, output_type):
    """After tfl-int8-io: int8 model inputs/outputs where an int8 QUANTIZE (DEQUANTIZE) sat at
    them. As in LCE 0.16, inputs that stay float32 get a warning (outputs: _refuse_float_outputs);
    a model without int8 tensors is an error (the pass changes nothing there)."""
    from .mlir import output_types
    storages = _quantized_storages(desc)
    if "i8" not in storages:
        hint = (" (its uint8 QUANTIZE ops come from fake-quantization nodes converted without "
                "optimizations=[tf.lite.Optimize.DEFAULT], which makes them int8)" if "ui8" in storages else "")
        raise LceConvertError(
            "inference_input_type/inference_output_type=tf.int8 need an int8-quantized model, and "
            "this one has no int8 tensors%s. Quantize it with fake-quantization nodes "
            "(quantization-aware training) or experimental_default_int8_range=(min, max)" % hint)
    for f in output_types(desc):
        ins = [t["elem"] for t in f["inputs"]]
        outs = [t["elem"] for t in f["outputs"]]
        left = ["input %d" % i for i, t in enumerate(ins) if input_type == "int8" and t == "f32"]
        if left:
            warnings.warn("%s of %s stay float32: no int8 QUANTIZE/DEQUANTIZE at them"
                          % (", ".join(left), f["function"]), stacklevel=4)
        _refuse_float_outputs(f["function"], outs, output_type)


def _refuse_float_outputs(function, outputs, output_type):
    """inference_output_type=tf.int8 never leaves an output silently float32: an output that
    stays float has no int8 range (a binary layer's float result in a quantization-aware model,
    where no fake-quantization node follows the last layer)."""
    left = [i for i, t in enumerate(outputs) if output_type == "int8" and t == "f32"]
    if left:
        raise LceConvertError(
            "inference_output_type=tf.int8: output %s of %s would stay float32, because no int8 range is known "
            "for it (it is the float result of a binary layer, with no fake-quantization node after it). Add a "
            "fake-quantization node after the last layer, pass experimental_default_int8_range=(min, max), or "
            "convert with inference_output_type=tf.float32" % (", ".join(map(str, left)), function))


def _default_range_quantization(lo, hi):
    """(scale, zero point) of TensorFlow's int8 quantization of the range (lo, hi), nudged to
    hold 0 (as its default-range quantizer gives them)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = float(np.float32((hi - lo) / 255.0))
    zero = -128.0 - lo / scale
    zero_point = int(math.copysign(math.floor(abs(zero) + 0.5), zero))
    return scale, max(-128, min(127, zero_point))


_OP_KIND = {"tfl.conv_2d": "conv2d", "tfl.fully_connected": "dense",
            "tfl.depthwise_conv_2d": "depthwise_conv2d"}


def _from_constants(value, producers):
    """True if `value` is computed from constants only (no function argument reaches it)."""
    stack, seen = [value], set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        op = producers.get(v)
        if op is None:
            return False
        stack.extend(op["operands"])
    return True


def _report(desc):
    layers = []
    for f in desc["functions"]:
        producers = {r["id"]: o for o in f["ops"] for r in o["results"]}
        for o in f["ops"]:
            name = (o["results"][0]["name"] or b"").decode("utf-8", "replace") if o["results"] else ""
            attrs = o["attrs"]
            if o["name"] == "lq.Bconv2d":
                out_type = o["results"][0]["type"]
                out = "int8" if out_type.get("quant") else out_type["elem"]
                kind = attrs.get("lq.layer_kind", b"conv2d").decode()
                layers.append(LayerReport(name, kind, True, details={
                    "output": {"i32": "bitpacked", "f32": "float"}.get(out, out),
                    "padding": attrs["padding"].decode(),
                    "zero_padding": attrs["padding"] == b"SAME" and attrs.get("pad_values", 0) == 0,
                    "channels_in": attrs["channels_in"]}))
            elif o["name"] in _OP_KIND:
                reason = attrs.get("lq.not_binarized", b"not analysed").decode()
                layers.append(LayerReport(name, _OP_KIND[o["name"]], False, reason))
            elif (o["name"] == "tfl.builtin" and attrs.get("name") in (b"BATCH_MATMUL", "BATCH_MATMUL")
                  and len(o["operands"]) == 2 and _from_constants(o["operands"][1], producers)):
                # A Dense layer whose kernel TensorFlow did not make a constant: listed, so
                # that the Keras names of the other layers do not shift onto the wrong entries.
                layers.append(LayerReport(name, "dense", False, "TensorFlow made it a BATCH_MATMUL: its weights "
                                          "are computed at run time, not a constant"))
    return ConversionReport(layers)


def _check_tflite_bytes(model_bytes):
    """convert_tflite's input: .tflite bytes. Other inputs (a path, a Keras file's bytes)
    get one sentence naming what they are and the function that takes them."""
    import os
    if isinstance(model_bytes, (str, os.PathLike)):
        raise InvalidModelError("convert_tflite expects the .tflite model's bytes, got the path %r: pass "
                                "open(path, 'rb').read()" % (os.fspath(model_bytes),))
    if not isinstance(model_bytes, (bytes, bytearray, memoryview)):
        raise InvalidModelError("convert_tflite expects the .tflite model's bytes, got %s" % type(model_bytes).__name__)
    head = bytes(model_bytes[:8])
    if head == b"\x89HDF\r\n\x1a\n":
        raise InvalidModelError("convert_tflite got the bytes of an HDF5 (.h5) Keras model, not a .tflite model: "
                                "load it with tf.keras.models.load_model and call convert_keras_model "
                                "(or run lce-convert convert model.h5)")
    if head[:4] == b"PK\x03\x04":
        raise InvalidModelError("convert_tflite got the bytes of a zip archive (a .keras Keras model?), not a "
                                ".tflite model: load it with tf.keras.models.load_model and call "
                                "convert_keras_model (or run lce-convert convert model.keras)")


def _add_signature(desc, signature):
    """The entry function's SignatureDef (key, input names, output names), when TensorFlow's
    conversion gave none (its frozen-graph route drops them) and the counts fit."""
    if signature is None or desc["attrs"].get("tfl.signatures") or not desc["functions"]:
        return
    key, inputs, outputs = signature
    f = desc["functions"][0]
    if len(inputs) != len(f["args"]) or len(outputs) != len(f["returns"]):
        return
    from ._core import SymbolRef
    desc["attrs"]["tfl.signatures"] = [{
        "key": key.encode(), "subgraph": SymbolRef(f["name"]),
        "inputs": [[name.encode(), i] for i, name in enumerate(inputs)],
        "outputs": [[name.encode(), i] for i, name in enumerate(outputs)]}]


def _check_xcore(report, desc):
    """target="xcore" as LCE 0.16: its xcore conversion has no LceBMaxPool2d (the lq-binarize
    pipeline keeps max-pools float for xcore) and leaves zero-padded SAME binary convs float,
    which lce_convert does not do yet: a model with such convs is refused, naming them."""
    zero_padded = [_short(l.name) for l in report.binarized if l.details.get("zero_padding")]
    if zero_padded:
        raise InvalidOptionError(
            "target='xcore' is not supported for this model: LCE 0.16's xcore conversion keeps zero-padded SAME "
            "binary convs float, which lce_convert does not do yet, and the model has %s. Use pad_values=1 in "
            "those layers or convert with target='arm'" % ", ".join(zero_padded))


def convert_tflite(model_bytes, *, inference_input_type="float32", inference_output_type="float32",
                   target="arm", experimental_default_int8_range=None,
                   experimental_enable_bitpacked_activations=False, lce_compatible=True, _signature=None,
                   _description=None):
    """Convert a .tflite flatbuffer made by TensorFlow's TFLite converter from a larq model:
    float, or quantization-aware (int8 QUANTIZE/DEQUANTIZE from fake-quantization nodes, as
    TensorFlow makes with `optimizations=[tf.lite.Optimize.DEFAULT]`). Same options as
    `convert_keras_model`. (`_description`: convert_keras_model's import of TensorFlow's
    conversion, in place of `model_bytes`.)"""
    input_type, output_type = _check_options(inference_input_type, inference_output_type, target,
                                             experimental_default_int8_range,
                                             experimental_enable_bitpacked_activations, lce_compatible)
    if _description is None:
        _check_tflite_bytes(model_bytes)
    from .mlir import _core, import_description
    _core()  # a runtime-only install: one sentence naming what to install
    module = import_tflite(model_bytes) if _description is None else import_description(_description)
    module.run_pipeline(_pipeline(experimental_enable_bitpacked_activations, lce_compatible, target))
    desc = module.description()
    report = _report(desc)  # before quantization, which drops the reasons of float layers
    if target == "xcore":
        _check_xcore(report, desc)
    _add_signature(desc, _signature)
    # One module through the conversion: serialized for TensorFlow's quantizer (the only step
    # that needs bytes) and once at the end.
    int8_io = input_type == "int8" or output_type == "int8"
    if experimental_default_int8_range is None and not int8_io:
        result = _tflite_io.write(desc)
    else:
        if experimental_default_int8_range is not None:
            warnings.warn("Using experimental_default_int8_range as fallback quantization ranges; this "
                          "should only be used for latency tests", stacklevel=3)
            module = import_tflite(_quantize_default_range(desc, experimental_default_int8_range))
            module.run_pipeline(_quantized_pipeline(lce_compatible))
        if int8_io:
            module.run_pipeline("tfl-int8-io{input-int8=%s output-int8=%s}"
                                % (_flag(input_type == "int8"), _flag(output_type == "int8")))
        desc = module.description()
        if experimental_default_int8_range is None:
            _add_signature(desc, _signature)
        elif output_type == "int8":
            # The float outputs that no DEQUANTIZE gives (a binary layer's float result, to which
            # TensorFlow's quantizer gives no range, as LCE 0.16's default-range pass gives none to
            # custom ops) become int8 with the default range: an LceDequantize writes int8 itself
            # (zp +- round(1/scale), semantics.md), any other op gets a QUANTIZE after it. LCE
            # 0.16 leaves such outputs float32 (a binary dense last layer stays a float
            # FULLY_CONNECTED there, whose result is quantized).
            _tflite_io.quantize_float_outputs(desc, *_default_range_quantization(*experimental_default_int8_range))
        if int8_io:
            _check_int8_io(desc, input_type, output_type)
            _tflite_io.constants_at_first_use(desc)
        result = _tflite_io.write(desc)
        final = {l.name: l for l in _report(desc).binarized}
        for layer in report.binarized:
            if layer.name in final:
                layer.details["output"] = final[layer.name].details["output"]
    for layer in report:
        logger.info("%s: %s", _short(layer.name), "binarized" if layer.binarized else layer.reason)
    return ConvertedModel(result, report)


def _keras_layers(model, with_kernel=False):
    """All conv/dense layers of a (possibly nested) Keras model; with `with_kernel`, also the
    other layers with a kernel (conv transposes, 3-D convs, locally connected layers, ...)."""
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            out += _keras_layers(layer, with_kernel)
        elif type(layer).__name__ in _CONV_LAYER_TYPES or (with_kernel and _has_kernel(layer)):
            out.append(layer)
    return out


def _has_kernel(layer):
    try:
        return any(getattr(layer, a, None) is not None for a in ("kernel", "depthwise_kernel"))
    except Exception:  # a property of an unbuilt layer
        return False


_NO_BINARY_OP = {"Conv1DTranspose": "conv1d_transpose", "Conv2DTranspose": "conv2d_transpose",
                 "Conv3D": "conv3d", "Conv3DTranspose": "conv3d_transpose",
                 "LocallyConnected1D": "locally_connected1d", "LocallyConnected2D": "locally_connected2d"}


def _add_float_only_layers(report, model):
    """Report rows for the Keras layers with a kernel that have no binary form in LCE 0.16
    (QuantConv2DTranspose, Conv3D, ...): they stay float. Each goes after the row of the layer
    before it, so that the report keeps the model's order."""
    previous = None
    for layer in _keras_layers(model, with_kernel=True):
        kind = type(layer).__name__
        if kind in _CONV_LAYER_TYPES:
            previous = layer.name
            continue
        base = kind[len("Quant"):] if kind.startswith("Quant") else kind
        op = _NO_BINARY_OP.get(base, base.lower())
        row = LayerReport("", op, False, "no binary form: LCE 0.16 has no binary %s, so it stays float" % op,
                          keras_layer=layer.name)
        at = next((i + 1 for i, e in enumerate(report.layers) if e.keras_layer == previous), 0)
        report.layers.insert(at, row)
        previous = layer.name


def _keras_signature(model):
    """The serving_default SignatureDef of TensorFlow's SavedModel route for a Keras model:
    the Keras input names and output names, in order."""
    try:
        return "serving_default", [str(n) for n in model.input_names], [str(n) for n in model.output_names]
    except (AttributeError, TypeError):
        return None


def _attach_keras_names(report, model):
    """Names the report's entries after the Keras layers: by the layer's name scope in the
    TFLite tensor name, then, for tensors TensorFlow renamed (model outputs, some fused ops), by
    graph order among the remaining layers of the same kind."""
    layers = _keras_layers(model)
    kind = lambda layer: "dense" if "Dense" in type(layer).__name__ else "conv"
    entry_kind = lambda e: "dense" if e.op == "dense" else "conv"
    unmatched = []
    for layer in layers:
        pattern = re.compile(r"(^|[/;])%s(/|;|$)" % re.escape(layer.name))
        match = next((e for e in report.layers if e.keras_layer is None and pattern.search(e.name)), None)
        if match is not None:
            match.keras_layer = layer.name
        else:
            unmatched.append(layer)
    for layer in unmatched:
        match = next((e for e in report.layers if e.keras_layer is None and entry_kind(e) == kind(layer)), None)
        if match is not None:
            match.keras_layer = layer.name
        else:
            report.layers.append(LayerReport("", "dense" if kind(layer) == "dense" else "conv2d", False,
                                             "not found in the converted graph", keras_layer=layer.name))
    _add_float_only_layers(report, model)
    for layer in _keras_layers(model, with_kernel=True):
        entry = next(e for e in report.layers if e.keras_layer == layer.name)
        binary = (type(layer).__name__.startswith("Quant") and getattr(layer, "kernel_quantizer", None)
                  is not None and getattr(layer, "input_quantizer", None) is not None)
        if binary and not entry.binarized:
            warnings.warn("larq layer %s was not binarized: %s" % (layer.name, entry.reason), stacklevel=3)


def _has_fake_quant(tflite):
    """True if TensorFlow's float conversion kept QUANTIZE ops: the traces of fake-quantization
    nodes (a float conversion has no other source of them)."""
    s = schema()
    model = s.Model.GetRootAsModel(tflite, 0)
    for i in range(model.OperatorCodesLength()):
        c = model.OperatorCodes(i)
        if s.BuiltinOperator.QUANTIZE in (c.BuiltinCode(), c.DeprecatedBuiltinCode()):
            return True
    return False


def _quantization_aware(converter):
    """The converter set up for a model with fake-quantization nodes: TensorFlow then quantizes
    to int8 where the nodes give ranges (LCE 0.16 always converts that way)."""
    import tensorflow as tf
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter


def _keras_converter(tf, model, frozen_graph, lean=True):
    """TensorFlow's TFLite converter for a Keras model. With `frozen_graph`, the model is frozen
    and converted directly: TF 2.21's Keras converter otherwise always writes the model as a
    SavedModel first (about three quarters of its time on QuickNet) and, with
    experimental_lower_to_saved_model=False, then discards it and freezes the model anyway.
    Skipping that step gives byte-identical output.

    With `lean` (float conversions), two Python passes over the whole flatbuffer that our
    import/export redoes or drops anyway are skipped: the conversion metadata (TensorFlow
    unpacks and repacks the model to add it) and the deduplication of identical constant
    buffers (our export writes one buffer per constant again). On a model with 150 MB of
    weights each takes about a second and a half."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.experimental_lower_to_saved_model = not frozen_graph
    if frozen_graph and hasattr(converter, "_convert_as_saved_model"):
        converter._convert_as_saved_model = lambda: None
    if lean:
        converter.exclude_conversion_metadata = True
        if hasattr(converter, "_optimize_tflite_model"):
            converter._optimize_tflite_model = lambda model_bytes, *args, **kwargs: model_bytes
    return converter


@contextlib.contextmanager
def _quantized_kernels(tf, model, stand_ins=()):
    """While TensorFlow traces the model, each larq quantized kernel reads as a variable that
    holds what its quantizer gives, evaluated once here in eager TensorFlow (the values Keras
    computes at inference).

    TensorFlow's converter otherwise folds the quantizer itself: slowly on big kernels
    (XNORNet's 37.7 M-weight layer: about 8 s) and not at all past 2^30 bits, which leaves the
    kernel computed at run time. Variables (rather than constants) keep the values out of the
    graph's protocol buffers: the SavedModel route writes them as a checkpoint that the C++
    converter reads. The variables are tracked on the model for that and the model is restored
    on exit.

    The kernels in `stand_ins` (ids, as _stand_in_kernels chooses them) read as stand-ins
    instead (_stand_in): TensorFlow never sees their values, which _substitute_stand_ins puts
    back into its conversion. Their latent variables
    are swapped meanwhile (larq reads the latent variable before calling the
    quantizer) by _LatentStandIn, so that the traced graph holds no copy of the big kernels.

    Yields (the size of the largest kernel handed over as a variable (0 if none), {stand-in
    number: the kernel's value as a numpy array})."""
    try:
        from larq import context
        from larq.quantized_variable import QuantizedVariable
    except ImportError:
        yield 0, {}
        return
    swapped, seen, kernels, latents, table = [], set(), [], [], {}
    try:
        for v in model.weights:
            if not isinstance(v, QuantizedVariable) or v.quantizer is None or id(v) in seen:
                continue
            seen.add(id(v))
            latent = v.latent_variable
            with context.quantized_scope(True):
                value = tf.convert_to_tensor(v.quantizer(latent))
            if value.shape != latent.shape or value.dtype != latent.dtype:
                continue
            swapped.append((v, v.quantizer))
            if id(v) in stand_ins:
                number = len(table) + 1
                table[number] = np.ascontiguousarray(value.numpy(), np.float32)
                v.quantizer = (lambda n, shape: lambda _latent: _stand_in(tf, n, shape))(number, value.shape.as_list())
                latents.append((v, latent))
                v.latent_variable = _LatentStandIn(tf, latent)
                continue
            kernel = tf.Variable(value, trainable=False, name=latent.name.split(":")[0] + "_quantized")
            kernels.append(kernel)
            v.quantizer = (lambda k: lambda _latent: k.read_value())(kernel)
        if kernels:  # one tf.Module: tracked for saving, but no Keras weight of the model
            holder = tf.Module(name="lce_convert_quantized_kernels")
            holder.kernels = kernels
            model._lce_convert_quantized_kernels = holder
        yield max((int(k.shape.num_elements()) for k in kernels), default=0), table
    finally:
        for v, latent in latents:
            v.latent_variable = latent
        for v, quantizer in swapped:
            v.quantizer = quantizer
        if kernels:
            _untrack(model, "_lce_convert_quantized_kernels")


def _stand_in_kernels(model, threshold):
    """{id: layer name} of the kernels to hand over as stand-ins: the float32 kernels of at
    least `threshold` weights of the QuantConv2D layers with a one-bit input quantizer (binary
    layers: a BatchNorm after a float conv is folded by TensorFlow only, and only into a
    constant kernel). None if another quantized kernel has more than
    _SAVED_MODEL_ROUTE_WEIGHTS weights: the SavedModel route that it needs is not taken with
    stand-ins (DoReFaNet's 37.7 M-weight QuantDense)."""
    try:
        from larq.quantized_variable import QuantizedVariable
    except ImportError:
        return {}
    convs = {id(layer.kernel): layer.name for layer in _keras_layers(model)
             if type(layer).__name__ == "QuantConv2D"
             and getattr(getattr(layer, "input_quantizer", None), "precision", None) == 1}
    chosen = {}
    for v in model.weights:
        if not isinstance(v, QuantizedVariable) or v.quantizer is None:
            continue
        size = v.shape.num_elements() or 0
        if id(v) in convs and v.dtype == "float32" and v.shape.rank == 4 and size >= threshold:
            chosen[id(v)] = convs[id(v)]
        elif size > _SAVED_MODEL_ROUTE_WEIGHTS:
            return {}
    return chosen


class _LatentStandIn:
    """A big kernel's latent variable while TensorFlow traces the model with its stand-in: the
    variable's shape and dtype (Keras reads the kernel's shape), and a scalar zero where larq
    reads its value (which the stand-in quantizer ignores). Anything else goes to the variable."""

    def __init__(self, tf, latent):
        self._tf, self._latent = tf, latent

    @property
    def shape(self):
        return self._latent.shape

    @property
    def dtype(self):
        return self._latent.dtype

    def get_shape(self):
        return self._latent.shape

    def value(self):
        return self._tf.zeros([], self._latent.dtype)

    def read_value(self):
        return self.value()

    def _dense_var_to_tensor(self, *args, **kwargs):
        return self.value()

    def __getattr__(self, name):
        return getattr(self._latent, name)


# The seed of every stand-in's RandomUniform op; its seed2 is the stand-in's number.
_STAND_IN_SEED = 0x1CE5EED


def _stand_in(tf, number, shape):
    """What a big quantized kernel reads as while TensorFlow converts: a RandomUniform op of its
    shape with seeds (_STAND_IN_SEED, number). TensorFlow folds no random op, so the kernel
    arrives as a RANDOM_UNIFORM with a 4-element shape operand, transposed where its consumer
    needs it (tfl-fold-filters folds that TRANSPOSE once the constant is back)."""
    return tf.raw_ops.RandomUniform(shape=tf.constant(shape, tf.int32), dtype=tf.float32,
                                    seed=_STAND_IN_SEED, seed2=number)


def _substitute_stand_ins(tflite, table):
    """The description of TensorFlow's conversion `tflite` with each stand-in's RANDOM_UNIFORM
    replaced by a constant holding the kernel's value (table: {number: numpy array}). None if a
    stand-in is missing or is not the op that was traced (its shape, its element type): then
    the model is converted without stand-ins."""
    desc = _tflite_io.read(tflite)
    found = set()
    for f in desc["functions"]:
        for i, o in enumerate(f["ops"]):
            attrs = o.get("attrs", {})
            if o["name"] != "tfl.builtin" or attrs.get("name") not in ("RANDOM_UNIFORM", b"RANDOM_UNIFORM"):
                continue
            options = attrs.get("options") or {}
            if options.get("seed") != _STAND_IN_SEED:
                continue
            value = table.get(options.get("seed2"))
            if value is None or len(o["results"]) != 1:
                return None
            expected = "tensor<%sxf32>" % "x".join(str(d) for d in value.shape)
            if o["results"][0]["type"] != expected:
                return None
            found.add(options["seed2"])
            f["ops"][i] = {"name": "tfl.const", "operands": [], "attrs": {},
                           "results": [{"type": expected, "name": o["results"][0]["name"]}],
                           "data": memoryview(value).cast("B"), "data_type": expected}
    return desc if found == set(table) else None


def _untrack(model, name):
    """Deletes the attribute `name` and the tracking that assigning it gave (Keras's delattr
    keeps the object in the model's tracked trackables and checkpoint dependencies, so that
    model.weights would list its variables)."""
    holder = getattr(model, name)
    delattr(model, name)
    d = model.__dict__
    tracked = d.get("_self_tracked_trackables")
    if tracked is not None:
        tracked[:] = [t for t in tracked if t is not holder]
    dependencies = d.get("_self_unconditional_checkpoint_dependencies")
    if dependencies is not None:
        dependencies[:] = [r for r in dependencies if r.name != name]
    names = d.get("_self_unconditional_dependency_names")
    if names is not None:
        names.pop(name, None)


# With a quantized kernel of more than this many weights the SavedModel route is tried first: it
# hands the weights to the C++ converter as a checkpoint, while freezing copies them through
# Python protocol buffers (a 37.7 M-weight kernel: 4-5 s against 10 s). Otherwise freezing is
# faster (no SavedModel to write: QuickNetLarge 4.5 s against 10 s, QuickNet about 4x).
_SAVED_MODEL_ROUTE_WEIGHTS = 1 << 24

# QuantConv2D kernels of at least this many weights reach TensorFlow's converter as stand-ins
# (_quantized_kernels, _front_end): TensorFlow never handles their values, which spares it most
# of its time on big kernels (at 224x224, measured in one run: XNORNet 8.6 s -> 3.3 s with its
# 37.7 M-, 16.8 M- and 1.3 M-weight kernels, BinaryAlexNet 8.2 s -> 2.1 s, QuickNetLarge with
# 2.4 M-weight kernels 5.1 s -> 2.7 s). Below about 2^20 weights TensorFlow's share is small.
_STAND_IN_WEIGHTS = 1 << 20


def _convert_routes(tf, model, largest_kernel, stand_ins=False):
    """TensorFlow's conversion of the model as _quantized_kernels has set it up: the
    frozen-graph route first, the SavedModel route first for models with a quantized kernel of
    more than _SAVED_MODEL_ROUTE_WEIGHTS weights; the other is the fallback. With fake
    quantization, again quantization-aware; with `stand_ins`, None instead (the stand-ins are
    float constants to TensorFlow's quantizer: such models are converted without them)."""
    errors = []
    routes = (False, True) if largest_kernel > _SAVED_MODEL_ROUTE_WEIGHTS else (True, False)
    for frozen_graph in routes:
        try:
            tflite = _keras_converter(tf, model, frozen_graph).convert()
            if _has_fake_quant(tflite):
                if stand_ins:
                    return None
                tflite = _quantization_aware(_keras_converter(tf, model, frozen_graph, lean=False)).convert()
            return tflite
        except Exception as e:  # TF raises many exception types here
            errors.append(e)
    raise LceConvertError("TensorFlow's TFLite converter failed on the model: %s" % errors[-1]) from errors[-1]


def _tflite_from_keras(tf, model):
    """TensorFlow's TFLite conversion of a Keras model: float, or quantization-aware if the
    model has fake-quantization nodes, with larq's quantized kernels handed over as values
    (_quantized_kernels, _convert_routes)."""
    with _quantized_kernels(tf, model) as (largest_kernel, _):
        return _convert_routes(tf, model, largest_kernel)


def _front_end(tf, model):
    """The model through TensorFlow's converter, as convert_keras_model takes it: (.tflite
    bytes, None, ()), or (None, the description of TensorFlow's conversion with the stand-ins
    replaced by their kernels, the names of their layers) when the model has kernels to hand
    over as stand-ins (_stand_in_kernels with _STAND_IN_WEIGHTS). If the stand-ins do not come
    through (TensorFlow's conversion fails with them, or a stand-in is not found as it was
    traced), the model is converted again without them, as _tflite_from_keras does."""
    chosen = _stand_in_kernels(model, _STAND_IN_WEIGHTS)
    try:
        with _quantized_kernels(tf, model, chosen) as (largest_kernel, table):
            if not table:
                return _convert_routes(tf, model, largest_kernel), None, ()
            tflite = _convert_routes(tf, model, largest_kernel, stand_ins=True)
            desc = None if tflite is None else _substitute_stand_ins(tflite, table)
            if desc is not None:
                return None, desc, tuple(chosen.values())
            reason = "fake quantization" if tflite is None else "a stand-in was not found"
    except LceConvertError as e:
        reason = str(e)
    _without_stand_ins(reason)
    return _tflite_from_keras(tf, model), None, ()


def _without_stand_ins(reason):
    logger.info("converting the model again without stand-ins for its kernels of %d or more weights (%s)",
                _STAND_IN_WEIGHTS, reason)


def convert_keras_model(model, *, inference_input_type="float32", inference_output_type="float32",
                        target="arm", experimental_default_int8_range=None,
                        experimental_enable_bitpacked_activations=False, lce_compatible=True):
    """Convert a Keras/larq model to a .tflite flatbuffer with LCE-compatible binary ops.

    With `experimental_enable_bitpacked_activations=True`, a binary conv whose only consumer
    binarizes its output writes bitpacked int32 directly (and binary max-pools run on bits);
    otherwise activations between binary layers stay float. Returns a `ConvertedModel` (bytes)
    whose `.report` lists every conv/dense layer and whether it was binarized.

    int8 (as LCE 0.16): a model with fake-quantization nodes is converted quantization-aware;
    `experimental_default_int8_range=(min, max)` quantizes the float layers with that range
    wherever no other range is known (for latency tests only); `inference_input_type` /
    `inference_output_type=tf.int8` then give the model int8 inputs/outputs, which needs one of
    the two (else LceConvertError). Binary layers read and write int8 directly where that is
    exact (lq-fuse-int8).

    `lce_compatible=False` (ours): zero-padded binary convs also fuse activations, the affine
    steps after them and bitpacked/int8 output. Only lce_convert's runtime runs such models
    (LCE 0.16's interpreter refuses zero padding with these); on QuickNet this removes the
    RELU/MUL/ADD ops after every binary conv.
    """
    _check_options(inference_input_type, inference_output_type, target,
                   experimental_default_int8_range, experimental_enable_bitpacked_activations, lce_compatible)
    import os
    if isinstance(model, (str, os.PathLike, bytes, bytearray)):
        raise ValueError("convert_keras_model expects a tf.keras Model, got %s: load a .h5/.keras file with "
                         "tf.keras.models.load_model(path) first, convert a SavedModel directory with "
                         "convert_saved_model and .tflite bytes with convert_tflite"
                         % ("the path %r" % os.fspath(model) if isinstance(model, (str, os.PathLike))
                            else "%d bytes" % len(model)))
    tf = _tensorflow()
    if not isinstance(model, tf.keras.Model):
        raise ValueError("convert_keras_model expects a tf.keras Model (with TF_USE_LEGACY_KERAS=1 "
                         "for larq), got %s" % type(model).__name__)
    policy = getattr(getattr(model, "dtype_policy", None), "name", "float32")
    if policy != "float32":
        raise ValueError("mixed-precision models (dtype policy %r) are not supported; convert a "
                         "float32 copy of the model" % policy)
    tflite, desc, stand_in_layers = _front_end(tf, model)
    options = dict(inference_input_type=inference_input_type, inference_output_type=inference_output_type,
                   target=target, experimental_default_int8_range=experimental_default_int8_range,
                   experimental_enable_bitpacked_activations=experimental_enable_bitpacked_activations,
                   lce_compatible=lce_compatible, _signature=_keras_signature(model))
    if stand_in_layers:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = convert_tflite(None, _description=desc, **options)
            _attach_keras_names(result.report, model)
        binarized = {l.keras_layer for l in result.report if l.binarized}
        if all(name in binarized for name in stand_in_layers):
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            return result
        # A stand-in's layer stayed float: its BatchNorm would stay unfolded, which TensorFlow
        # folds into a constant kernel.
        _without_stand_ins("layer %s was not binarized" % next(n for n in stand_in_layers if n not in binarized))
        tflite = _tflite_from_keras(tf, model)
    result = convert_tflite(tflite, **options)
    _attach_keras_names(result.report, model)
    return result


def _check_saved_model_dir(path):
    """convert_saved_model's input: one sentence for a file, a missing path or a directory that
    is no SavedModel, naming the function that takes it."""
    import os
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError("saved_model_dir must be an existing directory, got %r" % (path,))
    if os.path.isfile(path):
        raise ValueError("saved_model_dir must be a SavedModel directory, got the file %r: load a .h5/.keras "
                         "Keras model with tf.keras.models.load_model and call convert_keras_model, or pass "
                         "a .tflite file's bytes to convert_tflite" % (os.fspath(path),))
    if not os.path.isdir(path):
        raise ValueError("saved_model_dir must be an existing directory, got %r" % (os.fspath(path),))
    if not any(os.path.exists(os.path.join(path, f)) for f in ("saved_model.pb", "saved_model.pbtxt")):
        raise ValueError("%r is not a SavedModel directory: it has no saved_model.pb (write one with "
                         "tf.saved_model.save(model, path))" % (os.fspath(path),))


def convert_saved_model(saved_model_dir, *, inference_input_type="float32",
                        inference_output_type="float32", target="arm",
                        experimental_default_int8_range=None,
                        experimental_enable_bitpacked_activations=False, lce_compatible=True):
    """Convert a SavedModel directory (signature "serving_default"). Same options as
    `convert_keras_model`."""
    _check_options(inference_input_type, inference_output_type, target,
                   experimental_default_int8_range, experimental_enable_bitpacked_activations, lce_compatible)
    _check_saved_model_dir(saved_model_dir)
    tf = _tensorflow()
    try:
        tflite = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir)).convert()
        if _has_fake_quant(tflite):
            tflite = _quantization_aware(tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))).convert()
    except Exception as e:
        raise LceConvertError("TensorFlow's TFLite converter failed on %s: %s" % (saved_model_dir, e)) from e
    return convert_tflite(tflite, inference_input_type=inference_input_type,
                          inference_output_type=inference_output_type, target=target,
                          experimental_default_int8_range=experimental_default_int8_range,
                          experimental_enable_bitpacked_activations=experimental_enable_bitpacked_activations,
                          lce_compatible=lce_compatible)
