"""`lce_convert.Interpreter`: runs converted models (ours and LCE 0.16's) in the real TFLite
interpreter, with our delegate claiming the Lce* custom ops and TFLite/XNNPACK running the rest.

    interpreter = lce_convert.Interpreter(model_bytes, num_threads=1)
    y = interpreter.predict(x)            # one input array, or a list of arrays; any batch size
"""
import os

import numpy as np

from .errors import LceConvertError



def delegate_path():
    """The delegate library, installed next to the compiled extension modules (which an
    editable install keeps apart from the Python sources)."""
    from . import _kernels
    path = os.path.join(os.path.dirname(os.path.abspath(_kernels.__file__)), "liblce_delegate.so")
    if not os.path.exists(path):
        raise LceConvertError("the lce_convert delegate library is missing at %s; reinstall the package" % path)
    return path


def _runtime_module(runtime):
    if runtime in (None, "litert"):
        try:
            from ai_edge_litert import interpreter as litert
            return "litert", litert.Interpreter, litert.load_delegate
        except ImportError:
            if runtime == "litert":
                raise
    if runtime in (None, "tf"):
        import tensorflow as tf
        return "tf", tf.lite.Interpreter, tf.lite.experimental.load_delegate
    raise ValueError("runtime must be 'litert', 'tf' or None (litert when installed), got %r" % (runtime,))


class Interpreter:
    """A TFLite interpreter with the lce_convert delegate.

    `runtime`: "litert" (ai_edge_litert, the default when installed) or "tf" (tf.lite)."""

    def __init__(self, model_bytes, num_threads=1, runtime=None):
        if not isinstance(model_bytes, (bytes, bytearray)):
            raise ValueError("Interpreter expects the model as bytes, got %s" % type(model_bytes).__name__)
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError("num_threads must be a positive int, got %r" % (num_threads,))
        self.runtime, interpreter_class, load_delegate = _runtime_module(runtime)
        self._delegate = load_delegate(delegate_path())
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._interpreter = interpreter_class(model_content=bytes(model_bytes), num_threads=num_threads,
                                                      experimental_delegates=[self._delegate])
                self._interpreter.allocate_tensors()
            except (RuntimeError, ValueError) as e:
                raise LceConvertError("cannot prepare the model: %s" % e) from None
        self._refresh_details()

    def _refresh_details(self):
        self._inputs = self._interpreter.get_input_details()
        self._outputs = self._interpreter.get_output_details()

    @property
    def input_details(self):
        return self._inputs

    @property
    def output_details(self):
        return self._outputs

    def predict(self, x):
        """Outputs for input `x` (an array, or a list with one array per input). The batch
        size may differ from the model's; outputs are returned as an array (one output) or a
        list."""
        inputs = list(x) if isinstance(x, (list, tuple)) else [x]
        details = self.input_details
        if len(inputs) != len(details):
            raise ValueError("the model has %d inputs, got %d arrays" % (len(details), len(inputs)))
        it = self._interpreter
        resized = False
        for d, value in zip(details, inputs):
            value = np.asarray(value)
            if value.dtype != d["dtype"]:
                raise ValueError("input %r expects %s, got %s" % (d["name"], np.dtype(d["dtype"]), value.dtype))
            expected = list(d["shape"])
            if value.ndim != len(expected) or list(value.shape[1:]) != expected[1:]:
                raise ValueError("input %r expects shape [batch] + %s, got %s" % (d["name"], expected[1:], list(value.shape)))
            if list(value.shape) != expected:
                it.resize_tensor_input(d["index"], list(value.shape))
                resized = True
        if resized:
            try:
                it.allocate_tensors()
            except RuntimeError as e:
                raise LceConvertError("cannot resize the model's inputs: %s" % e) from None
            self._refresh_details()
        for d, value in zip(self._inputs, inputs):
            it.set_tensor(d["index"], np.ascontiguousarray(value))
        it.invoke()
        outputs = [it.get_tensor(d["index"]) for d in self._outputs]
        return outputs[0] if len(outputs) == 1 else outputs
