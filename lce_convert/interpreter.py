"""`lce_convert.Interpreter`: runs converted models (ours and LCE 0.16's) in the real TFLite
interpreter, with our delegate claiming the Lce* custom ops and TFLite/XNNPACK running the rest.

    interpreter = lce_convert.Interpreter(model_bytes, num_threads=1)
    y = interpreter.predict(x)            # one input array, or a list of arrays; any batch size

It takes LCE 0.16's arguments and attributes with LCE's meanings (use_reference_bconv,
use_indirect_bgemm, use_xnnpack; input_types / input_shapes / input_scales /
input_zero_points and the output_* ones; predict(x, verbose=1) over arrays, lists and
iterators of samples), so that code written for larq_compute_engine's Interpreter runs
unchanged. Only the Python runtime is needed (ai_edge_litert): TensorFlow is not imported
unless runtime="tf" is asked for (or ai_edge_litert is missing).

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
    """The delegate library: in the package directory (a wheel, also the runtime-only build), or
    next to the compiled extension modules (which an editable install keeps apart from the
    Python sources)."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "liblce_delegate.so")
    if os.path.exists(here):
        return here
    try:
        from . import _kernels
    except ImportError:
        raise LceConvertError("the lce_convert delegate library is missing at %s; reinstall the package" % here) \
            from None
    path = os.path.join(os.path.dirname(os.path.abspath(_kernels.__file__)), "liblce_delegate.so")
    if not os.path.exists(path):
        raise LceConvertError("the lce_convert delegate library is missing at %s; reinstall the package" % path)
    return path


def _runtime_module(runtime):
    """(name, Interpreter class, load_delegate, OpResolverType) of the TFLite runtime."""
    if runtime not in (None, "litert", "tf"):
        raise ValueError("runtime must be 'litert', 'tf' or None (litert when installed), got %r" % (runtime,))
    if runtime in (None, "litert"):
        try:
            from ai_edge_litert import interpreter as litert
            return "litert", litert.Interpreter, litert.load_delegate, litert.OpResolverType
        except ImportError:
            if runtime == "litert":
                raise LceConvertError("runtime='litert' needs the ai_edge_litert package: pip install "
                                      "ai-edge-litert==2.3.0 (a dependency of lce_convert)") from None
    try:
        import tensorflow as tf
    except ImportError:
        raise LceConvertError("no TFLite runtime is installed: pip install ai-edge-litert==2.3.0 (a dependency "
                              "of lce_convert), or TensorFlow for runtime='tf'") from None
    return "tf", tf.lite.Interpreter, tf.lite.experimental.load_delegate, tf.lite.experimental.OpResolverType


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


# Samples per invoke when predict shows progress or reads an iterator of samples.
PREDICT_CHUNK = 64


def _scales(d):
    """LCE 0.16's scale of a tensor: None if not quantized, a float per tensor, else a list."""
    scales = d.get("quantization_parameters", {}).get("scales", ())
    if len(scales) == 0:
        return None
    return float(scales[0]) if len(scales) == 1 else [float(v) for v in scales]


def _zero_point(d):
    """LCE 0.16's zero point of a tensor: None if not quantized, else the (first) zero point."""
    q = d.get("quantization_parameters", {})
    if len(q.get("scales", ())) == 0:
        return None
    zero_points = q.get("zero_points", ())
    return int(zero_points[0]) if len(zero_points) else 0


def _check_format(model_bytes):
    """One sentence for what is not a .tflite flatbuffer at all (TFLite's own message is "The
    model is not a valid Flatbuffer buffer"): an empty buffer, a Keras .h5/.keras file, other
    bytes without the TFL3 identifier."""
    head = bytes(model_bytes[:8])
    if not head:
        raise InvalidModelError("the model is empty (0 bytes)")
    if head == b"\x89HDF\r\n\x1a\n" or head[:4] == b"PK\x03\x04":
        raise InvalidModelError("the model is a Keras model (%s), not a .tflite model: convert it first with "
                                "lce_convert.convert_keras_model or lce-convert convert"
                                % ("HDF5, .h5" if head[:1] == b"\x89" else "a zip archive, .keras"))
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise InvalidModelError("the model is not a .tflite flatbuffer (no TFL3 file identifier in its first 8 "
                                "bytes %r)" % head)


def _is_iterator(x):
    return hasattr(x, "__next__") and hasattr(x, "__iter__")


def _joined(results):
    """The outputs of successive chunks, concatenated along the batch (0-d outputs: stacked)."""
    outputs = [np.concatenate(r) if np.ndim(r[0]) else np.stack(r) for r in zip(*results)]
    return outputs[0] if len(outputs) == 1 else outputs


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def _progress(total, enabled=True):
    """A tqdm progress bar over `total` samples (None: unknown), or one that shows nothing."""
    if not enabled:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:
        raise LceConvertError("predict(verbose=1) needs tqdm: pip install tqdm (a dependency of lce_convert)") from None
    return tqdm(total=total, unit="sample")


class Interpreter:
    """A TFLite interpreter with the lce_convert delegate.

    LCE 0.16's arguments, with its meanings:
    `use_reference_bconv`: LceBconv2d runs the reference kernel (direct loops that compute
    semantics.md literally, one thread; the same bits as the optimized kernels, much slower);
    `use_indirect_bgemm`: accepted for LCE code; our LceBconv2d kernel is an indirect BGEMM
    whatever its value (LCE's choice between its im2col BGEMM and indirect BGEMM kernels has
    no counterpart here), and use_reference_bconv takes precedence, as in LCE;
    `use_xnnpack`: False keeps TFLite's XNNPACK delegate off, so TFLite's builtin kernels run
    the float ops. Our default is True (TFLite's default, and the faster one); LCE 0.16's is
    False, so pass use_xnnpack=False for LCE's configuration.

    Ours: `runtime`: "litert" (ai_edge_litert, the default when installed) or "tf" (tf.lite).
    `fuse`: the delegate fuses the float ops after a Bconv2d (per-channel MUL/ADD, residual
    ADD, ReLU-family, the LceQuantize of the result) into its output pass, with bit-identical
    results; False runs them as separate ops (TFLite/XNNPACK)."""

    def __init__(self, flatbuffer_model, num_threads=1, use_reference_bconv=False, use_indirect_bgemm=False,
                 use_xnnpack=True, *, runtime=None, fuse=True):
        if not isinstance(flatbuffer_model, (bytes, bytearray)):
            raise InvalidModelError("Interpreter expects the model as bytes (the .tflite file's contents, e.g. "
                                    "open(path, 'rb').read()), got %s" % type(flatbuffer_model).__name__)
        model_bytes = flatbuffer_model
        _check_format(model_bytes)
        if (not isinstance(num_threads, (int, np.integer)) or isinstance(num_threads, (bool, np.bool_))
                or not 1 <= num_threads <= MAX_THREADS):
            raise InvalidInputError("num_threads must be an int in 1..%d, got %r" % (MAX_THREADS, num_threads))
        for name, value in (("use_reference_bconv", use_reference_bconv), ("use_indirect_bgemm", use_indirect_bgemm),
                            ("use_xnnpack", use_xnnpack), ("fuse", fuse)):
            if not isinstance(value, (bool, np.bool_)):
                raise InvalidInputError("%s must be True or False, got %r" % (name, value))
        check_model(model_bytes)
        self.runtime, interpreter_class, load_delegate, resolvers = _runtime_module(runtime)
        self.use_reference_bconv = bool(use_reference_bconv)
        self.use_indirect_bgemm = bool(use_indirect_bgemm)
        self.use_xnnpack = bool(use_xnnpack)
        self._delegate = load_delegate(delegate_path(), {"fuse": "1" if fuse else "0",
                                                         "reference": "1" if use_reference_bconv else "0"})
        resolver = resolvers.AUTO if use_xnnpack else resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._interpreter = interpreter_class(model_content=bytes(model_bytes), num_threads=int(num_threads),
                                                      experimental_delegates=[self._delegate],
                                                      experimental_op_resolver_type=resolver)
                self._interpreter.allocate_tensors()
            except (RuntimeError, ValueError) as e:
                raise _failure("cannot prepare the model", e) from None
        self._refresh_details()
        self._model_inputs, self._model_outputs = list(self._inputs), list(self._outputs)

    # LCE 0.16's attributes: the model's own inputs and outputs (as declared, whatever batch
    # predict last ran), in input/output order.
    @property
    def input_types(self):
        """The inputs' numpy dtypes."""
        return [np.dtype(d["dtype"]) for d in self._model_inputs]

    @property
    def input_shapes(self):
        """The inputs' shapes as the model declares them (tuples)."""
        return [tuple(int(n) for n in d["shape"]) for d in self._model_inputs]

    @property
    def input_scales(self):
        """Per input: None if not quantized, else its scale (a float; a list if per channel)."""
        return [_scales(d) for d in self._model_inputs]

    @property
    def input_zero_points(self):
        """Per input: None if not quantized, else its zero point."""
        return [_zero_point(d) for d in self._model_inputs]

    @property
    def output_types(self):
        """The outputs' numpy dtypes."""
        return [np.dtype(d["dtype"]) for d in self._model_outputs]

    @property
    def output_shapes(self):
        """The outputs' shapes as the model declares them (tuples)."""
        return [tuple(int(n) for n in d["shape"]) for d in self._model_outputs]

    @property
    def output_scales(self):
        """Per output: None if not quantized, else its scale (a float; a list if per channel)."""
        return [_scales(d) for d in self._model_outputs]

    @property
    def output_zero_points(self):
        """Per output: None if not quantized, else its zero point."""
        return [_zero_point(d) for d in self._model_outputs]

    def get_signature_list(self):
        """The model's SignatureDefs, as TFLite's Interpreter.get_signature_list gives them."""
        return self._interpreter.get_signature_list()

    def get_signature_runner(self, signature_key=None):
        """TFLite's SignatureRunner for `signature_key` (the only one when None), on this
        interpreter (with the delegate). It resizes the interpreter's tensors as it runs."""
        try:
            return self._interpreter.get_signature_runner(signature_key)
        except ValueError as e:
            raise InvalidInputError(" ".join(str(e).split())) from None

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

    def predict(self, x, verbose=0):
        """Outputs for input `x`: an array, or a list with one array per input, with the batch
        first; or, as in LCE 0.16, an iterator of samples (each an array, or a list of arrays,
        without the batch dimension). The batch size may differ from the model's (a model that
        TFLite cannot resize runs the samples one by one, with a warning the first time);
        outputs are returned as an array (one output) or a list.

        `verbose=1` shows a progress bar over the samples (tqdm, on stderr); the batch then
        runs in chunks of PREDICT_CHUNK samples, as does an iterator."""
        if isinstance(verbose, (bool, np.bool_)) or not isinstance(verbose, (int, np.integer)) or verbose < 0:
            raise InvalidInputError("verbose must be 0 or 1, got %r" % (verbose,))
        if _is_iterator(x) and not isinstance(x, np.ndarray):
            return self._predict_iterator(x, verbose)
        if not verbose:
            return self._predict(x)
        inputs = self._checked_inputs(x)
        batched = [v for v, d in zip(inputs, self.input_details) if len(d["shape"])]
        total = int(batched[0].shape[0]) if batched else 1
        if len({int(v.shape[0]) for v in batched}) > 1:
            return self._predict(inputs)  # refused there, with the sizes
        results = []
        with _progress(total) as bar:
            for start in range(0, total, PREDICT_CHUNK):
                chunk = [v[start:start + PREDICT_CHUNK] if len(d["shape"]) else v
                         for v, d in zip(inputs, self.input_details)]
                out = self._predict(chunk)
                results.append(out if isinstance(out, list) else [out])
                bar.update(min(PREDICT_CHUNK, total - start))
        return _joined(results)

    def _predict_iterator(self, samples, verbose):
        n_inputs = len(self.input_details)
        results, chunk, count = [], [], 0

        def run():
            try:
                stacked = [np.stack([s[k] for s in chunk]) for k in range(n_inputs)]
            except ValueError:
                shapes = sorted({str(list(s[k].shape)) for s in chunk for k in range(n_inputs)})
                raise InvalidInputError("the samples of the iterator have different shapes (%s); each sample is "
                                        "one input without the batch dimension" % ", ".join(shapes)) from None
            out = self._predict(stacked)
            results.append(out if isinstance(out, list) else [out])

        with _progress(None, enabled=bool(verbose)) as bar:
            for sample in samples:
                if isinstance(sample, (list, tuple)):
                    sample = list(sample)
                elif n_inputs == 1:
                    sample = [sample]
                else:
                    raise InvalidInputError("the model has %d inputs: each sample of the iterator must be a list of "
                                            "%d arrays, got %s" % (n_inputs, n_inputs, type(sample).__name__))
                if len(sample) != n_inputs:
                    raise InvalidInputError("the model has %d inputs, sample %d of the iterator has %d arrays"
                                            % (n_inputs, count, len(sample)))
                chunk.append([np.asarray(v) for v in sample])
                count += 1
                if len(chunk) == PREDICT_CHUNK:
                    run()
                    bar.update(len(chunk))
                    chunk = []
            if chunk:
                run()
                bar.update(len(chunk))
        if not count:
            raise InvalidInputError("the iterator gave no samples")
        return _joined(results)

    def _checked_inputs(self, x):
        inputs = list(x) if isinstance(x, (list, tuple)) else [x]
        details = self.input_details
        if len(inputs) != len(details):
            raise InvalidInputError("the model has %d inputs, got %d arrays" % (len(details), len(inputs)))
        return [self._input_array(d, value) for d, value in zip(details, inputs)]

    def _predict(self, x):
        inputs = self._checked_inputs(x)
        details = self.input_details
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
