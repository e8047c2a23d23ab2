// The `lq` dialect: binarized (bitpacked) neural-network operators. The math of every op is
// defined in docs/semantics.md; the flatbuffer encoding (LCE-compatible custom ops
// LceQuantize, LceDequantize, LceBconv2d, LceBMaxPool2d) is done by the exporter.
#ifndef LCE_LQ_OPS_TD
#define LCE_LQ_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Lq_Dialect : Dialect {
  let name = "lq";
  let cppNamespace = "::lce::lq";
  let summary = "Binarized neural-network operators on bitpacked int32 tensors";
  let description = [{
    Bitpacked tensors are int32 tensors whose last axis packs 32 channels per word: channel c is
    bit (c % 32) of word (c / 32), bit 0 means +1 and bit 1 means -1, unused tail bits are 0.
  }];
  let usePropertiesForAttributes = 0;
}

class Lq_Op<string mnemonic, list<Trait> traits = []> : Op<Lq_Dialect, mnemonic, traits>;

def Lq_BitpackedTensor : TensorOf<[I32]>;

def Lq_QuantizeOp : Lq_Op<"Quantize", [Pure]> {
  let summary = "binarize and bitpack along the last axis: bit = (x < 0) (int8: x < zero point)";
  let arguments = (ins AnyTensor:$x);
  let results = (outs Lq_BitpackedTensor:$y);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($y)";
  let hasVerifier = 1;
}

def Lq_DequantizeOp : Lq_Op<"Dequantize", [Pure]> {
  let summary = "unpack bits to +1/-1 (float32) or to the int8 encoding of +1/-1";
  let description = [{
    The unpacked channel count comes from the static last dimension of the result type.
  }];
  let arguments = (ins Lq_BitpackedTensor:$x);
  let results = (outs AnyTensor:$y);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($y)";
  let hasVerifier = 1;
}

def Lq_Bconv2dOp : Lq_Op<"Bconv2d", [Pure]> {
  let summary = "binary 2-D convolution (XOR + popcount) with float, int8 or bitpacked output";
  let description = [{
    `input` is bitpacked NHWC, `filter` is bitpacked OHWI (packed per group: its last dimension
    is ceil(channels_in / groups / 32)) or, before bitpacking, a float32 OHWI tensor of +1/-1.
    `channels_in` is the true input channel count. The result element type selects the mode:
    f32 or int8 use `post_activation_multiplier`/`post_activation_bias` (or none); i32 is a
    bitpacked output and uses `output_threshold`. See semantics.md for the exact arithmetic,
    including zero padding (`padding = "SAME"`, `pad_values = 0`).
  }];
  let arguments = (ins
    Lq_BitpackedTensor:$input,
    AnyTypeOf<[TensorOf<[I32]>, TensorOf<[F32]>]>:$filter,
    AnyTypeOf<[TensorOf<[F32]>, NoneType]>:$post_activation_multiplier,
    AnyTypeOf<[TensorOf<[F32]>, NoneType]>:$post_activation_bias,
    AnyTypeOf<[TensorOf<[I32]>, NoneType]>:$output_threshold,
    I32Attr:$channels_in,
    DefaultValuedAttr<I32Attr, "1">:$dilation_height_factor,
    DefaultValuedAttr<I32Attr, "1">:$dilation_width_factor,
    DefaultValuedAttr<StrAttr, "\"NONE\"">:$fused_activation_function,
    DefaultValuedAttr<I32Attr, "0">:$pad_values,
    StrAttr:$padding,
    DefaultValuedAttr<I32Attr, "1">:$stride_height,
    DefaultValuedAttr<I32Attr, "1">:$stride_width
  );
  let results = (outs AnyTensor:$output);
  let hasVerifier = 1;
}

def Lq_BMaxPool2dOp : Lq_Op<"BMaxPool2d", [Pure]> {
  let summary = "max pooling on bitpacked +1/-1 values: bitwise AND of the window's words";
  let arguments = (ins
    Lq_BitpackedTensor:$input,
    StrAttr:$padding,
    I32Attr:$stride_width,
    I32Attr:$stride_height,
    I32Attr:$filter_width,
    I32Attr:$filter_height
  );
  let results = (outs Lq_BitpackedTensor:$output);
  let hasVerifier = 1;
}

#endif // LCE_LQ_OPS_TD
