"""MLIR view of .tflite models: import, inspect, run passes, export.

    import lce_convert.mlir as lm
    module = lm.import_tflite(model_bytes)
    print(module.text())                      # MLIR of the model (tfl + lq dialects)
    module.run_pipeline("lq-cancel-dequantize-quantize,canonicalize")
    new_bytes = module.to_tflite()

Nothing here imports TensorFlow.
"""
from . import _tflite_io
from .errors import InvalidModelError, PassPipelineError


def _core():
    from . import _core as core
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

    def to_tflite(self):
        """Serialize to .tflite flatbuffer bytes."""
        try:
            desc = self._handle.to_description()
        except ValueError as e:
            raise InvalidModelError(str(e)) from None
        return _tflite_io.write(desc)


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


def tflite_to_mlir(model_bytes, debug_info=False, elide_large_constants=16):
    """MLIR text of a .tflite model, for debugging."""
    return import_tflite(model_bytes).text(debug_info=debug_info,
                                           elide_large_constants=elide_large_constants)


def run_pass_pipeline(model_bytes, pipeline):
    """Import a .tflite model, run `pipeline` on it and return the new .tflite bytes."""
    return import_tflite(model_bytes).run_pipeline(pipeline).to_tflite()
