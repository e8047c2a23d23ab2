"""Writes a small hand-made .tflite (no TensorFlow) exercising the importer: a quantized
constant, a typed op with a fused activation, a generic builtin with options, a custom op with
options, an absent optional input, two subgraphs and a signature def."""
import sys

import numpy as np
from ai_edge_litert import schema_py_generated as s
from lce_convert._tflite_io import model_bytes


def tensor(name, shape, ttype, buffer=0, scale=None, zp=None, dim=0):
    t = s.TensorT()
    t.name, t.shape, t.type, t.buffer = name, np.array(shape, np.int32), ttype, buffer
    t.hasRank = True
    if scale is not None:
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint, q.quantizedDimension = np.array(scale, np.float32), np.array(zp, np.int64), dim
        t.quantization = q
    return t


def buffer(data=None):
    b = s.BufferT()
    b.data = None if data is None else np.frombuffer(data, np.uint8)
    return b


def op(opcode, inputs, outputs, options_type=0, options=None, custom=None):
    o = s.OperatorT()
    o.opcodeIndex, o.inputs, o.outputs = opcode, inputs, outputs
    o.builtinOptionsType, o.builtinOptions = options_type, options
    if custom is not None:
        o.customOptions = np.frombuffer(custom, np.uint8)
    return o


def code(builtin, custom=None):
    c = s.OperatorCodeT()
    c.builtinCode, c.deprecatedBuiltinCode, c.customCode, c.version = builtin, min(builtin, 127), custom, 1
    return c


m = s.ModelT()
m.version = 3
m.operatorCodes = [code(s.BuiltinOperator.ADD), code(s.BuiltinOperator.SOFTMAX),
                   code(s.BuiltinOperator.CUSTOM, b"MyOp"), code(s.BuiltinOperator.FULLY_CONNECTED),
                   code(s.BuiltinOperator.CALL_ONCE)]
m.buffers = [buffer(), buffer(np.array([0.5, -1, 2, 4], np.float32).tobytes()),
             buffer(np.array([[1, -2], [3, -4]], np.int8).tobytes())]
add = s.AddOptionsT(); add.fusedActivationFunction = s.ActivationFunctionType.RELU
soft = s.SoftmaxOptionsT(); soft.beta = 0.5
call = s.CallOnceOptionsT(); call.initSubgraphIndex = 1
g = s.SubGraphT()
g.name = b"main"
g.tensors = [tensor(b"x", [1, 4], s.TensorType.FLOAT32), tensor(b"c", [1, 4], s.TensorType.FLOAT32, 1),
             tensor(b"sum", [1, 4], s.TensorType.FLOAT32), tensor(b"probs", [1, 4], s.TensorType.FLOAT32),
             tensor(b"custom_out", [1, 4], s.TensorType.FLOAT32),
             tensor(b"w_q", [2, 2], s.TensorType.INT8, 2, [0.25, 0.5], [0, 0], 0),
             tensor(b"xq", [1, 2], s.TensorType.INT8, scale=[0.1], zp=[-3]),
             tensor(b"fc_out", [1, 2], s.TensorType.INT8, scale=[0.2], zp=[4])]
g.inputs, g.outputs = [0, 6], [4, 7]
g.operators = [op(0, [0, 1], [2], s.BuiltinOptions.AddOptions, add),
               op(1, [2], [3], s.BuiltinOptions.SoftmaxOptions, soft),
               op(2, [3], [4], custom=b"\x01\x02\x03"),
               op(3, [6, 5, -1], [7], s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT()),
               op(4, [], [], s.BuiltinOptions.CallOnceOptions, call)]
init = s.SubGraphT()
init.name, init.tensors, init.inputs, init.outputs, init.operators = b"init", [], [], [], []
m.subgraphs = [g, init]
sig = s.SignatureDefT()
sig.signatureKey, sig.subgraphIndex = b"serving_default", 0
sig.inputs = [s.TensorMapT(), s.TensorMapT()]
sig.inputs[0].name, sig.inputs[0].tensorIndex = b"x", 0
sig.inputs[1].name, sig.inputs[1].tensorIndex = b"xq", 6
sig.outputs = [s.TensorMapT()]
sig.outputs[0].name, sig.outputs[0].tensorIndex = b"result", 4
m.signatureDefs = [sig]
open(sys.argv[1], "wb").write(model_bytes(m))
