// TFLite operators with typed attributes. Each maps 1:1 to a TFLite builtin operator; the
// importer/exporter table in lce_convert/_tflite_ops.py must agree with the attributes here.
// Every op may also carry `version` (the operator code version, default 1) and any further
// option fields of newer schemas as extra attributes, which the exporter writes back.
#ifndef LCE_TFL_OPS_TD
#define LCE_TFL_OPS_TD

include "ir/TflBase.td"

def Tfl_ConstOp : Tfl_Op<"const", [Pure, ConstantLike]> {
  let summary = "constant tensor (a TFLite buffer)";
  let description = [{
    `value` holds the buffer: either elements of the result's storage type with the result's
    shape, or (for element types MLIR cannot hold densely, e.g. STRING, BOOL, INT4) a 1-D ui8
    tensor with the buffer's raw little-endian bytes.
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyType:$output);
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Tfl_NoValueOp : Tfl_Op<"no_value", [Pure]> {
  let summary = "an absent optional operand (tensor index -1 in the flatbuffer)";
  let results = (outs NoneType:$none);
  let assemblyFormat = "attr-dict `:` type($none)";
}

def Tfl_VariableOp : Tfl_Op<"variable", []> {
  let summary = "a variable tensor (is_variable), optionally with initial contents";
  let arguments = (ins OptionalAttr<ElementsAttr>:$value);
  let results = (outs AnyType:$output);
}

def Tfl_BuiltinOp : Tfl_Op<"builtin", []> {
  let summary = "any TFLite builtin operator without a typed op here, carried unchanged";
  let description = [{
    `name` is the BuiltinOperator enum name. `options_type`/`options` hold the builtin options
    union (and `options2_type`/`options2` the second union) as a dictionary of the schema's
    fields; subgraph indices in options are symbol references to functions.
  }];
  let arguments = (ins Variadic<AnyType>:$inputs, StrAttr:$name,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs Variadic<AnyType>:$outputs);
}

def Tfl_CustomOp : Tfl_Op<"custom", []> {
  let summary = "a TFLite custom operator, carried unchanged";
  let arguments = (ins Variadic<AnyType>:$inputs, StrAttr:$name,
                   DefaultValuedAttr<I32Attr, "1">:$version,
                   OptionalAttr<ElementsAttr>:$custom_options);
  let results = (outs Variadic<AnyType>:$outputs);
}

def Tfl_Conv2dOp : Tfl_Op<"conv_2d", [Pure]> {
  let summary = "CONV_2D: 2-D convolution (NHWC input, OHWI filter); `bias` may be `tfl.no_value`";
  let arguments = (ins AnyType:$input,
                   AnyType:$filter,
                   AnyType:$bias,
                   Tfl_PaddingAttr:$padding,
                   I32Attr:$stride_w,
                   I32Attr:$stride_h,
                   Tfl_ActivationAttr:$fused_activation_function,
                   I32Attr:$dilation_w_factor,
                   I32Attr:$dilation_h_factor,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_DepthwiseConv2dOp : Tfl_Op<"depthwise_conv_2d", [Pure]> {
  let summary = "DEPTHWISE_CONV_2D: depthwise 2-D convolution (filter 1HW(C*M))";
  let arguments = (ins AnyType:$input,
                   AnyType:$filter,
                   AnyType:$bias,
                   Tfl_PaddingAttr:$padding,
                   I32Attr:$stride_w,
                   I32Attr:$stride_h,
                   I32Attr:$depth_multiplier,
                   Tfl_ActivationAttr:$fused_activation_function,
                   I32Attr:$dilation_w_factor,
                   I32Attr:$dilation_h_factor,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_FullyConnectedOp : Tfl_Op<"fully_connected", [Pure]> {
  let summary = "FULLY_CONNECTED: fully-connected layer (filter [O, I]); `bias` may be `tfl.no_value`";
  let arguments = (ins AnyType:$input,
                   AnyType:$filter,
                   AnyType:$bias,
                   Tfl_ActivationAttr:$fused_activation_function,
                   StrAttr:$weights_format,
                   BoolAttr:$keep_num_dims,
                   BoolAttr:$asymmetric_quantize_inputs,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_PadOp : Tfl_Op<"pad", [Pure]> {
  let summary = "PAD: zero (or zero-point) padding";
  let arguments = (ins AnyType:$input,
                   AnyType:$padding,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_Padv2Op : Tfl_Op<"padv2", [Pure]> {
  let summary = "PADV2: padding with a constant value";
  let arguments = (ins AnyType:$input,
                   AnyType:$padding,
                   AnyType:$constant_values,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_MaxPool2dOp : Tfl_Op<"max_pool_2d", [Pure]> {
  let summary = "MAX_POOL_2D: 2-D max pooling";
  let arguments = (ins AnyType:$input,
                   Tfl_PaddingAttr:$padding,
                   I32Attr:$stride_w,
                   I32Attr:$stride_h,
                   I32Attr:$filter_width,
                   I32Attr:$filter_height,
                   Tfl_ActivationAttr:$fused_activation_function,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_AveragePool2dOp : Tfl_Op<"average_pool_2d", [Pure]> {
  let summary = "AVERAGE_POOL_2D: 2-D average pooling";
  let arguments = (ins AnyType:$input,
                   Tfl_PaddingAttr:$padding,
                   I32Attr:$stride_w,
                   I32Attr:$stride_h,
                   I32Attr:$filter_width,
                   I32Attr:$filter_height,
                   Tfl_ActivationAttr:$fused_activation_function,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_AddOp : Tfl_Op<"add", [Pure]> {
  let summary = "ADD: broadcasting addition";
  let arguments = (ins AnyType:$lhs,
                   AnyType:$rhs,
                   Tfl_ActivationAttr:$fused_activation_function,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_SubOp : Tfl_Op<"sub", [Pure]> {
  let summary = "SUB: broadcasting subtraction";
  let arguments = (ins AnyType:$lhs,
                   AnyType:$rhs,
                   Tfl_ActivationAttr:$fused_activation_function,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_MulOp : Tfl_Op<"mul", [Pure]> {
  let summary = "MUL: broadcasting multiplication";
  let arguments = (ins AnyType:$lhs,
                   AnyType:$rhs,
                   Tfl_ActivationAttr:$fused_activation_function,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_DivOp : Tfl_Op<"div", [Pure]> {
  let summary = "DIV: broadcasting division";
  let arguments = (ins AnyType:$lhs,
                   AnyType:$rhs,
                   Tfl_ActivationAttr:$fused_activation_function,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_SignOp : Tfl_Op<"sign", [Pure]> {
  let summary = "SIGN: elementwise sign: -1, 0 or +1";
  let arguments = (ins AnyType:$x,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_ReluOp : Tfl_Op<"relu", [Pure]> {
  let summary = "RELU: max(x, 0)";
  let arguments = (ins AnyType:$x,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_Relu6Op : Tfl_Op<"relu6", [Pure]> {
  let summary = "RELU6: min(max(x, 0), 6)";
  let arguments = (ins AnyType:$x,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_ReluN1To1Op : Tfl_Op<"relu_n1_to_1", [Pure]> {
  let summary = "RELU_N1_TO_1: min(max(x, -1), 1)";
  let arguments = (ins AnyType:$x,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_ReshapeOp : Tfl_Op<"reshape", [Pure]> {
  let summary = "RESHAPE: reshape; `shape` may be `tfl.no_value` (then the result type decides)";
  let arguments = (ins AnyType:$input,
                   AnyType:$shape,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_QuantizeOp : Tfl_Op<"quantize", [Pure]> {
  let summary = "QUANTIZE: float (or requantized int) to quantized int";
  let arguments = (ins AnyType:$input,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_DequantizeOp : Tfl_Op<"dequantize", [Pure]> {
  let summary = "DEQUANTIZE: quantized int (or f16) to float";
  let arguments = (ins AnyType:$input,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_ConcatenationOp : Tfl_Op<"concatenation", [Pure]> {
  let summary = "CONCATENATION: concatenation along `axis`";
  let arguments = (ins Variadic<AnyType>:$values,
                   I32Attr:$axis,
                   Tfl_ActivationAttr:$fused_activation_function,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

def Tfl_MeanOp : Tfl_Op<"mean", [Pure]> {
  let summary = "MEAN: mean reduction over the axes in `axis`";
  let arguments = (ins AnyType:$input,
                   AnyType:$axis,
                   BoolAttr:$keep_dims,
                   DefaultValuedAttr<I32Attr, "1">:$version);
  let results = (outs AnyType:$output);
}

#endif // LCE_TFL_OPS_TD
