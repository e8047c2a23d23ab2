"""Reading and writing .tflite flatbuffers as the plain description that lce_convert._core turns
into (and back from) an MLIR module.

Import (`read`): one function per subgraph; subgraph inputs become arguments, outputs the
returned values. Every operator becomes one op: a typed `tfl` op (see _tflite_ops.py), `lq` for
LCE's custom ops, or the generic `tfl.builtin`/`tfl.custom` carriers that keep every option.
Constant buffers become `tfl.const` ops whose data crosses to C++ as raw bytes. Tensor names
become locations; int8 quantization becomes `!quant.uniform` types; everything else about a
tensor that a type cannot say (min/max, sparsity, ...) is kept in a `tfl.info` dictionary.

Export (`write`) inverts all of this, so that a round trip with no passes preserves behaviour.
Malformed input raises InvalidModelError with a message naming the problem.
"""
import math
import re
import struct

import numpy as np

from . import _tflite_ops as ops_table
from ._schema import enum_names, enum_values, schema
from .errors import InvalidModelError

# --- tensor element types ---------------------------------------------------------------------

# TFLite TensorType name -> (MLIR element type, numpy dtype or None if kept as raw bytes)
_ELEMENT_TYPES = {
    "FLOAT32": ("f32", np.float32), "FLOAT16": ("f16", np.float16), "FLOAT64": ("f64", np.float64),
    "BFLOAT16": ("bf16", None), "INT8": ("i8", np.int8), "INT16": ("i16", np.int16),
    "INT32": ("i32", np.int32), "INT64": ("i64", np.int64), "UINT8": ("ui8", np.uint8),
    "UINT16": ("ui16", np.uint16), "UINT32": ("ui32", np.uint32), "UINT64": ("ui64", np.uint64),
    "BOOL": ("i1", None), "COMPLEX64": ("complex<f32>", None), "COMPLEX128": ("complex<f64>", None),
    "INT4": ("i4", None),
}
# Bytes per element for the raw-byte types whose buffer size we can check.
_RAW_ITEMSIZE = {"BFLOAT16": 2, "BOOL": 1, "COMPLEX64": 8, "COMPLEX128": 16}
_QUANT_STORAGE = {"INT8": ("i8", -128, 127), "UINT8": ("u8", 0, 255), "INT16": ("i16", -32768, 32767),
                  "INT32": ("i32", -2**31, 2**31 - 1)}


def _elem_mlir(type_name):
    if type_name in _ELEMENT_TYPES:
        return _ELEMENT_TYPES[type_name][0]
    return '!tfl.element<"%s">' % type_name


def _elem_tflite(elem):
    """MLIR element type string (as _core describes it) -> TFLite TensorType name."""
    for name, (mlir, _) in _ELEMENT_TYPES.items():
        if mlir == elem:
            return name
    if elem in enum_values(schema().TensorType):
        return elem
    raise InvalidModelError("element type %s has no TFLite equivalent" % elem)


def _camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _snake(camel):
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


class _Budget:
    """Bounds the work of unpacking untrusted flatbuffers: honest models read each byte about
    once, while crafted ones could make tables alias the same large vectors many times."""

    def __init__(self, size):
        self.left = 16 * size + 1_000_000

    def charge(self, n):
        self.left -= n
        if self.left < 0:
            raise InvalidModelError("model structure is inconsistent: tables alias each other "
                                    "far beyond the file size")


def _plain(obj, budget, depth=0):
    """Object-API value -> plain Python (dicts with '@type' for nested tables)."""
    if depth > 16:
        raise InvalidModelError("options nested too deeply")
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return obj
    if isinstance(obj, np.ndarray):
        budget.charge(obj.size)
        return obj.copy()
    if isinstance(obj, (list, tuple)):
        budget.charge(len(obj))
        return [_plain(o, budget, depth + 1) for o in obj]
    out = {"@type": type(obj).__name__}
    for k, v in vars(obj).items():
        if v is not None:
            out[_snake(k)] = _plain(v, budget, depth + 1)
    return out


def _non_default(d):
    """Drop the fields of a plain table dict that equal the schema's defaults."""
    cls = getattr(schema(), d.get("@type", ""), None)
    if cls is None:
        return d
    default = vars(cls())
    out = {}
    for k, v in d.items():
        dv = default.get(_camel(k), None) if k != "@type" else None
        if k != "@type" and not isinstance(v, (np.ndarray, list, dict)) and v == dv:
            continue
        out[k] = v
    return out


def _unplain(value):
    """Inverse of _plain (values as _core exports them: strings as bytes)."""
    if isinstance(value, dict):
        cls_name = value.get("@type")
        if isinstance(cls_name, bytes):
            cls_name = cls_name.decode()
        cls = getattr(schema(), cls_name or "", None)
        if cls is None or not cls_name.endswith("T"):
            raise InvalidModelError("unknown schema table %r in options" % cls_name)
        obj = cls()
        for k, v in value.items():
            if k == "@type":
                continue
            attr = _camel(k)
            if not hasattr(obj, attr):
                raise InvalidModelError("%s has no field %s" % (cls_name, k))
            setattr(obj, attr, _unplain(v))
        return obj
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


# --- reading ------------------------------------------------------------------------------------

class _Reader:
    def __init__(self, data, lift_lce_ops=True):
        self.data = data
        self.lift_lce_ops = lift_lce_ops
        s = schema()
        self.s = s
        self.budget = _Budget(len(data))
        self.type_names = enum_names(s.TensorType)
        self.builtin_names = enum_names(s.BuiltinOperator)
        self.options_names = enum_names(s.BuiltinOptions)
        self.options2_names = enum_names(s.BuiltinOptions2)
        from ._core import Scalar, SymbolRef
        self.Scalar, self.SymbolRef = Scalar, SymbolRef

    def read(self):
        data = self.data
        if len(data) < 8:
            raise InvalidModelError("file too short (%d bytes) to be a .tflite model" % len(data))
        if data[4:8] != b"TFL3":
            raise InvalidModelError("wrong file identifier %r (expected b'TFL3'): not a .tflite "
                                    "model" % bytes(data[4:8]))
        (root,) = struct.unpack_from("<I", data, 0)
        if root + 4 > len(data):
            raise InvalidModelError("root table offset %d is outside the %d-byte file" % (root, len(data)))
        s = self.s
        try:
            model = s.Model.GetRootAs(data, 0)
            model_t = s.ModelT()
            model_t.version = model.Version()
            n_sub, n_buf = model.SubgraphsLength(), model.BuffersLength()
            for n, what in ((n_sub, "subgraphs"), (n_buf, "buffers"), (model.OperatorCodesLength(), "operator codes")):
                if n * 4 > len(data):
                    raise InvalidModelError("model claims %d %s, more than the file can hold" % (n, what))
            self.budget.charge(n_sub + n_buf)
            model_t.operatorCodes = [s.OperatorCodeT.InitFromObj(model.OperatorCodes(i))
                                     for i in range(model.OperatorCodesLength())]
            model_t.buffers = [self._buffer(model.Buffers(i)) for i in range(n_buf)]
            model_t.subgraphs = [self._subgraph(model.Subgraphs(i)) for i in range(n_sub)]
            model_t.description = model.Description()
            model_t.metadata = [s.MetadataT.InitFromObj(model.Metadata(i)) for i in range(model.MetadataLength())]
            model_t.metadataBuffer = (None if model.MetadataBufferIsNone()
                                      else model.MetadataBufferAsNumpy())
            model_t.signatureDefs = [s.SignatureDefT.InitFromObj(model.SignatureDefs(i))
                                     for i in range(model.SignatureDefsLength())]
            return self._describe(model_t)
        except InvalidModelError:
            raise
        except (IndexError, struct.error, ValueError, TypeError, UnicodeDecodeError,
                OverflowError, AttributeError, KeyError, MemoryError, RecursionError) as e:
            raise InvalidModelError("malformed .tflite flatbuffer (%s: %s)" % (type(e).__name__, e)) from None

    def _buffer(self, b):
        s = self.s
        t = s.BufferT()
        t.offset, t.size = b.Offset(), b.Size()
        if t.offset > 1:  # data stored after the flatbuffer (models over 2 GB)
            if t.offset + t.size > len(self.data):
                raise InvalidModelError("buffer data at offset %d (+%d) lies outside the file" % (t.offset, t.size))
            t.data = np.frombuffer(self.data, np.uint8, t.size, t.offset)
        elif not b.DataIsNone():
            t.data = b.DataAsNumpy()
        return t

    def _subgraph(self, g):
        s = self.s
        t = s.SubGraphT()
        n_ops, n_tensors = g.OperatorsLength(), g.TensorsLength()
        if (n_ops + n_tensors) * 4 > len(self.data):
            raise InvalidModelError("subgraph claims %d operators and %d tensors, more than the file holds"
                                    % (n_ops, n_tensors))
        t.tensors = []
        for i in range(n_tensors):
            tensor = s.TensorT.InitFromObj(g.Tensors(i))
            self.budget.charge(8 + (0 if tensor.shape is None else len(tensor.shape)))
            t.tensors.append(tensor)
        t.inputs = [] if g.InputsIsNone() else g.InputsAsNumpy().tolist()
        t.outputs = [] if g.OutputsIsNone() else g.OutputsAsNumpy().tolist()
        t.operators = []
        for i in range(n_ops):
            op = s.OperatorT.InitFromObj(g.Operators(i))
            self.budget.charge(8 + len(op.inputs if op.inputs is not None else ())
                               + len(op.outputs if op.outputs is not None else ()))
            if op.largeCustomOptionsSize:
                off, size = op.largeCustomOptionsOffset, op.largeCustomOptionsSize
                if off + size > len(self.data):
                    raise InvalidModelError("custom options of operator %d lie outside the file" % i)
                op.customOptions = np.frombuffer(self.data, np.uint8, size, off)
            t.operators.append(op)
        t.name = g.Name()
        self.budget.charge(len(t.inputs) + len(t.outputs))
        return t

    # -- model -> description --

    def _describe(self, m):
        self.model = m
        # Symbols: a subgraph's own name when it is a valid, first-seen identifier; else a fallback
        # subgraph_<i> (suffixed until it collides with no other symbol, own names included).
        names = [(g.name or b"").decode("utf-8", "replace") for g in m.subgraphs]
        own, taken = [], set()
        for name in names:
            ok = re.fullmatch(r"[A-Za-z_][\w.$-]*", name) is not None and name not in taken
            own.append(ok)
            if ok:
                taken.add(name)
        self.func_names = []
        for i, name in enumerate(names):
            sym = name
            if not own[i]:
                sym, k = "subgraph_%d" % i, 0
                while sym in taken:
                    k += 1
                    sym = "subgraph_%d_%d" % (i, k)
                taken.add(sym)
            self.func_names.append(sym)
        functions = [self._function(i, g) for i, g in enumerate(m.subgraphs)]
        attrs = {"tfl.schema_version": int(m.version)}
        if m.description is not None:
            attrs["tfl.description"] = bytes(m.description)
        metadata = []
        for md in m.metadata or []:
            metadata.append([bytes(md.name or b""), self._buffer_bytes(md.buffer, "metadata")])
        if metadata:
            attrs["tfl.metadata"] = metadata
        if m.metadataBuffer is not None:
            attrs["tfl.metadata_buffer"] = [self._buffer_bytes(int(b), "metadata_buffer")
                                            for b in m.metadataBuffer]
        if m.signatureDefs:
            attrs["tfl.signatures"] = [self._signature(sd) for sd in m.signatureDefs]
        return {"attrs": attrs, "functions": functions}

    def _buffer_bytes(self, index, what):
        if not 0 <= index < len(self.model.buffers):
            raise InvalidModelError("%s refers to buffer %d of %d" % (what, index, len(self.model.buffers)))
        d = self.model.buffers[index].data
        return np.zeros(0, np.uint8) if d is None else np.array(d, np.uint8)

    def _signature(self, sd):
        if not 0 <= sd.subgraphIndex < len(self.model.subgraphs):
            raise InvalidModelError("signature %r refers to subgraph %d" % (sd.signatureKey, sd.subgraphIndex))
        g = self.model.subgraphs[sd.subgraphIndex]

        def where(maps, positions, kind):
            out = []
            for tm in maps or []:
                if tm.tensorIndex not in positions:
                    raise InvalidModelError("signature %r maps %r to tensor %d, which is not an %s of "
                                            "subgraph %d" % (sd.signatureKey, tm.name, tm.tensorIndex,
                                                             kind, sd.subgraphIndex))
                out.append([bytes(tm.name or b""), positions.index(tm.tensorIndex)])
            return out
        return {"key": bytes(sd.signatureKey or b""),
                "subgraph": self.SymbolRef(self.func_names[sd.subgraphIndex]),
                "inputs": where(sd.inputs, list(g.inputs), "input"),
                "outputs": where(sd.outputs, list(g.outputs), "output")}

    def _tensor_type(self, t, where):
        type_name = self.type_names.get(t.type)
        if type_name is None:
            raise InvalidModelError("%s has unknown tensor type %d" % (where, t.type))
        info = {}
        shape = [] if t.shape is None else [int(d) for d in t.shape]
        if t.shape is None:
            info["shape_absent"] = True
        dims = shape
        if t.shapeSignature is not None and len(t.shapeSignature):
            sig = [int(d) for d in t.shapeSignature]
            if len(sig) != len(shape) or any(d < -1 for d in sig) or any(
                    d != -1 and d != e for d, e in zip(sig, shape)):
                raise InvalidModelError("%s has shape %s but shape_signature %s (each entry must be -1 or the "
                                        "shape's)" % (where, shape, sig))
            dims = sig
            if [1 if d == -1 else d for d in sig] != shape:
                info["shape"] = np.array(shape, np.int32)
        elif t.shapeSignature is not None:
            info["shape_signature_empty"] = True
        if any(d < -1 for d in dims) or any(d < 0 for d in shape):
            raise InvalidModelError("%s has a negative dimension in shape %s" % (where, shape))
        if not t.hasRank:
            info["has_rank"] = False
        elem = _elem_mlir(type_name)
        q = t.quantization
        if q is not None:
            qdict = _non_default(_plain(q, self.budget))
            qtype = self._quant_type(q, type_name, len(dims))
            if qtype is not None:
                elem = qtype
                for k in ("scale", "zero_point"):
                    qdict.pop(k, None)
                if qdict.get("quantized_dimension") == 0 or (q.scale is not None and len(q.scale) > 1):
                    qdict.pop("quantized_dimension", None)
            if set(qdict) - {"@type"}:
                info["quantization"] = qdict
        for field in ("sparsity", "variantTensors"):
            v = getattr(t, field)
            if v is not None:
                info[_snake(field)] = _plain(v, self.budget)
        if getattr(t, "externalBuffer", 0):
            raise InvalidModelError("%s uses an external buffer, which is not supported" % where)
        text = "tensor<%s%s>" % ("".join(("?" if d == -1 else str(d)) + "x" for d in dims), elem)
        return text, info, type_name, shape

    def _quant_type(self, q, type_name, rank):
        """`!quant.uniform` text for q, or None if q is not plain affine quantization."""
        if type_name not in _QUANT_STORAGE or q.scale is None or len(q.scale) == 0:
            return None
        storage, lo, hi = _QUANT_STORAGE[type_name]
        scales = [float(np.float32(x)) for x in q.scale]
        zps = [0] * len(scales) if q.zeroPoint is None or len(q.zeroPoint) == 0 else [int(z) for z in q.zeroPoint]
        if len(zps) != len(scales) or q.detailsType != 0:
            return None
        if not all(math.isfinite(x) and x > 0 and x >= 1e-38 for x in scales) or not all(lo <= z <= hi for z in zps):
            return None
        if len(scales) == 1:
            return "!quant.uniform<%s:f32, %r:%d>" % (storage, scales[0], zps[0])
        if not 0 <= q.quantizedDimension < rank:
            return None
        return "!quant.uniform<%s:f32:%d, {%s}>" % (
            storage, q.quantizedDimension, ",".join("%r:%d" % sz for sz in zip(scales, zps)))

    def _function(self, index, g):
        m = self.model
        where = "subgraph %d" % index
        tensors = g.tensors or []
        self._current_tensors = tensors
        ids = {}           # tensor index -> value id
        types = {}
        next_id = [0]
        ops = []

        def tensor(i, ctx):
            if not 0 <= i < len(tensors):
                raise InvalidModelError("%s: %s refers to tensor %d, but the subgraph has %d tensors"
                                        % (where, ctx, i, len(tensors)))
            if i not in types:
                types[i] = self._tensor_type(tensors[i], "%s tensor %d" % (where, i))
            return tensors[i]

        def new_value(i):
            ids[i] = next_id[0]
            next_id[0] += 1
            return ids[i]

        def result(i):
            text, info, _, _ = types[i]
            return {"type": text, "name": tensors[i].name}

        args = []
        for i in g.inputs:
            t = tensor(i, "input")
            if i in ids:
                raise InvalidModelError("%s lists tensor %d twice among its inputs" % (where, i))
            new_value(i)
            text, info, _, _ = types[i]
            args.append({"type": text, "name": t.name, "attrs": {"tfl.info": info} if info else {}})

        no_value = [None]

        def use(i, ctx):
            if i == -1:
                if no_value[0] is None:
                    ops.append({"name": "tfl.no_value", "operands": [], "results": [{"type": "none", "name": None}]})
                    no_value[0] = next_id[0]
                    next_id[0] += 1
                return no_value[0]
            t = tensor(i, ctx)
            if i in ids:
                return ids[i]
            return self._materialize(i, t, types[i], ops, new_value, where, ctx)

        for n, op in enumerate(g.operators or []):
            ctx = "operator %d" % n
            operands = [use(int(i), ctx) for i in (op.inputs if op.inputs is not None else [])]
            outs = [int(i) for i in (op.outputs if op.outputs is not None else [])]
            for i in outs:
                tensor(i, ctx)
                if i in ids:
                    raise InvalidModelError("%s: %s writes tensor %d, which already has a value"
                                            % (where, ctx, i))
            if len(set(outs)) != len(outs):
                raise InvalidModelError("%s: %s lists an output tensor twice" % (where, ctx))
            desc = self._operator(op, ctx, where, [types[i] for i in outs],
                                  [None if i == -1 else types[int(i)] for i in (op.inputs if op.inputs is not None else [])])
            desc["operands"] = operands
            desc["results"] = [result(i) for i in outs]
            infos = [types[i][1] for i in outs]
            if any(infos):
                desc.setdefault("attrs", {})["tfl.info"] = infos
            for i in outs:
                new_value(i)
            ops.append(desc)

        returns = [use(int(i), "output") for i in g.outputs]
        fattrs = {}
        if self.func_names[index] != (g.name or b"").decode("utf-8", "replace") or g.name is None:
            fattrs["tfl.name"] = b"" if g.name is None else bytes(g.name)
            if g.name is None:
                fattrs["tfl.name_absent"] = True
        return {"name": self.func_names[index], "attrs": fattrs, "args": args, "ops": ops, "returns": returns}

    def _materialize(self, i, t, typeinfo, ops, new_value, where, ctx):
        """A tensor read before any operator wrote it: a constant or a variable."""
        text, info, type_name, shape = typeinfo
        m = self.model
        if not 0 <= t.buffer < len(m.buffers):
            raise InvalidModelError("%s tensor %d refers to buffer %d of %d" % (where, i, t.buffer, len(m.buffers)))
        data = m.buffers[t.buffer].data if t.buffer else None
        has_data = data is not None and len(data) > 0
        count = math.prod(shape)
        if "?" in text and (has_data or not t.isVariable):
            raise InvalidModelError("%s tensor %d is a constant with a dynamic shape" % (where, i))
        if not has_data and not t.isVariable and count != 0:
            raise InvalidModelError("%s: %s reads tensor %d, which no earlier operator writes and which "
                                    "is neither an input nor a constant" % (where, ctx, i))
        desc = {"name": "tfl.variable" if t.isVariable else "tfl.const", "operands": [],
                "results": [{"type": text, "name": t.name}], "attrs": {}}
        if info:
            desc["attrs"]["tfl.info"] = [info]
        if has_data or not t.isVariable:
            raw = np.zeros(0, np.uint8) if data is None else data
            dtype = _ELEMENT_TYPES.get(type_name, (None, None))[1]
            if dtype is not None:
                expected = count * np.dtype(dtype).itemsize
                if len(raw) != expected:
                    raise InvalidModelError("%s tensor %d: buffer %d has %d bytes but a %s tensor of shape %s "
                                            "needs %d" % (where, i, t.buffer, len(raw), type_name, shape, expected))
                storage_elem = _ELEMENT_TYPES[type_name][0]
                if "!quant" in text:  # quantized storage is a signless integer of the same width
                    storage_elem = "i%d" % (8 * np.dtype(dtype).itemsize)
                storage = "tensor<%s%s>" % ("".join("%dx" % d for d in shape), storage_elem)
            else:
                itemsize = _RAW_ITEMSIZE.get(type_name)
                if itemsize is not None and len(raw) != count * itemsize:
                    raise InvalidModelError("%s tensor %d: buffer %d has %d bytes but a %s tensor of shape %s "
                                            "needs %d" % (where, i, t.buffer, len(raw), type_name, shape,
                                                          count * itemsize))
                storage = "tensor<%dxui8>" % len(raw)
            desc["data"] = memoryview(np.ascontiguousarray(raw)).cast("B")
            desc["data_type"] = storage
        ops.append(desc)
        return new_value(i)

    def _operator(self, op, ctx, where, out_types, in_types):
        m = self.model
        if not 0 <= op.opcodeIndex < len(m.operatorCodes):
            raise InvalidModelError("%s: %s uses operator code %d of %d" % (where, ctx, op.opcodeIndex,
                                                                           len(m.operatorCodes)))
        code = m.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        version = int(code.version)
        extra = {}
        if op.mutatingVariableInputs is not None and len(op.mutatingVariableInputs):
            extra["tfl.mutating_variable_inputs"] = [bool(x) for x in op.mutatingVariableInputs]
        if op.intermediates is not None and len(op.intermediates):
            extra["tfl.intermediates"] = [self._intermediate(int(i), where) for i in op.intermediates]
        if op.debugMetadataIndex != -1:
            extra["tfl.debug_metadata_index"] = int(op.debugMetadataIndex)
        name = self.builtin_names.get(builtin)
        if name is None:
            raise InvalidModelError("%s: %s has unknown builtin code %d" % (where, ctx, builtin))
        if name == "CUSTOM":
            custom = bytes(code.customCode or b"")
            options = None if op.customOptions is None else np.array(op.customOptions, np.uint8)
            lifted = self._lift_lce(custom, options, op, version, len(out_types), extra)
            if lifted is not None:
                return lifted
            attrs = {"name": custom, "version": self.Scalar("i32", version), **extra}
            if options is not None:
                attrs["custom_options"] = options
            if op.customOptionsFormat:
                attrs["tfl.custom_options_format"] = int(op.customOptionsFormat)
            return {"name": "tfl.custom", "attrs": attrs}
        self._check_window_options(name, op, where, ctx)
        typed = self._typed(name, op, version, len(out_types), extra)
        if typed is not None:
            return typed
        attrs = {"name": name, "version": self.Scalar("i32", version), **extra}
        for union, value, names in (("options", op.builtinOptions, self.options_names),
                                    ("options2", op.builtinOptions2, self.options2_names)):
            type_index = op.builtinOptionsType if union == "options" else op.builtinOptions2Type
            if type_index:
                if type_index not in names:
                    raise InvalidModelError("%s: %s has unknown %s type %d" % (where, ctx, union, type_index))
                attrs[union + "_type"] = names[type_index]
                attrs[union] = self._options_dict(value)
        return {"name": "tfl.builtin", "attrs": attrs}

    # Options of windowed ops that TFLite divides by or loops over: a zero or negative value is
    # refused here, naming the operator, rather than reaching a pass or a kernel.
    _WINDOW_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D", "CONV_3D_TRANSPOSE",
                   "MAX_POOL_2D", "AVERAGE_POOL_2D", "L2_POOL_2D"}
    _WINDOW_FIELDS = ("strideW", "strideH", "strideD", "dilationWFactor", "dilationHFactor", "dilationDFactor",
                      "filterWidth", "filterHeight")

    def _check_window_options(self, name, op, where, ctx):
        if name not in self._WINDOW_OPS or op.builtinOptions is None:
            return
        for field in self._WINDOW_FIELDS:
            v = getattr(op.builtinOptions, field, None)
            if isinstance(v, int) and v < 1:
                raise InvalidModelError("%s: %s (%s) has %s = %d; strides, dilations and filter sizes must be "
                                        "at least 1" % (where, ctx, name, _snake(field), v))

    def _intermediate(self, i, where):
        """Intermediate tensors (quantized LSTMs keep scales on them) travel as plain tensor
        tables: they carry no data and no operator reads them."""
        if not 0 <= i < len(self._current_tensors):
            raise InvalidModelError("%s: intermediate tensor %d out of range" % (where, i))
        t = _plain(self._current_tensors[i], self.budget)
        t["buffer"] = 0
        return t

    def _options_dict(self, options):
        d = _non_default(_plain(options, self.budget)) if options is not None else {}
        d.pop("@type", None)
        for k, v in list(d.items()):
            if k.endswith("subgraph_index") and isinstance(v, int):
                if not 0 <= v < len(self.func_names):
                    raise InvalidModelError("options refer to subgraph %d of %d" % (v, len(self.func_names)))
                d[k] = self.SymbolRef(self.func_names[v])
        return d

    def _typed(self, name, op, version, n_out, extra):
        t = ops_table.BY_BUILTIN.get(name)
        if t is None or n_out != 1:
            return None
        n_in = 0 if op.inputs is None else len(op.inputs)
        if t.num_inputs is not None and n_in != t.num_inputs:
            return None
        s = self.s
        expected_type = 0 if t.options is None else getattr(s.BuiltinOptions, t.options)
        absent = t.options is not None and op.builtinOptionsType == 0
        if op.builtinOptionsType != expected_type and not (absent and not t.fields):
            return None
        if op.builtinOptions2Type:
            return None
        attrs = {"version": self.Scalar("i32", version), **extra}
        fields = _plain(op.builtinOptions, self.budget) if op.builtinOptions is not None else {}
        fields.pop("@type", None)
        defaults = _plain(getattr(s, t.options + "T")(), self.budget) if t.options else {}
        for field, kind in t.fields:
            v = fields.pop(field, defaults.get(field))
            if v is None:
                return None
            if kind == "i32":
                if not isinstance(v, int) or not -2**31 <= v < 2**31:
                    return None
                attrs[field] = self.Scalar("i32", v)
            elif kind == "bool":
                attrs[field] = bool(v)
            else:
                names = enum_names(getattr(s, kind))
                if v not in names:
                    return None
                attrs[field] = names[v]
        extras = _non_default(dict(fields, **{"@type": t.options + "T"})) if t.options else {}
        for k, v in extras.items():
            if k == "@type":  # other fields (newer schemas, RESHAPE's new_shape)
                continue
            if not isinstance(v, (bool, int, float, np.ndarray)):
                return None
            attrs["tfl.option." + k] = v
        return {"name": t.mlir_name, "attrs": attrs}

    def _lift_lce(self, custom, options, op, version, n_out, extra):
        spec = ops_table.LCE_OPS.get(custom.decode("utf-8", "replace")) if self.lift_lce_ops else None
        if spec is None or n_out != 1 or extra or op.customOptionsFormat or version != 1:
            return None
        mlir_name, keys, n_in = spec
        if op.inputs is None or len(op.inputs) != n_in:
            return None
        attrs = {}
        if keys:
            try:
                from flatbuffers import flexbuffers
                decoded = flexbuffers.Loads(bytes(options)) if options is not None else None
            except Exception:
                return None
            if not isinstance(decoded, dict) or set(decoded) != set(keys):
                return None
            for k in keys:
                v = decoded[k]
                if not isinstance(v, int) or isinstance(v, bool):
                    return None
                if k in ops_table.LCE_ENUM_KEYS:
                    names = enum_names(getattr(self.s, ops_table.LCE_ENUM_KEYS[k]))
                    if v not in names:
                        return None
                    attrs[k] = names[v]
                else:
                    if not -2**31 <= v < 2**31:
                        return None
                    attrs[k] = self.Scalar("i32", v)
        elif options is not None and len(options):
            return None
        return {"name": mlir_name, "attrs": attrs}


def read(data, lift_lce_ops=True):
    """Parse .tflite bytes into a description for _core.Module.from_description."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise InvalidModelError("expected the model as bytes, got %s" % type(data).__name__)
    return _Reader(data, lift_lce_ops).read()


# --- writing ------------------------------------------------------------------------------------

class _AlignedBuffer:
    """A Buffer table whose data vector is 16-byte aligned, as TFLite's own writer does."""

    def __init__(self, data):
        self.data = data

    def Pack(self, builder):
        s = schema()
        data_off = None
        if self.data is not None:
            n = len(self.data)
            builder.StartVector(1, n, 16)
            builder.head = builder.head - n
            builder.Bytes[builder.head:builder.head + n] = self.data
            data_off = builder.EndVector()
        s.BufferStart(builder)
        if data_off is not None:
            s.BufferAddData(builder, data_off)
        return s.BufferEnd(builder)


class _Writer:
    def __init__(self, desc, default_range=None):
        self.desc = desc
        self.default_range = default_range
        s = schema()
        self.s = s
        self.builtin_codes = enum_values(s.BuiltinOperator)
        self.type_codes = enum_values(s.TensorType)
        self.buffers = [_AlignedBuffer(None)]
        self.blob_buffer = {}
        self.opcodes = {}
        self.opcode_list = []
        from ._core import Scalar, SymbolRef
        self.Scalar, self.SymbolRef = Scalar, SymbolRef
        self.func_index = {f["name"]: i for i, f in enumerate(desc["functions"])}
        self.graphs = []
        self._unnamed = 0

    def buffer(self, data):
        self.buffers.append(_AlignedBuffer(data))
        return len(self.buffers) - 1

    def opcode(self, builtin, custom, version):
        key = (builtin, custom, version)
        if key not in self.opcodes:
            c = self.s.OperatorCodeT()
            c.builtinCode = builtin
            c.deprecatedBuiltinCode = min(builtin, 127)
            c.customCode = custom
            c.version = version
            self.opcodes[key] = len(self.opcode_list)
            self.opcode_list.append(c)
        return self.opcodes[key]

    def write(self):
        s = self.s
        d = self.desc
        attrs = d["attrs"]
        m = s.ModelT()
        m.version = attrs.get("tfl.schema_version", 3)
        m.subgraphs = [self.subgraph(f) for f in d["functions"]]
        m.description = attrs.get("tfl.description")
        m.metadata = []
        for name, content in attrs.get("tfl.metadata", []):
            md = s.MetadataT()
            md.name = name
            md.buffer = self.buffer(bytes(np.asarray(content, np.uint8)))
            m.metadata.append(md)
        if "tfl.metadata_buffer" in attrs:
            m.metadataBuffer = [self.buffer(bytes(np.asarray(c, np.uint8))) for c in attrs["tfl.metadata_buffer"]]
        m.signatureDefs = [self.signature(sig) for sig in attrs.get("tfl.signatures", [])]
        m.operatorCodes = self.opcode_list
        m.buffers = self.buffers
        import flatbuffers
        builder = flatbuffers.Builder(1024)
        try:
            builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        except Exception as e:  # flatbuffers raises plain exceptions past 2 GB
            raise InvalidModelError("cannot serialize the model: %s" % e) from None
        return bytes(builder.Output())

    def signature(self, sig):
        s = self.s
        sd = s.SignatureDefT()
        sd.signatureKey = sig["key"]
        sub = sig["subgraph"]
        sd.subgraphIndex = self.func_index[sub.name]
        graph = self.graphs[sd.subgraphIndex]
        sd.inputs, sd.outputs = [], []
        for name, pos in sig["inputs"]:
            tm = s.TensorMapT()
            tm.name, tm.tensorIndex = name, graph.inputs[pos]
            sd.inputs.append(tm)
        for name, pos in sig["outputs"]:
            tm = s.TensorMapT()
            tm.name, tm.tensorIndex = name, graph.outputs[pos]
            sd.outputs.append(tm)
        return sd

    def tensor(self, typ, name, info):
        s = self.s
        t = s.TensorT()
        info = info or {}
        q = typ["quant"]
        elem = typ["elem"]
        if q is not None:
            elem = {"i8": "i8", "ui8": "ui8", "i16": "i16", "i32": "i32"}[q["storage"]]
        t.type = self.type_codes[_elem_tflite(elem)]
        dims = typ["shape"]
        if dims is None:
            raise InvalidModelError("unranked tensors cannot be exported")
        if -1 in dims or "shape_signature_empty" in info:
            t.shapeSignature = np.array(dims, np.int32) if -1 in dims else np.zeros(0, np.int32)
        if "shape" in info:
            t.shape = np.asarray(info["shape"], np.int32)
        elif not info.get("shape_absent"):
            t.shape = np.array([1 if x == -1 else x for x in dims], np.int32)
        t.name = name if name is not None else b"tensor_%d" % self._unnamed
        self._unnamed += name is None
        t.hasRank = bool(info.get("has_rank", True))
        qdict = info.get("quantization")
        if q is not None or qdict is not None:
            qp = _unplain(dict(qdict)) if qdict is not None else s.QuantizationParametersT()
            if q is not None:
                qp.scale = np.array(q["scales"], np.float32)
                qp.zeroPoint = np.array(q["zero_points"], np.int64)
                if q["axis"] >= 0:
                    qp.quantizedDimension = q["axis"]
            t.quantization = qp
        if "sparsity" in info:
            t.sparsity = _unplain(info["sparsity"])
        if "variant_tensors" in info:
            t.variantTensors = _unplain(info["variant_tensors"])
        return t

    def subgraph(self, f):
        s = self.s
        g = s.SubGraphT()
        g.tensors, g.operators = [], []
        self._tensors = g.tensors
        index = {}  # value id -> tensor index
        fattrs = f["attrs"]
        g.name = None if fattrs.get("tfl.name_absent") else fattrs.get("tfl.name", f["name"].encode())

        def add(value_id, typ, name, info):
            index[value_id] = len(g.tensors)
            g.tensors.append(self.tensor(typ, name, info))
            return g.tensors[-1]

        for a in f["args"]:
            add(a["id"], a["type"], a["name"], a["attrs"].get("tfl.info"))
        g.inputs = [index[a["id"]] for a in f["args"]]
        for o in f["ops"]:
            name = o["name"]
            attrs = dict(o["attrs"])
            infos = attrs.pop("tfl.info", None) or [None] * len(o["results"])
            if name == "tfl.no_value":
                index[o["results"][0]["id"]] = -1
                continue
            if name in ("tfl.const", "tfl.variable"):
                r = o["results"][0]
                t = add(r["id"], r["type"], r["name"], infos[0])
                t.isVariable = name == "tfl.variable"
                if "data" in o:
                    t.buffer = self.blob_buffer.get(o["data"])
                    if t.buffer is None or t.isVariable:
                        t.buffer = self.buffer(self.desc["blobs"][o["data"]])
                        if not t.isVariable:
                            self.blob_buffer[o["data"]] = t.buffer
                continue
            for r, info in zip(o["results"], infos):
                add(r["id"], r["type"], r["name"], info)
            g.operators.append(self.operator(o, attrs, index))
        g.outputs = [index[v] for v in f["returns"]]
        if self.default_range is not None:
            self._give_default_ranges(g)
        self.graphs.append(g)
        return g

    def _give_default_ranges(self, g):
        """Calibration ranges `default_range` on the float32 tensors that LCE 0.16's default-range
        pass gives one to: subgraph inputs and results of builtin operators (not the results of
        custom ops such as LceBconv2d, nor constants or variables), unless they have one."""
        s = self.s
        lo, hi = self.default_range
        custom = {i for i, c in enumerate(self.opcode_list)
                  if max(c.builtinCode, c.deprecatedBuiltinCode) == s.BuiltinOperator.CUSTOM}
        ranged = set(g.inputs)
        for op in g.operators:
            if op.opcodeIndex not in custom:
                ranged.update(op.outputs)
        for i in sorted(ranged):
            t = g.tensors[i]
            has_data = t.buffer > 0 and self.buffers[t.buffer].data is not None
            if t.type != s.TensorType.FLOAT32 or has_data or t.isVariable:
                continue
            q = t.quantization
            if q is not None and q.min is not None and len(q.min):
                continue
            q = q or s.QuantizationParametersT()
            q.min, q.max = [float(lo)], [float(hi)]
            t.quantization = q

    def operator(self, o, attrs, index):
        s = self.s
        op = s.OperatorT()
        op.inputs = [index[v] for v in o["operands"]]
        op.outputs = [index[r["id"]] for r in o["results"]]
        name = o["name"]
        version = attrs.pop("version", 1)
        if "tfl.mutating_variable_inputs" in attrs:
            op.mutatingVariableInputs = attrs.pop("tfl.mutating_variable_inputs")
        if "tfl.intermediates" in attrs:
            op.intermediates = []
            for t in attrs.pop("tfl.intermediates"):
                op.intermediates.append(len(self._tensors))
                self._tensors.append(_unplain(t))
        op.debugMetadataIndex = attrs.pop("tfl.debug_metadata_index", -1)
        if name == "tfl.custom":
            op.opcodeIndex = self.opcode(self.builtin_codes["CUSTOM"], attrs.pop("name"), version)
            if "custom_options" in attrs:
                op.customOptions = np.asarray(attrs.pop("custom_options"), np.uint8)
            op.customOptionsFormat = attrs.pop("tfl.custom_options_format", 0)
        elif name == "tfl.builtin":
            builtin = attrs.pop("name").decode()
            op.opcodeIndex = self.opcode(self.builtin_codes[builtin], None, version)
            for union in ("options", "options2"):
                if union + "_type" in attrs:
                    type_name = attrs.pop(union + "_type").decode()
                    enum = s.BuiltinOptions if union == "options" else s.BuiltinOptions2
                    obj = getattr(s, type_name + "T")()
                    for k, v in attrs.pop(union).items():
                        if isinstance(v, self.SymbolRef):
                            v = self.func_index[v.name]
                        if not hasattr(obj, _camel(k)):
                            raise InvalidModelError("%s has no field %s" % (type_name, k))
                        setattr(obj, _camel(k), _unplain(v))
                    if union == "options":
                        op.builtinOptionsType, op.builtinOptions = getattr(enum, type_name), obj
                    else:
                        op.builtinOptions2Type, op.builtinOptions2 = getattr(enum, type_name), obj
        elif name in ops_table.BY_MLIR:
            t = ops_table.BY_MLIR[name]
            op.opcodeIndex = self.opcode(self.builtin_codes[t.builtin], None, version)
            extras = [k for k in attrs if k.startswith("tfl.option.")]
            if t.options is not None and (t.fields or extras):
                obj = getattr(s, t.options + "T")()
                for field, kind in t.fields:
                    v = attrs.pop(field)
                    if kind not in ("i32", "bool"):
                        v = enum_values(getattr(s, kind))[v.decode()]
                    setattr(obj, _camel(field), v)
                for k in extras:
                    setattr(obj, _camel(k[len("tfl.option."):]), attrs.pop(k))
                op.builtinOptionsType = getattr(s.BuiltinOptions, t.options)
                op.builtinOptions = obj
        elif name in ops_table.LQ_TO_LCE:
            custom = ops_table.LQ_TO_LCE[name]
            op.opcodeIndex = self.opcode(self.builtin_codes["CUSTOM"], custom.encode(), version)
            keys = ops_table.LCE_OPS[custom][1]
            if keys:
                from flatbuffers import flexbuffers
                values = {}
                for k in keys:
                    v = attrs.pop(k, ops_table.lq_defaults(name).get(k))
                    if v is None:
                        raise InvalidModelError("%s lacks attribute %s" % (name, k))
                    if k in ops_table.LCE_ENUM_KEYS:
                        v = enum_values(getattr(s, ops_table.LCE_ENUM_KEYS[k]))[v.decode()]
                    values[k] = int(v)
                op.customOptions = np.frombuffer(flexbuffers.Dumps(values), np.uint8)
            else:
                op.customOptions = np.zeros(0, np.uint8)
        else:
            raise InvalidModelError("operation %s cannot be exported to TFLite" % name)
        return op


def write(desc, default_range=None):
    """Serialize a description from _core.Module.to_description into .tflite bytes. With
    `default_range=(lo, hi)`, the float32 tensors that LCE 0.16's default-range pass would give
    a range get (lo, hi) as calibration min/max (for TensorFlow's quantizer)."""
    return _Writer(desc, default_range).write()


# -- description surgery (the converter edits descriptions, never flatbuffers) --

def quantize_float_outputs(desc, scale, zero_point):
    """The float32 outputs of the entry function (the first) that no DEQUANTIZE gives become
    int8 with (scale, zero_point): an LceDequantize (lq.Dequantize) writes int8 itself, any other
    op gets a tfl.quantize after it, appended as the last op, whose result is named after the
    output with "_int8". Returns the number of outputs changed."""
    if not desc["functions"]:
        return 0
    f = desc["functions"][0]
    types = {a["id"]: a["type"] for a in f["args"]}
    producers, results = {}, {}
    next_id = 0
    for a in f["args"]:
        next_id = max(next_id, a["id"] + 1)
    for o in f["ops"]:
        for r in o["results"]:
            types[r["id"]], producers[r["id"]], results[r["id"]] = r["type"], o, r
            next_id = max(next_id, r["id"] + 1)

    def int8(typ):
        return {"shape": list(typ["shape"]) if typ["shape"] is not None else None, "elem": "i8",
                "quant": {"storage": "i8", "axis": -1, "scales": [float(scale)], "zero_points": [int(zero_point)]}}

    def is_lce_dequantize(o):
        return o is not None and (o["name"] == "lq.Dequantize" or
                                  (o["name"] == "tfl.custom" and o["attrs"].get("name") == b"LceDequantize"))
    version = next((o["attrs"].get("version", 1) for g in desc["functions"] for o in g["ops"]
                    if o["name"] == "tfl.quantize"), 1)
    todo = [v for v in f["returns"] if types[v]["elem"] == "f32" and types[v]["quant"] is None
            and (producers.get(v) is None or producers[v]["name"] != "tfl.dequantize")]
    renamed = {}
    for v in todo:
        o = producers.get(v)
        if is_lce_dequantize(o):
            r = results[v]
            r["type"] = int8(r["type"])
            infos = o["attrs"].get("tfl.info")
            if infos:
                index = o["results"].index(r)
                if infos[index] is not None:
                    infos[index] = {k: x for k, x in infos[index].items() if k != "quantization"}
            continue
        name = results[v]["name"] if v in results else next(a["name"] for a in f["args"] if a["id"] == v)
        attrs = {"version": version}
        info = (producers[v]["attrs"].get("tfl.info") or [None] * len(producers[v]["results"]))[
            producers[v]["results"].index(results[v])] if v in results else None
        shape_info = {k: x for k, x in (info or {}).items() if k in ("shape", "shape_signature_empty")}
        # As the flatbuffer route wrote this tensor (a new TensorT: has_rank false), so that the
        # output stays byte-identical to it.
        shape_info["has_rank"] = False
        attrs["tfl.info"] = [shape_info]
        f["ops"].append({"name": "tfl.quantize", "operands": [v], "attrs": attrs,
                         "results": [{"id": next_id, "type": int8(types[v]),
                                      "name": (name or b"output") + b"_int8"}]})
        renamed[v] = next_id
        next_id += 1
    f["returns"] = [renamed.get(v, v) for v in f["returns"]]
    return len(todo)


def constants_at_first_use(desc):
    """Moves every constant (tfl.const, tfl.variable, tfl.no_value) of each function right before
    its first user, in operand order, as reading a written model places them; constants that
    nothing uses are dropped, as a read drops them. A description exported from a module that
    never went through bytes then serializes exactly as one that did (the converter's int8
    steps run on the module itself and keep the layout of the former write-and-read)."""
    for f in desc["functions"]:
        constant = {}
        for o in f["ops"]:
            if o["name"] in ("tfl.const", "tfl.variable", "tfl.no_value"):
                constant[o["results"][0]["id"]] = o
        placed, ops = set(), []

        def use(v):
            o = constant.get(v)
            if o is not None and v not in placed:
                placed.add(v)
                ops.append(o)
        for o in f["ops"]:
            if o["results"] and o["results"][0]["id"] in constant:
                continue
            for v in o["operands"]:
                use(v)
            ops.append(o)
        for v in f["returns"]:
            use(v)
        f["ops"] = ops
    return desc


# -- flatbuffer object API (for tests and tools that build or mutate models directly) --

def model_object(data):
    """The flatbuffer object API's ModelT of .tflite bytes, for building or editing a model
    outside MLIR (tests, fuzzers, the benchmark's per-op models). No checks: the conversion
    itself reads models with `read`, which validates them."""
    s = schema()
    return s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))


def model_bytes(model, size=1024):
    """.tflite bytes of a ModelT (file identifier TFL3)."""
    import flatbuffers
    builder = flatbuffers.Builder(size)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
