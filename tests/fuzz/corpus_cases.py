"""Hand-made malformed models, one per class of issue 10 ("Runtime hardening"), built from the
seed models by explicit edits. make_corpus.py writes them into corpus/ next to the minimized
fuzzer finds; tests/test_fuzz.py checks that each gives a clean LceConvertError naming the
problem (`expect`, a regular expression on the message)."""
import os

import numpy as np

import mutate

HERE = os.path.dirname(os.path.abspath(__file__))


def _seed(name):
    with open(os.path.join(HERE, "seeds", name + ".tflite"), "rb") as f:
        return mutate.parse(f.read())


def _ops(m, name):
    """Operators of subgraph 0 whose custom code is `name`."""
    codes = m.operatorCodes
    return [op for op in m.subgraphs[0].operators if bytes(codes[op.opcodeIndex].customCode or b"") == name]


def _set_option(op, key, value):
    from flatbuffers import flexbuffers
    d = flexbuffers.Loads(bytes(op.customOptions))
    if value is None:
        d.pop(key)
    else:
        d[key] = value
    op.customOptions = np.frombuffer(flexbuffers.Dumps(d), np.uint8)


def _i32(values):
    return np.array(values, np.int32)


def _edit(seed, edit):
    m = _seed(seed)
    edit(m)
    return mutate.pack(m)


def single_op_model(op, inputs, output, options=None):
    """A model of one Lce op: `inputs` and `output` are (type name, shape[, (scale, zero point)
    or None[, constant data]]); inputs without constant data are the graph inputs; `options` a
    dict for the flexbuffer options."""
    from flatbuffers import flexbuffers
    sch = mutate.schema()
    m = sch.ModelT()
    m.version = 3
    code = sch.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = 32
    code.customCode = op.encode()
    code.version = 1
    m.operatorCodes = [code]
    m.buffers = [sch.BufferT()]
    g = sch.SubGraphT()
    g.tensors = []
    for k, spec in enumerate(list(inputs) + [output]):
        t = sch.TensorT()
        t.name = ("t%d" % k).encode()
        t.type = getattr(sch.TensorType, spec[0].upper())
        t.shape = _i32(spec[1])
        t.buffer = 0
        if len(spec) > 3:
            b = sch.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(spec[3]).tobytes(), np.uint8)
            m.buffers.append(b)
            t.buffer = len(m.buffers) - 1
        if len(spec) > 2 and spec[2] is not None:
            q = sch.QuantizationParametersT()
            q.scale = np.array([spec[2][0]], np.float32)
            q.zeroPoint = np.array([spec[2][1]], np.int64)
            t.quantization = q
        g.tensors.append(t)
    o = sch.OperatorT()
    o.opcodeIndex = 0
    o.inputs = _i32(range(len(inputs)))
    o.outputs = _i32([len(inputs)])
    if options:
        o.customOptions = np.frombuffer(flexbuffers.Dumps(options), np.uint8)
    g.operators = [o]
    g.inputs = _i32([k for k, spec in enumerate(inputs) if len(spec) < 4])
    g.outputs = _i32([len(inputs)])
    m.subgraphs = [g]
    return mutate.pack(m)


def cases():
    """{name: (model bytes, expected message regex)}."""
    s = {}
    bconv, quant, pool = b"LceBconv2d", b"LceQuantize", b"LceBMaxPool2d"

    def bconv_inputs(n):
        def edit(m):
            op = _ops(m, bconv)[0]
            op.inputs = _i32(list(op.inputs)[:n])
        return edit
    s["bconv2d_one_input"] = (_edit("ours_maxpool", bconv_inputs(1)), r"LceBconv2d \(node 1\): needs 5 inputs")
    s["bconv2d_three_inputs"] = (_edit("lce_float", bconv_inputs(3)), r"needs 5 inputs .* has 3")

    def quantize_input(v):
        def edit(m):
            _ops(m, quant)[0].inputs = _i32([v])
        return edit
    s["quantize_input_minus_one"] = (_edit("ours_maxpool", quantize_input(-1)), r"input 0 refers to tensor -1")
    s["quantize_no_inputs"] = (_edit("ours_maxpool", lambda m: setattr(_ops(m, quant)[0], "inputs", _i32([]))),
                               r"needs 1 inputs, the node has 0")

    def nul_name(m):
        for c in m.operatorCodes:
            if bytes(c.customCode or b"") == bconv:
                c.customCode = b"LceBconv2d\0x"
    s["name_with_nul"] = (_edit("ours_maxpool", nul_name), r"contains a NUL byte")

    def constant_output(m):
        op = _ops(m, pool)[0]
        b = mutate.schema().BufferT()
        b.data = np.zeros(4 * 10 * 10, np.uint8)
        m.buffers.append(b)
        m.subgraphs[0].tensors[int(op.outputs[0])].buffer = len(m.buffers) - 1
    s["output_constant"] = (_edit("ours_maxpool", constant_output), r"output tensor 10 is a constant")

    def output_is_graph_input(m):
        _ops(m, quant)[0].outputs = _i32([0])
    s["output_graph_input"] = (_edit("ours_maxpool", output_is_graph_input), r"writes tensor 0, an input")

    def output_is_own_input(m):
        op = _ops(m, bconv)[1]
        op.outputs = _i32([int(op.inputs[0])])
    s["output_own_input"] = (_edit("ours_maxpool", output_is_own_input),
                             r"also an input of the node|written by another|reads tensor 10, which node 3 writes")

    for t, type_name in ((9, "int8"), (7, "int16"), (6, "bool"), (0, "float32")):
        def pool_output_type(m, t=t):
            m.subgraphs[0].tensors[int(_ops(m, pool)[0].outputs[0])].type = t
        s["bmaxpool_output_" + type_name] = (_edit("ours_maxpool", pool_output_type),
                                              r"LceBMaxPool2d .*the output must be int32")

    def declared_shape(m):
        m.subgraphs[0].tensors[int(_ops(m, bconv)[0].outputs[0])].shape = _i32([1, 5, 10, 1])
    s["declared_shape_mismatch"] = (_edit("ours_maxpool", declared_shape), r"declares output shape \[-?1, 5, 10, 1\]")

    for key, value in (("stride_height", 2**62), ("dilation_width_factor", 2**62 + 1), ("pad_values", 2**32 + 1),
                       ("channels_in", 2**63 - 1), ("stride_width", 0)):
        s["bconv2d_%s_%d" % (key, value)] = (
            _edit("ours_maxpool", lambda m, key=key, value=value: _set_option(_ops(m, bconv)[0], key, value)),
            r"option '%s' is %d, outside" % (key, value))
    s["bconv2d_channels_in_missing"] = (
        _edit("ours_maxpool", lambda m: _set_option(_ops(m, bconv)[0], "channels_in", None)),
        r"option 'channels_in' is missing")

    for key, value, expect in (("filter_height", 2**31 - 1, r"SAME height window .* reaches further"),
                               ("filter_width", 2**31, r"option 'filter_width' is 2147483648, outside"),
                               ("stride_height", 2**62, r"option 'stride_height' is \d+, outside")):
        def pool_option(m, key=key, value=value):
            op = _ops(m, pool)[1]  # the SAME one
            _set_option(op, key, value)
        s["bmaxpool_%s_%d" % (key, value)] = (_edit("ours_maxpool", pool_option), expect)

    s["quantize_int8_zero_point_200"] = (
        single_op_model("LceQuantize", [("int8", [1, 4, 4, 40], (0.1, 200))], ("int32", [1, 4, 4, 2])),
        r"LceQuantize \(node 0\): the int8 input has int8 zero point 200, outside \[-128, 127\]")
    s["dequantize_int8_scale_nan"] = (
        single_op_model("LceDequantize", [("int32", [1, 3, 1])], ("int8", [1, 3, 32], (float("nan"), 0))),
        r"needs a finite positive int8 scale")
    bconv_options = {"channels_in": 32, "padding": 1, "stride_height": 1, "stride_width": 1,
                     "dilation_height_factor": 1, "dilation_width_factor": 1, "fused_activation_function": 0,
                     "pad_values": 0}
    multiplier = np.array([1.0, float("nan"), 1.0, 1.0], np.float32)
    s["bconv2d_int8_output_nan_multiplier"] = (
        single_op_model("LceBconv2d", [("int32", [1, 3, 3, 1]),
                                       ("int32", [4, 3, 3, 1], None, np.arange(36, dtype=np.int32)),
                                       ("float32", [4], None, multiplier),
                                       ("float32", [4], None, np.zeros(4, np.float32)),
                                       ("int32", [4], None, np.zeros(4, np.int32))],
                        ("int8", [1, 1, 1, 4], (0.1, 0)), bconv_options),
        r"the post-activation multiplier has a non-finite value")
    s["dequantize_channels_not_unpacking"] = (
        single_op_model("LceDequantize", [("int32", [2, 2])], ("float32", [2, 65])),
        r"does not unpack the input shape \[2, 2\]")

    def options_garbage(m):
        _ops(m, bconv)[0].customOptions = np.frombuffer(b"\x07\x00garbage\x09\x05", np.uint8)
    s["bconv2d_options_garbage"] = (_edit("lce_float", options_garbage), r"malformed custom options")
    return s
