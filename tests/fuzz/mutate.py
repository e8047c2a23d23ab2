"""Structure-aware mutations of .tflite models through the flatbuffer object API (ModelT).

A case is (seed model, case number): `mutate_case` draws 1-3 mutation steps, each with its own
random stream (so a step can be dropped when minimizing without changing the others), from:
tensor indices (with -1, out of range, graph inputs, constants, the op's own inputs), operator
arity and order, tensor shapes, shape signatures, types and quantization, buffers, opcode
indices and names (embedded NULs, other Lce names), the Lce ops' flexbuffer options (values,
keys, value types and raw bytes) and subgraph references. Mutations prefer the Lce ops and the
builtin ADD/MUL/ReLU ops the delegate may fuse into a Bconv2d.
"""
import math
import random

import numpy as np

from lce_convert._schema import schema
from lce_convert._tflite_io import model_bytes as pack, model_object as parse

LCE_NAMES = [b"LceQuantize", b"LceDequantize", b"LceBconv2d", b"LceBMaxPool2d"]
INTERESTING = [0, 1, 2, 3, 31, 32, 33, 63, 64, 255, 256, 2**15, 2**16, 2**20, 2**31 - 1, 2**31, 2**32 + 1,
               2**62, 2**63 - 1, -1, -2, -128, -129, 127, 128, -2**31, -2**63]
SMALL_DIMS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 32, 33, 64, 65, 100]
HUGE_DIMS = [-1, 2**16, 2**20, 2**24, 2**31 - 1]


def _list(a):
    return [] if a is None else [int(x) for x in a]


def _i32(values):
    return np.array([max(-2**31, min(2**31 - 1, int(v))) for v in values], np.int32)


# ADD, MUL, RELU, RELU_N1_TO_1, RELU6: claimed by the delegate when they follow a float Bconv2d
FUSABLE_BUILTINS = {0, 18, 19, 20, 21}


def _builtin(m, op):
    codes = m.operatorCodes or []
    if op.opcodeIndex is None or not 0 <= op.opcodeIndex < len(codes):
        return None
    c = codes[op.opcodeIndex]
    return max(int(c.builtinCode), int(c.deprecatedBuiltinCode))


def _code_name(m, op):
    codes = m.operatorCodes or []
    if op.opcodeIndex is None or not 0 <= op.opcodeIndex < len(codes):
        return None
    c = codes[op.opcodeIndex].customCode
    return bytes(c) if c is not None else None


class Ctx:
    """Where the model's Lce ops and tensors are (recomputed after each step). With `lce_only`
    (the runtime fuzzer), operators and tensors are picked among the Lce ops and their tensors:
    TFLite's own builtin kernels are not what is under test, and some of them crash on inputs
    such as a -1 shape tensor of RESHAPE."""

    def __init__(self, m, lce_only=False):
        self.m = m
        self.lce_only = lce_only
        self.ops = [(g, o) for g, sg in enumerate(m.subgraphs or []) for o in range(len(sg.operators or []))]
        self.lce_ops = [(g, o) for g, o in self.ops if _code_name(m, m.subgraphs[g].operators[o]) in LCE_NAMES
                        or _builtin(m, m.subgraphs[g].operators[o]) in FUSABLE_BUILTINS]

    def op(self, rng):
        pool = self.lce_ops if self.lce_ops and (self.lce_only or rng.random() < 0.85) else self.ops
        if not pool:
            return None, None, None
        g, o = rng.choice(pool)
        return g, o, self.m.subgraphs[g].operators[o]

    def tensor(self, rng):
        """(subgraph, index, TensorT), preferring tensors of Lce ops."""
        g, o, op = self.op(rng)
        if op is None:
            return None, None, None
        sg = self.m.subgraphs[g]
        ids = [i for i in _list(op.inputs) + _list(op.outputs) if 0 <= i < len(sg.tensors or [])]
        if not ids or (not self.lce_only and rng.random() < 0.15):
            ids = list(range(len(sg.tensors or [])))
        if not ids:
            return None, None, None
        i = rng.choice(ids)
        return g, i, sg.tensors[i]


def _index_value(rng, m, g, op, outputs):
    sg = m.subgraphs[g]
    n = len(sg.tensors or [])
    constants = [i for i, t in enumerate(sg.tensors or []) if 0 < t.buffer < len(m.buffers or [])
                 and m.buffers[t.buffer].data is not None and len(m.buffers[t.buffer].data)]
    choices = [lambda: -1, lambda: n, lambda: n + rng.randrange(1, 1000), lambda: -rng.randrange(2, 2**31),
               lambda: 2**31 - 1, lambda: rng.randrange(max(n, 1))]
    if sg.inputs is not None and len(sg.inputs):
        choices.append(lambda: int(rng.choice(list(sg.inputs))))
    if constants:
        choices.append(lambda: rng.choice(constants))
    if outputs and op.inputs is not None and len(op.inputs):
        choices += [lambda: int(rng.choice(list(op.inputs)))] * 2  # write its own input
    if not outputs and op.outputs is not None and len(op.outputs):
        choices.append(lambda: int(rng.choice(list(op.outputs))))
    other = [o for o2 in (sg.operators or []) for o in _list(o2.outputs)]
    if other:
        choices.append(lambda: rng.choice(other))  # another op's output
    return rng.choice(choices)()


def m_operator_index(rng, ctx):
    g, o, op = ctx.op(rng)
    if op is None:
        return "no op"
    outputs = rng.random() < 0.4
    ids = _list(op.outputs if outputs else op.inputs)
    if not ids:
        ids = [0]
    k = rng.randrange(len(ids))
    ids[k] = _index_value(rng, ctx.m, g, op, outputs)
    if outputs:
        op.outputs = _i32(ids)
    else:
        op.inputs = _i32(ids)
    return "op %d.%d %s[%d] = %d" % (g, o, "outputs" if outputs else "inputs", k, ids[k])


def m_operator_arity(rng, ctx):
    g, o, op = ctx.op(rng)
    if op is None:
        return "no op"
    outputs = rng.random() < 0.3
    ids = _list(op.outputs if outputs else op.inputs)
    r = rng.random()
    if r < 0.4 and ids:
        del ids[rng.randrange(len(ids))]
        what = "drop one"
    elif r < 0.8:
        ids.insert(rng.randrange(len(ids) + 1), rng.choice([-1, rng.randrange(max(1, len(ctx.m.subgraphs[g].tensors or [])))]))
        what = "add one"
    else:
        ids = []
        what = "none"
    if outputs:
        op.outputs = _i32(ids)
    else:
        op.inputs = _i32(ids)
    return "op %d.%d %s: %s" % (g, o, "outputs" if outputs else "inputs", what)


def m_operator_order(rng, ctx):
    g = rng.randrange(len(ctx.m.subgraphs))
    ops = ctx.m.subgraphs[g].operators or []
    if len(ops) < 2:
        return "no ops"
    a, b = rng.sample(range(len(ops)), 2)
    r = rng.random()
    if r < 0.5:
        ops[a], ops[b] = ops[b], ops[a]
        return "swap ops %d, %d" % (a, b)
    if r < 0.75:
        import copy
        ops.insert(b, copy.deepcopy(ops[a]))
        return "duplicate op %d at %d" % (a, b)
    del ops[a]
    return "delete op %d" % a


def m_shape(rng, ctx):
    g, i, t = ctx.tensor(rng)
    if t is None:
        return "no tensor"
    shape = _list(t.shape)
    r = rng.random()
    if r < 0.6 and shape:
        k = rng.randrange(len(shape))
        shape[k] = rng.choice(SMALL_DIMS if rng.random() < 0.7 else HUGE_DIMS)
    elif r < 0.75 and shape:
        del shape[rng.randrange(len(shape))]
    elif r < 0.9:
        shape.insert(rng.randrange(len(shape) + 1), rng.choice([1, 2, 3]))
    else:
        shape = []
    t.shape = _i32(shape)
    return "tensor %d.%d shape = %s" % (g, i, shape)


def m_shape_signature(rng, ctx):
    g, i, t = ctx.tensor(rng)
    if t is None:
        return "no tensor"
    shape = _list(t.shape)
    sig = [rng.choice([-1, d, d + 1, 0]) for d in shape]
    if rng.random() < 0.2:
        sig = sig[:-1]
    t.shapeSignature = _i32(sig)
    return "tensor %d.%d shape_signature = %s" % (g, i, sig)


def m_type(rng, ctx):
    g, i, t = ctx.tensor(rng)
    if t is None:
        return "no tensor"
    t.type = rng.choice([0, 1, 2, 3, 4, 6, 7, 9, rng.randrange(0, 20)])
    return "tensor %d.%d type = %d" % (g, i, t.type)


def m_quantization(rng, ctx):
    s = schema()
    g, i, t = ctx.tensor(rng)
    if t is None:
        return "no tensor"
    q = t.quantization or s.QuantizationParametersT()
    r = rng.random()
    if r < 0.4:
        q.scale = np.array([rng.choice([0.0, -1.0, math.nan, math.inf, 1e-12, 1e-45, 4e-10, 1e30, 0.5])], np.float32)
        q.zeroPoint = np.array([0 if q.zeroPoint is None or not len(q.zeroPoint) else int(q.zeroPoint[0])], np.int64)
    elif r < 0.7:
        q.scale = np.array([0.1] if q.scale is None or not len(q.scale) else q.scale, np.float32)
        q.zeroPoint = np.array([rng.choice([-129, 128, 1000, -2**31, 2**31 - 1, 2**40])], np.int64)
    elif r < 0.85:
        n = rng.randrange(2, 5)
        q.scale = np.full(n, 0.1, np.float32)
        q.zeroPoint = np.zeros(n, np.int64)
        q.quantizedDimension = rng.randrange(-1, 5)
    else:
        q = None
    t.quantization = q
    return "tensor %d.%d quantization %s" % (
        g, i, "removed" if q is None else "scale %s zero point %s" % (list(q.scale), list(q.zeroPoint)))


def m_buffer(rng, ctx):
    m = ctx.m
    g, i, t = ctx.tensor(rng)
    if t is None:
        return "no tensor"
    r = rng.random()
    if r < 0.35:
        t.buffer = rng.choice([0, len(m.buffers or []), 2**31 - 1, rng.randrange(max(1, len(m.buffers or [])))])
        return "tensor %d.%d buffer = %d" % (g, i, t.buffer)
    if r < 0.6 or not (0 < t.buffer < len(m.buffers or [])):
        # make the tensor a constant with some data (an Lce output written into read-only memory)
        s = schema()
        b = s.BufferT()
        b.data = np.frombuffer(rng.randbytes(rng.choice([0, 4, 16, 64, 4096])), np.uint8)
        m.buffers = list(m.buffers or []) + [b]
        t.buffer = len(m.buffers) - 1
        return "tensor %d.%d given constant buffer of %d bytes" % (g, i, len(b.data))
    b = m.buffers[t.buffer]
    data = bytearray(b.data.tobytes() if b.data is not None else b"")
    rr = rng.random()
    if rr < 0.4 and data:
        del data[rng.randrange(len(data)):]
    elif rr < 0.7:
        data += rng.randbytes(rng.choice([1, 4, 64]))
    else:
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
    b.data = np.frombuffer(bytes(data), np.uint8)
    return "buffer %d: %d bytes" % (t.buffer, len(data))


def m_opcode(rng, ctx):
    m = ctx.m
    g, o, op = ctx.op(rng)
    if op is None:
        return "no op"
    r = rng.random()
    if r < 0.35:
        op.opcodeIndex = rng.choice([len(m.operatorCodes or []), 2**31 - 1, rng.randrange(len(m.operatorCodes or [1]))])
        return "op %d.%d opcode index = %d" % (g, o, op.opcodeIndex)
    codes = m.operatorCodes or []
    if not 0 <= op.opcodeIndex < len(codes):
        return "no opcode"
    c = codes[op.opcodeIndex]
    name = bytes(c.customCode or b"")
    if r < 0.7:
        c.customCode = rng.choice([
            rng.choice(LCE_NAMES), name + b"\0x", name[:rng.randrange(len(name) + 1)] + b"\0" + name,
            name + b"x", name.lower(), b"", rng.choice(LCE_NAMES) + b"\0" + rng.choice(LCE_NAMES)])
        return "opcode %d name = %r" % (op.opcodeIndex, c.customCode)
    if r < 0.85:
        c.version = rng.choice([0, 2, 100, -1])
        return "opcode %d version = %d" % (op.opcodeIndex, c.version)
    c.builtinCode = rng.choice([0, 3, 17, 32, 127, 200])
    c.deprecatedBuiltinCode = min(c.builtinCode, 127)
    return "opcode %d builtin = %d" % (op.opcodeIndex, c.builtinCode)


def _options(op):
    from flatbuffers import flexbuffers
    raw = bytes(op.customOptions) if op.customOptions is not None else b""
    try:
        d = flexbuffers.Loads(raw) if raw else {}
    except Exception:
        d = None
    return d if isinstance(d, dict) else None


def m_options_value(rng, ctx):
    from flatbuffers import flexbuffers
    g, o, op = ctx.op(rng)
    if op is None:
        return "no op"
    d = _options(op)
    if d is None:
        return "options not a map"
    keys = sorted(d) or ["channels_in"]
    key = rng.choice(keys + ["padding", "stride_height", "filter_width", "fused_activation_function",
                             "pad_values", "dilation_width_factor", "channels_in"])
    r = rng.random()
    if r < 0.6:
        d[key] = rng.choice(INTERESTING + [rng.randrange(-5, 40)])
    elif r < 0.7:
        d.pop(key, None)
    elif r < 0.8:
        d[key] = rng.choice([1.5, "SAME", True, b"\x01", [1, 2], {"a": 1}, None])
    else:
        d["x_unknown_%d" % rng.randrange(3)] = rng.choice(INTERESTING)
    try:
        op.customOptions = np.frombuffer(flexbuffers.Dumps(d), np.uint8)
    except Exception:
        return "options not encodable"
    return "op %d.%d option %s = %r" % (g, o, key, d.get(key, "<deleted>"))


def m_options_bytes(rng, ctx):
    g, o, op = ctx.op(rng)
    if op is None:
        return "no op"
    data = bytearray(bytes(op.customOptions) if op.customOptions is not None else b"")
    r = rng.random()
    if r < 0.45 and data:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.choice([0, 1, 0x7f, 0x80, 0xff, rng.randrange(256)])
    elif r < 0.6 and data:
        del data[rng.randrange(len(data)):]
    elif r < 0.75:
        data = bytearray(rng.randbytes(rng.randrange(1, 64)))
    elif r < 0.85 and data:
        p = rng.randrange(len(data))
        data[p:p] = rng.randbytes(rng.randrange(1, 16))
    else:
        data = bytearray()
    op.customOptions = np.frombuffer(bytes(data), np.uint8)
    return "op %d.%d options bytes (%d)" % (g, o, len(data))


def m_subgraphs(rng, ctx):
    import copy
    m = ctx.m
    sgs = m.subgraphs
    r = rng.random()
    refs = []  # (options object, attribute) of subgraph references
    for sg in sgs:
        for op in sg.operators or []:
            for attr in ("condSubgraphIndex", "bodySubgraphIndex", "thenSubgraphIndex", "elseSubgraphIndex",
                         "initSubgraphIndex", "subgraph"):
                if op.builtinOptions is not None and hasattr(op.builtinOptions, attr):
                    refs.append((op.builtinOptions, attr))
    if refs and r < 0.4:
        obj, attr = rng.choice(refs)
        setattr(obj, attr, rng.choice([-1, 0, len(sgs), len(sgs) + 5, 2**31 - 1, rng.randrange(len(sgs))]))
        return "subgraph reference %s = %d" % (attr, getattr(obj, attr))
    if r < 0.55:
        sgs.append(copy.deepcopy(sgs[rng.randrange(len(sgs))]))
        return "append a copy of a subgraph"
    if r < 0.7 and len(sgs) > 1:
        a, b = rng.sample(range(len(sgs)), 2)
        sgs[a], sgs[b] = sgs[b], sgs[a]
        return "swap subgraphs %d, %d" % (a, b)
    g = rng.randrange(len(sgs))
    sg = sgs[g]
    which = "inputs" if rng.random() < 0.5 else "outputs"
    ids = _list(getattr(sg, which))
    n = len(sg.tensors or [])
    if ids and rng.random() < 0.5:
        ids[rng.randrange(len(ids))] = rng.choice([-1, n, rng.randrange(max(n, 1))])
    else:
        ids.append(rng.randrange(max(n, 1)))
    setattr(sg, which, _i32(ids))
    return "subgraph %d %s = %s" % (g, which, ids)


MUTATORS = [(m_operator_index, 4), (m_operator_arity, 1), (m_operator_order, 1), (m_shape, 4),
            (m_shape_signature, 1), (m_type, 2), (m_quantization, 2), (m_buffer, 2), (m_opcode, 2),
            (m_options_value, 5), (m_options_bytes, 2), (m_subgraphs, 1)]


def mutate_case(seed_bytes, case_key, keep=None, lce_only=False):
    """The mutated model bytes and the steps' descriptions for case `case_key`. `keep`: the
    step numbers to apply (for minimizing), default all. Returns (bytes or None, steps)."""
    rng = random.Random(case_key)
    n_steps = rng.choice([1, 1, 2, 2, 3])
    funcs = [f for f, _ in MUTATORS]
    weights = [w for _, w in MUTATORS]
    plan = [(rng.choices(funcs, weights)[0], rng.getrandbits(64)) for _ in range(n_steps)]
    m = parse(seed_bytes)
    steps = []
    for k, (f, step_seed) in enumerate(plan):
        if keep is not None and k not in keep:
            continue
        try:
            steps.append("%d:%s" % (k, f(random.Random(step_seed), Ctx(m, lce_only))))
        except Exception as e:  # a mutation that does not apply to this model
            steps.append("%d:%s failed (%s)" % (k, f.__name__, type(e).__name__))
    try:
        return pack(m), steps
    except Exception as e:
        return None, steps + ["unpackable (%s)" % type(e).__name__]


def mutate_bytes(seed_bytes, case_key, keep=None):
    """Byte-level mutations (for the importer): flipped bytes, an overwritten 32-bit word (an
    offset, length or index), truncation, a chunk spliced elsewhere."""
    rng = random.Random(case_key)
    data = bytearray(seed_bytes)
    steps = []
    for k in range(rng.choice([1, 1, 2, 3])):
        r = random.Random(rng.getrandbits(64))
        if keep is not None and k not in keep:
            continue
        kind = r.randrange(4)
        if kind == 0:
            for _ in range(r.randint(1, 8)):
                data[r.randrange(len(data))] = r.randrange(256)
            steps.append("%d:flip bytes" % k)
        elif kind == 1 and len(data) > 8:
            p = r.randrange(len(data) - 4) & ~3
            v = r.choice([0, 1, 0x7fffffff, 0xffffffff, r.getrandbits(32), len(data)])
            data[p:p + 4] = v.to_bytes(4, "little")
            steps.append("%d:word at %d = %#x" % (k, p, v))
        elif kind == 2 and len(data) > 9:
            n = r.randrange(8, len(data))
            del data[n:]
            steps.append("%d:truncate to %d" % (k, n))
        else:
            a, b = sorted(r.randrange(len(data)) for _ in range(2))
            p = r.randrange(len(data))
            data[p:p + (b - a)] = data[a:b]
            steps.append("%d:splice" % k)
    return bytes(data), steps
