"""The converter: Keras/larq model, SavedModel or plain .tflite in; .tflite with LCE-compatible
binary custom ops out.

TensorFlow's own TFLite converter handles every ordinary layer (float, no quantization); our
MLIR passes then find the binarized layers and fuse them (see passes/transforms/). The result is
a `ConvertedModel`: the flatbuffer bytes, with the per-layer conversion report attached as
`.report` (also logged on the "lce_convert" logger).
"""
import logging
import re
import warnings

from . import _tflite_io
from .errors import LceConvertError
from .mlir import import_tflite

logger = logging.getLogger("lce_convert")

_CONV_LAYER_TYPES = ("Conv2D", "QuantConv2D", "DepthwiseConv2D", "QuantDepthwiseConv2D",
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


def _dtype_name(t, what):
    name = getattr(t, "name", t)
    if isinstance(name, str) and name in ("float32", "int8"):
        return name
    raise ValueError("%s must be tf.float32 or tf.int8, got %r" % (what, t))


def _check_options(inference_input_type, inference_output_type, target,
                   experimental_default_int8_range, experimental_enable_bitpacked_activations):
    input_type = _dtype_name(inference_input_type, "inference_input_type")
    output_type = _dtype_name(inference_output_type, "inference_output_type")
    if target not in ("arm", "xcore"):
        raise ValueError("target must be 'arm' or 'xcore', got %r" % (target,))
    if experimental_default_int8_range is not None:
        r = experimental_default_int8_range
        if (not isinstance(r, (tuple, list)) or len(r) != 2 or
                not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r) or
                not r[0] < r[1]):
            raise ValueError("experimental_default_int8_range must be None or a (min, max) pair "
                             "of numbers with min < max, got %r" % (r,))
    if not isinstance(experimental_enable_bitpacked_activations, bool):
        raise ValueError("experimental_enable_bitpacked_activations must be a bool, got %r"
                         % (experimental_enable_bitpacked_activations,))
    if input_type == "int8" or output_type == "int8" or experimental_default_int8_range is not None:
        raise LceConvertError("int8 conversion (inference_input_type/inference_output_type=tf.int8, "
                              "experimental_default_int8_range) is not implemented yet")
    return input_type, output_type


def _pipeline(bitpacked_activations):
    passes = ["tfl-fold-dilated-conv", "lq-detect-binarize", "lq-fuse-bconv2d", "lq-fuse-bconv-affine"]
    if bitpacked_activations:
        passes += ["lq-binary-maxpool", "lq-fuse-bitpacked-output"]
    passes += ["lq-bitpack-filters", "lq-cancel-dequantize-quantize", "canonicalize"]
    return ",".join(passes)


_OP_KIND = {"tfl.conv_2d": "conv2d", "tfl.fully_connected": "dense",
            "tfl.depthwise_conv_2d": "depthwise_conv2d"}


def _report(desc):
    layers = []
    for f in desc["functions"]:
        for o in f["ops"]:
            name = (o["results"][0]["name"] or b"").decode("utf-8", "replace") if o["results"] else ""
            attrs = o["attrs"]
            if o["name"] == "lq.Bconv2d":
                out = o["results"][0]["type"]["elem"]
                kind = attrs.get("lq.layer_kind", b"conv2d").decode()
                layers.append(LayerReport(name, kind, True, details={
                    "output": {"i32": "bitpacked", "f32": "float"}.get(out, out),
                    "padding": attrs["padding"].decode(),
                    "zero_padding": attrs["padding"] == b"SAME" and attrs.get("pad_values", 0) == 0,
                    "channels_in": attrs["channels_in"]}))
            elif o["name"] in _OP_KIND:
                reason = attrs.get("lq.not_binarized", b"not analysed").decode()
                layers.append(LayerReport(name, _OP_KIND[o["name"]], False, reason))
    return ConversionReport(layers)


def convert_tflite(model_bytes, *, inference_input_type="float32", inference_output_type="float32",
                   target="arm", experimental_default_int8_range=None,
                   experimental_enable_bitpacked_activations=False):
    """Convert a float .tflite flatbuffer made by TensorFlow's TFLite converter from a larq
    model. Same options as `convert_keras_model`."""
    _check_options(inference_input_type, inference_output_type, target,
                   experimental_default_int8_range, experimental_enable_bitpacked_activations)
    module = import_tflite(model_bytes)
    module.run_pipeline(_pipeline(experimental_enable_bitpacked_activations))
    desc = module._handle.to_description()
    report = _report(desc)
    for layer in report:
        logger.info("%s: %s", _short(layer.name), "binarized" if layer.binarized else layer.reason)
    return ConvertedModel(_tflite_io.write(desc), report)


def _keras_layers(model):
    """All conv/dense layers of a (possibly nested) Keras model."""
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            out += _keras_layers(layer)
        elif type(layer).__name__ in _CONV_LAYER_TYPES:
            out.append(layer)
    return out


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
    for layer in layers:
        entry = next(e for e in report.layers if e.keras_layer == layer.name)
        binary = (type(layer).__name__.startswith("Quant") and getattr(layer, "kernel_quantizer", None)
                  is not None and getattr(layer, "input_quantizer", None) is not None)
        if binary and not entry.binarized:
            warnings.warn("larq layer %s was not binarized: %s" % (layer.name, entry.reason), stacklevel=3)


def _tflite_from_keras(tf, model):
    """TensorFlow's float TFLite conversion of a Keras model. The frozen-graph route is tried
    first: it skips writing and re-reading a SavedModel, which is most of the time on large
    models; the SavedModel route is the fallback."""
    errors = []
    for lower_to_saved_model in (False, True):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.experimental_lower_to_saved_model = lower_to_saved_model
        try:
            return converter.convert()
        except Exception as e:  # TF raises many exception types here
            errors.append(e)
    raise LceConvertError("TensorFlow's TFLite converter failed on the model: %s" % errors[-1]) from errors[-1]


def convert_keras_model(model, *, inference_input_type="float32", inference_output_type="float32",
                        target="arm", experimental_default_int8_range=None,
                        experimental_enable_bitpacked_activations=False):
    """Convert a Keras/larq model to a .tflite flatbuffer with LCE-compatible binary ops.

    With `experimental_enable_bitpacked_activations=True`, a binary conv whose only consumer
    binarizes its output writes bitpacked int32 directly (and binary max-pools run on bits);
    otherwise activations between binary layers stay float. Returns a `ConvertedModel` (bytes)
    whose `.report` lists every conv/dense layer and whether it was binarized.
    """
    _check_options(inference_input_type, inference_output_type, target,
                   experimental_default_int8_range, experimental_enable_bitpacked_activations)
    import tensorflow as tf
    if not isinstance(model, tf.keras.Model):
        raise ValueError("convert_keras_model expects a tf.keras Model (with TF_USE_LEGACY_KERAS=1 "
                         "for larq), got %s" % type(model).__name__)
    policy = getattr(getattr(model, "dtype_policy", None), "name", "float32")
    if policy != "float32":
        raise ValueError("mixed-precision models (dtype policy %r) are not supported; convert a "
                         "float32 copy of the model" % policy)
    tflite = _tflite_from_keras(tf, model)
    result = convert_tflite(tflite, inference_input_type=inference_input_type,
                            inference_output_type=inference_output_type, target=target,
                            experimental_default_int8_range=experimental_default_int8_range,
                            experimental_enable_bitpacked_activations=experimental_enable_bitpacked_activations)
    _attach_keras_names(result.report, model)
    return result


def convert_saved_model(saved_model_dir, *, inference_input_type="float32",
                        inference_output_type="float32", target="arm",
                        experimental_default_int8_range=None,
                        experimental_enable_bitpacked_activations=False):
    """Convert a SavedModel directory (signature "serving_default"). Same options as
    `convert_keras_model`."""
    _check_options(inference_input_type, inference_output_type, target,
                   experimental_default_int8_range, experimental_enable_bitpacked_activations)
    import os
    if not isinstance(saved_model_dir, (str, os.PathLike)) or not os.path.isdir(saved_model_dir):
        raise ValueError("saved_model_dir must be an existing directory, got %r" % (saved_model_dir,))
    import tensorflow as tf
    try:
        tflite = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir)).convert()
    except Exception as e:
        raise LceConvertError("TensorFlow's TFLite converter failed on %s: %s" % (saved_model_dir, e)) from e
    return convert_tflite(tflite, inference_input_type=inference_input_type,
                          inference_output_type=inference_output_type, target=target,
                          experimental_default_int8_range=experimental_default_int8_range,
                          experimental_enable_bitpacked_activations=experimental_enable_bitpacked_activations)
