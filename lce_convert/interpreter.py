"""`lce_convert.Interpreter`: runs converted models (ours and LCE 0.16's) in the real TFLite
interpreter, with our delegate claiming the Lce* custom ops and TFLite/XNNPACK running the rest.

    interpreter = lce_convert.Interpreter(model_bytes, num_threads=1)
    y = interpreter.predict(x)            # one input array, or a list of arrays; any batch size

Errors are LceConvertError subclasses: InvalidModelError for a model that the delegate (or the
checks here, for what the delegate's C ABI cannot see) refuses, with the delegate's message
naming the op, its node and the problem; InvalidInputError for inputs that do not fit the
model; InterpreterError when TFLite fails for another reason (for example memory).
"""
import os
import re

import numpy as np

from .errors import InterpreterError, InvalidInputError, InvalidModelError, LceConvertError

LCE_OPS = (b"LceQuantize", b"LceDequantize", b"LceBconv2d", b"LceBMaxPool2d")
MAX_THREADS = 256
# A line the delegate reported: "<LceOp> (node <n>): <problem>" or "lce_convert delegate: ...".
_DELEGATE_LINE = re.compile(r"^(?:Lce\w+ \(node -?\d+\): |lce_convert delegate: ).*$", re.M)


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


def _failure(what, error, cls_if_ours=InvalidModelError, input_bytes=None):
    """An LceConvertError for a TFLite RuntimeError/ValueError: the delegate's own lines when it
    reported any (they name the op, node and problem), else TFLite's text."""
    text = str(error)
    ours = _DELEGATE_LINE.findall(text)
    if ours:
        return cls_if_ours("%s: %s" % (what, "; ".join(line.strip() for line in ours)))
    text = " ".join(text.split())
    if not text:  # TFLite says nothing when the arena cannot be allocated
        text = "the TFLite runtime gave no reason (out of memory?%s)" % (
            "" if input_bytes is None else " the inputs alone need %.3g GB" % (input_bytes / 1e9))
    return InterpreterError("%s: %s" % (what, text))


# Builtin ops with no optional input (code: name), among them the ADD/MUL/ReLU ops the delegate
# fuses: an input index of -1 crashes TFLite's XNNPACK delegate, which sees them first.
_NO_OPTIONAL_INPUTS = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 6: "DEQUANTIZE", 14: "LOGISTIC",
                       17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 20: "RELU_N1_TO_1", 21: "RELU6", 25: "SOFTMAX",
                       28: "TANH", 34: "PAD", 40: "MEAN", 41: "SUB", 42: "DIV", 114: "QUANTIZE"}


def check_model(model_bytes):
    """What the delegate cannot see through TFLite's C ABI, checked on the flatbuffer: custom op
    names with an embedded NUL (the ABI truncates them, so "LceBconv2d\\0x" would pass for
    LceBconv2d), Lce ops that write a subgraph input, and -1 inputs of builtin ops that have no
    optional input (TFLite's XNNPACK delegate, applied before ours, crashes on them). A buffer
    that does not parse is left to TFLite's verifier. Raises InvalidModelError."""
    from ._schema import schema
    s = schema()
    data = bytes(model_bytes)
    try:
        if len(data) < 8 or not s.Model.ModelBufferHasIdentifier(data, 0):
            return
        m = s.Model.GetRootAs(data, 0)
        limit = len(data) // 4  # no vector in the buffer can be longer
        n_codes = m.OperatorCodesLength()
        if n_codes > limit:
            return
        lce_codes, required = {}, {}
        for i in range(n_codes):
            oc = m.OperatorCodes(i)
            code = oc.CustomCode()
            builtin = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            if builtin in _NO_OPTIONAL_INPUTS:
                required[i] = _NO_OPTIONAL_INPUTS[builtin]
            if code is None:
                continue
            if b"\0" in code:
                raise InvalidModelError("operator code %d: the custom op name %r contains a NUL byte" % (i, code))
            if code in LCE_OPS:
                lce_codes[i] = code.decode()
        if not (lce_codes or required) or m.SubgraphsLength() > limit:
            return
        for g in range(m.SubgraphsLength()):
            sg = m.Subgraphs(g)
            if sg.InputsLength() > limit or sg.OperatorsLength() > limit:
                return
            inputs = {int(sg.Inputs(k)) for k in range(sg.InputsLength())}
            for o in range(sg.OperatorsLength()):
                op = sg.Operators(o)
                builtin = required.get(op.OpcodeIndex())
                if builtin is not None and op.InputsLength() <= limit:
                    for k in range(op.InputsLength()):
                        if int(op.Inputs(k)) < 0:
                            raise InvalidModelError("operator %d (%s) of subgraph %d: input %d is %d, but the op has "
                                                    "no optional inputs" % (o, builtin, g, k, int(op.Inputs(k))))
                name = lce_codes.get(op.OpcodeIndex())
                if name is None or op.OutputsLength() > limit:
                    continue
                for k in range(op.OutputsLength()):
                    if int(op.Outputs(k)) in inputs:
                        raise InvalidModelError("operator %d (%s) of subgraph %d writes tensor %d, an input of the "
                                                "subgraph" % (o, name, g, int(op.Outputs(k))))
    except InvalidModelError:
        raise
    except Exception:  # not parseable here: TFLite's verifier decides
        return


class Interpreter:
    """A TFLite interpreter with the lce_convert delegate.

    `runtime`: "litert" (ai_edge_litert, the default when installed) or "tf" (tf.lite).
    `fuse`: the delegate fuses the float ops after a Bconv2d (per-channel MUL/ADD, residual
    ADD, ReLU-family, the LceQuantize of the result) into its output pass, with bit-identical
    results; False runs them as separate ops (TFLite/XNNPACK)."""

    def __init__(self, model_bytes, num_threads=1, runtime=None, fuse=True):
        if not isinstance(model_bytes, (bytes, bytearray)):
            raise InvalidModelError("Interpreter expects the model as bytes, got %s" % type(model_bytes).__name__)
        if (not isinstance(num_threads, (int, np.integer)) or isinstance(num_threads, (bool, np.bool_))
                or not 1 <= num_threads <= MAX_THREADS):
            raise InvalidInputError("num_threads must be an int in 1..%d, got %r" % (MAX_THREADS, num_threads))
        check_model(model_bytes)
        self.runtime, interpreter_class, load_delegate = _runtime_module(runtime)
        if not isinstance(fuse, bool):
            raise InvalidInputError("fuse must be True or False, got %r" % (fuse,))
        self._delegate = load_delegate(delegate_path(), {"fuse": "1" if fuse else "0"})
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._interpreter = interpreter_class(model_content=bytes(model_bytes), num_threads=int(num_threads),
                                                      experimental_delegates=[self._delegate])
                self._interpreter.allocate_tensors()
            except (RuntimeError, ValueError) as e:
                raise _failure("cannot prepare the model", e) from None
        self._refresh_details()

    def _refresh_details(self):
        try:
            self._inputs = self._interpreter.get_input_details()
            self._outputs = self._interpreter.get_output_details()
        except (RuntimeError, ValueError) as e:
            raise InvalidModelError("the model's inputs or outputs are malformed: %s" % " ".join(str(e).split())) from None

    @property
    def input_details(self):
        return self._inputs

    @property
    def output_details(self):
        return self._outputs

    def _input_array(self, d, value):
        expected = [int(n) for n in d["shape"]]
        dtype = np.dtype(d["dtype"])
        if not isinstance(value, (np.ndarray, np.generic)) and np.ndim(value) == 0:
            try:  # a Python scalar for a 0-d input
                converted = np.asarray(value, dtype)
            except (TypeError, ValueError, OverflowError):
                converted = None
            if converted is None or converted.item() != value:
                raise InvalidInputError("input %r expects %s, got %r" % (d["name"], dtype, value))
            value = converted
        value = np.asarray(value)
        if value.dtype != dtype:
            raise InvalidInputError("input %r expects %s, got %s" % (d["name"], dtype, value.dtype))
        if not expected:
            if value.ndim != 0:
                raise InvalidInputError("input %r is a scalar (0-d), got shape %s" % (d["name"], list(value.shape)))
            return value
        if value.ndim != len(expected) or list(value.shape[1:]) != expected[1:]:
            raise InvalidInputError("input %r expects shape [batch] + %s, got %s"
                                    % (d["name"], expected[1:], list(value.shape)))
        if value.shape[0] < 1:
            raise InvalidInputError("input %r has an empty batch (shape %s); the batch size must be at least 1"
                                    % (d["name"], list(value.shape)))
        if value.shape[0] > 2**31 - 1:
            raise InvalidInputError("input %r has a batch of %d, more than TFLite's int32 shapes hold"
                                    % (d["name"], value.shape[0]))
        return value

    def _check_memory(self, inputs):
        """Refuse a batch whose tensors cannot fit in memory: TFLite's arena does not survive a
        failed allocation (TF 2.21 crashes, ai_edge_litert gives no reason). The estimate scales
        every tensor whose leading dimension is the current batch by the new batch."""
        try:
            with open("/proc/meminfo") as f:
                available = next(int(l.split()[1]) * 1024 for l in f if l.startswith("MemAvailable:"))
        except (OSError, StopIteration, ValueError):
            return
        old = [int(d["shape"][0]) for d in self._inputs if len(d["shape"])]
        new = [int(v.shape[0]) for v, d in zip(inputs, self._inputs) if len(d["shape"])]
        if not old or max(new) <= max(old):
            return
        ratio = max(n / max(o, 1) for n, o in zip(new, old))
        try:
            details = self._interpreter.get_tensor_details()
        except (RuntimeError, ValueError):
            return
        need = 0
        for t in details:
            shape = [int(n) for n in t["shape"]]
            if len(shape) >= 2 and shape[0] == max(old):
                need += int(np.prod(shape, dtype=np.float64) * np.dtype(t["dtype"]).itemsize * ratio)
        if need > available:
            raise InvalidInputError("a batch of %d needs about %.3g GB of tensors, more than the %.3g GB of memory "
                                    "available" % (max(new), need / 1e9, available / 1e9))

    def predict(self, x):
        """Outputs for input `x` (an array, or a list with one array per input). The batch
        size may differ from the model's (a model that TFLite cannot resize runs the samples
        one by one, with a warning the first time); outputs are returned as an array (one
        output) or a list."""
        inputs = list(x) if isinstance(x, (list, tuple)) else [x]
        details = self.input_details
        if len(inputs) != len(details):
            raise InvalidInputError("the model has %d inputs, got %d arrays" % (len(details), len(inputs)))
        inputs = [self._input_array(d, value) for d, value in zip(details, inputs)]
        it = self._interpreter
        resized = False
        self._check_memory(inputs)
        if getattr(self, "_one_by_one", False):
            return self._predict_one_by_one(inputs, None)
        for d, value in zip(details, inputs):
            if list(value.shape) != [int(n) for n in d["shape"]]:
                try:
                    it.resize_tensor_input(d["index"], list(value.shape))
                except (RuntimeError, ValueError) as e:
                    return self._predict_one_by_one(inputs, _failure(
                        "cannot resize input %r to %s" % (d["name"], list(value.shape)), e))
                resized = True
        if resized:
            try:
                it.allocate_tensors()
            except (RuntimeError, ValueError) as e:
                shapes = ", ".join("%r %s" % (d["name"], list(v.shape)) for d, v in zip(details, inputs))
                return self._predict_one_by_one(inputs, _failure(
                    "cannot prepare the model for inputs %s" % shapes, e,
                    input_bytes=sum(v.size * v.itemsize for v in inputs)))
            finally:
                self._refresh_details()
        try:
            for d, value in zip(self._inputs, inputs):
                it.set_tensor(d["index"], np.require(value, requirements="C"))  # keeps 0-d arrays 0-d
            it.invoke()
            outputs = [it.get_tensor(d["index"]) for d in self._outputs]
        except (RuntimeError, ValueError) as e:
            raise _failure("cannot run the model", e) from None
        return outputs[0] if len(outputs) == 1 else outputs

    def _predict_one_by_one(self, inputs, failure):
        """The batch run one sample at a time, as LCE 0.16's predict does: for models whose
        batch-1 shapes are fixed inside the graph (a RESHAPE or SELECT with a constant shape),
        which TFLite cannot resize. `failure` is the error of the resize, raised if the
        samples cannot run one by one either (None once the fallback is known to work)."""
        import warnings
        batched = [v for v, d in zip(inputs, self._inputs) if len(d["shape"])]
        batch = {int(v.shape[0]) for v in batched}
        if failure is not None and (len(batch) != 1 or batch == {1}):
            raise failure from None
        if len(batch) > 1:
            raise InvalidInputError("the inputs have different batch sizes %s; this model runs the samples one by one"
                                    % sorted(batch))
        it = self._interpreter
        try:
            for d, value in zip(self._inputs, inputs):
                if len(d["shape"]):  # the details may predate the failed resize
                    it.resize_tensor_input(d["index"], [1] + list(value.shape[1:]))
            it.allocate_tensors()
        except (RuntimeError, ValueError) as e:
            self._refresh_details()
            raise (failure or _failure("cannot prepare the model for one sample", e)) from None
        self._refresh_details()
        if not getattr(self, "_one_by_one", False):
            warnings.warn("the model cannot be resized to a batch of %d (%s); running the samples one by one"
                          % (max(batch), failure), stacklevel=3)
            self._one_by_one = True
        results = []
        try:
            for i in range(int(batched[0].shape[0]) if batched else 1):
                for d, value in zip(self._inputs, inputs):
                    one = value[i:i + 1] if len(d["shape"]) else value
                    it.set_tensor(d["index"], np.require(one, requirements="C"))
                it.invoke()
                results.append([it.get_tensor(d["index"]) for d in self._outputs])
        except (RuntimeError, ValueError) as e:
            raise _failure("cannot run the model", e) from None
        outputs = [np.concatenate(r) if r[0].ndim else np.stack(r) for r in zip(*results)]
        return outputs[0] if len(outputs) == 1 else outputs
