"""Which TFLite builtin operators import as typed `tfl` ops, and how their options map to MLIR
attributes. Must agree with passes/ir/TflOps.td: tests/test_semantic_tables.py checks the names
and attributes against the registered ops. Every builtin not listed here travels as the
generic `tfl.builtin`; every custom op as `tfl.custom`, except the LCE ops, which become `lq` ops.
"""

# Option field kinds: "i32" (int32 attribute), "bool", or the name of a schema enum whose value
# is stored as its name string.
PADDING = "Padding"
ACTIVATION = "ActivationFunctionType"
WEIGHTS_FORMAT = "FullyConnectedOptionsWeightsFormat"

_CONV = [("padding", PADDING), ("stride_w", "i32"), ("stride_h", "i32"),
         ("fused_activation_function", ACTIVATION), ("dilation_w_factor", "i32"),
         ("dilation_h_factor", "i32")]
_POOL = [("padding", PADDING), ("stride_w", "i32"), ("stride_h", "i32"), ("filter_width", "i32"),
         ("filter_height", "i32"), ("fused_activation_function", ACTIVATION)]
_ACT = [("fused_activation_function", ACTIVATION)]


class TypedOp:
    def __init__(self, builtin, mnemonic, options, fields, num_inputs):
        self.builtin = builtin          # BuiltinOperator name, e.g. "CONV_2D"
        self.mlir_name = "tfl." + mnemonic
        self.options = options          # BuiltinOptions union member name, or None
        self.fields = fields            # [(snake_case field, kind)]
        self.num_inputs = num_inputs    # None means variadic


TYPED_OPS = [
    TypedOp("CONV_2D", "conv_2d", "Conv2DOptions", _CONV, 3),
    TypedOp("DEPTHWISE_CONV_2D", "depthwise_conv_2d", "DepthwiseConv2DOptions",
            [("padding", PADDING), ("stride_w", "i32"), ("stride_h", "i32"),
             ("depth_multiplier", "i32"), ("fused_activation_function", ACTIVATION),
             ("dilation_w_factor", "i32"), ("dilation_h_factor", "i32")], 3),
    TypedOp("FULLY_CONNECTED", "fully_connected", "FullyConnectedOptions",
            [("fused_activation_function", ACTIVATION), ("weights_format", WEIGHTS_FORMAT),
             ("keep_num_dims", "bool"), ("asymmetric_quantize_inputs", "bool")], 3),
    TypedOp("PAD", "pad", "PadOptions", [], 2),
    TypedOp("PADV2", "padv2", "PadV2Options", [], 3),
    TypedOp("MAX_POOL_2D", "max_pool_2d", "Pool2DOptions", _POOL, 1),
    TypedOp("AVERAGE_POOL_2D", "average_pool_2d", "Pool2DOptions", _POOL, 1),
    TypedOp("ADD", "add", "AddOptions", _ACT, 2),
    TypedOp("SUB", "sub", "SubOptions", _ACT, 2),
    TypedOp("MUL", "mul", "MulOptions", _ACT, 2),
    TypedOp("DIV", "div", "DivOptions", _ACT, 2),
    TypedOp("SIGN", "sign", "SignOptions", [], 1),
    TypedOp("RELU", "relu", None, [], 1),
    TypedOp("RELU6", "relu6", None, [], 1),
    TypedOp("RELU_N1_TO_1", "relu_n1_to_1", None, [], 1),
    TypedOp("RESHAPE", "reshape", "ReshapeOptions", [], 2),
    TypedOp("QUANTIZE", "quantize", "QuantizeOptions", [], 1),
    TypedOp("DEQUANTIZE", "dequantize", "DequantizeOptions", [], 1),
    TypedOp("CONCATENATION", "concatenation", "ConcatenationOptions",
            [("axis", "i32"), ("fused_activation_function", ACTIVATION)], None),
    TypedOp("MEAN", "mean", "ReducerOptions", [("keep_dims", "bool")], 2),
]
BY_BUILTIN = {t.builtin: t for t in TYPED_OPS}
BY_MLIR = {t.mlir_name: t for t in TYPED_OPS}

# LCE custom ops <-> lq ops. Flexbuffer option keys and how they map to attributes.
LCE_ENUM_KEYS = {"padding": PADDING, "fused_activation_function": ACTIVATION}
LCE_OPS = {
    "LceQuantize": ("lq.Quantize", [], 1),
    "LceDequantize": ("lq.Dequantize", [], 1),
    "LceBconv2d": ("lq.Bconv2d", ["channels_in", "dilation_height_factor", "dilation_width_factor",
                                  "fused_activation_function", "pad_values", "padding",
                                  "stride_height", "stride_width"], 5),
    "LceBMaxPool2d": ("lq.BMaxPool2d", ["padding", "stride_width", "stride_height",
                                        "filter_width", "filter_height"], 1),
}
LQ_TO_LCE = {v[0]: k for k, v in LCE_OPS.items()}
_LQ_DEFAULTS = {}


def lq_defaults(op_name):
    """The ODS default values of an lq op's attributes (DefaultValuedAttr in passes/ir/LqOps.td,
    read from the registered op), which may be absent on ops that passes made."""
    if op_name not in _LQ_DEFAULTS:
        from ._core import op_defaults
        _LQ_DEFAULTS[op_name] = op_defaults(op_name)
    return _LQ_DEFAULTS[op_name]
