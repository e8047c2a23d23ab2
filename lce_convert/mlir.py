"""MLIR view of .tflite models: import, inspect, run passes, export.

    import lce_convert.mlir as lm
    module = lm.import_tflite(model_bytes)
    print(module.text())                      # MLIR of the model (tfl + lq dialects)
    module.run_pipeline("lq-cancel-dequantize-quantize,canonicalize")
    module.run_pipeline("lq-binarize{bitpacked-activations=true}")  # the converter's pipeline
    layers = module.layers()                  # typed views (schema: lce_convert._description)
    new_bytes = module.to_tflite()

Nothing here imports TensorFlow.
"""
from typing import List

from . import _description as D
from . import _tflite_io
from .errors import InvalidModelError, PassPipelineError


def _core():
    try:
        from . import _core as core
    except ImportError as e:  # a runtime-only install, or the MLIR/LLVM libraries are missing
        from .errors import LceConvertError
        raise LceConvertError("the converter's compiled extension lce_convert._core cannot be loaded (%s): this "
                              "install has the runtime only, or lacks the libraries the extension links; "
                              "install the full package with pip install 'lce_convert[tf]'" % e) from None
    return core


class Module:
    """An MLIR module holding one function per TFLite subgraph."""

    def __init__(self, handle):
        self._handle = handle

    @classmethod
    def parse(cls, text):
        """Parse MLIR text (for example from `text()`, or written by hand)."""
        try:
            return cls(_core().Module.parse(text))
        except ValueError as e:
            raise InvalidModelError(str(e)) from None

    def text(self, debug_info=False, elide_large_constants=None, generic=False):
        """The module as MLIR text. `debug_info` prints locations (tensor names);
        `elide_large_constants=N` abbreviates constants with more than N elements."""
        limit = -1 if elide_large_constants is None else int(elide_large_constants)
        return self._handle.to_text(debug_info=debug_info, elide_elements_limit=limit, generic=generic)

    def __str__(self):
        return self.text(elide_large_constants=16)

    def run_pipeline(self, pipeline):
        """Run a textual pass pipeline, e.g. "canonicalize" or
        "func.func(lq-cancel-dequantize-quantize)". Passes anchored on functions nest implicitly."""
        if not isinstance(pipeline, str):
            raise TypeError("pipeline must be a str, got %s" % type(pipeline).__name__)
        try:
            self._handle.run_pipeline(pipeline)
        except ValueError as e:
            raise PassPipelineError(str(e)) from None
        except RuntimeError as e:
            raise PassPipelineError(str(e)) from None
        return self

    def verify(self):
        try:
            self._handle.verify()
        except ValueError as e:
            raise InvalidModelError(str(e)) from None

    def description(self) -> D.Description:
        """The module as a plain description (schema: lce_convert._description.Description).
        A fresh copy on every call: editing it does not change the module."""
        try:
            return self._handle.to_description()
        except ValueError as e:
            raise InvalidModelError(str(e)) from None

    def to_tflite(self):
        """Serialize to .tflite flatbuffer bytes."""
        return _tflite_io.write(self.description())

    def layers(self, desc=None) -> List[D.Layer]:
        """Every non-constant op of every function, in order, with operand types, tensor names
        and constant data resolved. `desc` reuses a description already taken."""
        desc = self.description() if desc is None else desc
        return layers(desc)

    def output_types(self, desc=None) -> List[D.FunctionTypes]:
        """The input and output types of each function."""
        desc = self.description() if desc is None else desc
        return output_types(desc)

    def signatures(self, desc=None) -> List[D.Signature]:
        """The model's TFLite signature defs (empty if it has none)."""
        desc = self.description() if desc is None else desc
        return signatures(desc)


def _text(name):
    return (name or b"").decode("utf-8", "replace") if isinstance(name, bytes) else (name or "")


def layers(desc: D.Description) -> List[D.Layer]:
    """`Module.layers()` of a description."""
    out = []
    blobs = desc["blobs"]
    for f in desc["functions"]:
        values = {a["id"]: D.Value(id=a["id"], type=a["type"], name=_text(a["name"]), constant=None)
                  for a in f["args"]}
        for index, o in enumerate(f["ops"]):
            data = blobs[o["data"]] if "data" in o else None
            results = [D.Value(id=r["id"], type=r["type"], name=_text(r["name"]), constant=data)
                       for r in o["results"]]
            for r in results:
                values[r["id"]] = r
            if data is not None or o["name"] == "tfl.no_value":  # constants and absent operands
                continue
            out.append(D.Layer(function=f["name"], index=index, op=o["name"],
                               name=results[0]["name"] if results else "", attrs=o["attrs"],
                               operands=[values[i] for i in o["operands"]], results=results))
    return out


def output_types(desc: D.Description) -> List[D.FunctionTypes]:
    """`Module.output_types()` of a description."""
    out = []
    for f in desc["functions"]:
        types = {a["id"]: a["type"] for a in f["args"]}
        for o in f["ops"]:
            for r in o["results"]:
                types[r["id"]] = r["type"]
        out.append(D.FunctionTypes(function=f["name"], inputs=[a["type"] for a in f["args"]],
                                   outputs=[types[i] for i in f["returns"]]))
    return out


def signatures(desc: D.Description) -> List[D.Signature]:
    """`Module.signatures()` of a description."""
    return [D.Signature(key=_text(s["key"]), function=s["subgraph"].name,
                        inputs=[(_text(n), int(i)) for n, i in s["inputs"]],
                        outputs=[(_text(n), int(i)) for n, i in s["outputs"]])
            for s in desc["attrs"].get(D.SIGNATURES, [])]


def activations():
    """The fused activations as clamps: {name: (code, lo, hi)}, None where a side is unbounded
    (the one table, kernels/include/lce_kernels/semantics.h)."""
    return {a["name"]: (a["code"], a["lo"], a["hi"]) for a in _core().activations()}


def same_padding(size, kernel, stride=1, dilation=1):
    """TF's SAME padding of one spatial dimension: (out, before, after)
    (kernels/include/lce_kernels/semantics.h)."""
    return _core().same_padding(size, kernel, stride, dilation)


def bitpacked_bit(K, conv, threshold):
    """The bitpacked-output bit (True: -1) of a Bconv2d channel whose clamped conv value is
    `conv`: K - conv > 2 * threshold (kernels/include/lce_kernels/semantics.h)."""
    return _core().bitpacked_bit(K, conv, threshold)


def import_tflite(model_bytes, lift_lce_ops=True):
    """Import .tflite bytes as a Module. With `lift_lce_ops`, LCE's custom ops (LceQuantize,
    LceDequantize, LceBconv2d, LceBMaxPool2d) become `lq` ops; otherwise they stay `tfl.custom`.
    Raises InvalidModelError for malformed input."""
    desc = _tflite_io.read(model_bytes, lift_lce_ops=lift_lce_ops)
    core = _core()
    try:
        return Module(core.Module.from_description(desc))
    except ValueError as e:
        if lift_lce_ops and "lq." in str(e):
            # An LCE op whose shapes break our lq verifiers: carry it as an opaque custom op.
            return import_tflite(model_bytes, lift_lce_ops=False)
        raise InvalidModelError(str(e)) from None


def import_description(desc):
    """A Module from a description as _tflite_io.read gives it (LCE's ops lifted)."""
    try:
        return Module(_core().Module.from_description(desc))
    except ValueError as e:
        raise InvalidModelError(str(e)) from None


def tflite_to_mlir(model_bytes, debug_info=False, elide_large_constants=16):
    """MLIR text of a .tflite model, for debugging."""
    return import_tflite(model_bytes).text(debug_info=debug_info,
                                           elide_large_constants=elide_large_constants)


def run_pass_pipeline(model_bytes, pipeline):
    """Import a .tflite model, run `pipeline` on it and return the new .tflite bytes."""
    return import_tflite(model_bytes).run_pipeline(pipeline).to_tflite()
