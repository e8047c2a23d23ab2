// Declarative definitions of the lce_convert passes. Each pass lives in its own .cpp file
// whose first lines say what it matches and why.
#ifndef LCE_TRANSFORMS_PASSES_TD
#define LCE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def CancelDequantizeQuantize : Pass<"lq-cancel-dequantize-quantize", "mlir::func::FuncOp"> {
  let summary = "Replace lq.Quantize(lq.Dequantize(x)) by x where that is exact";
  let description = [{
    Dequantize turns bits into +1/-1 and Quantize turns them back, so the pair is the identity
    on float32 intermediates. On int8 intermediates it is the identity only if the int8 encodings
    of +1 and -1 fall on different sides of the zero point (semantics.md); otherwise the pair is
    kept.
  }];
  let dependentDialects = ["lce::lq::LqDialect"];
}

def DetectBinarize : Pass<"lq-detect-binarize", "mlir::func::FuncOp"> {
  let summary = "Make larq's binarizing quantizers explicit as lq.Dequantize(lq.Quantize(x))";
  let description = [{
    Matches SIGN(ADD(SIGN(x), c)) with 0 < c < 1 (larq's ste_sign at inference).
  }];
  let dependentDialects = ["lce::lq::LqDialect"];
}

def FuseBconv2d : Pass<"lq-fuse-bconv2d", "mlir::func::FuncOp"> {
  let summary = "Turn convs and dense layers on binarized inputs with +-alpha weights into lq.Bconv2d";
  let description = [{
    Handles strides, dilations, groups, one-padding (PADV2 with 1.0) and zero padding, recovers
    the per-channel BatchNorm scale folded into the weights exactly, and marks every conv/dense
    that stays float with an `lq.not_binarized` reason.
  }];
  let options = [
    Option<"allowZeroPadding", "allow-zero-padding", "bool", /*default=*/"false",
           "Also fuse activations into zero-padded convs (our runtime applies the correction before the clamp; LCE 0.16's cannot)">
  ];
  let dependentDialects = ["lce::lq::LqDialect", "lce::tfl::TflDialect"];
}

def BinaryMaxPool : Pass<"lq-binary-maxpool", "mlir::func::FuncOp"> {
  let summary = "Quantize(MaxPool2D(x)) -> BMaxPool2d(Quantize(x)) (float32 or int8 x)";
  let dependentDialects = ["lce::lq::LqDialect"];
}

def FuseBitpackedOutput : Pass<"lq-fuse-bitpacked-output", "mlir::func::FuncOp"> {
  let summary = "Bconv2d -> Quantize becomes a Bconv2d with bitpacked output and exact thresholds";
  let options = [
    Option<"allowZeroPadding", "allow-zero-padding", "bool", /*default=*/"false",
           "Also fuse zero-padded SAME convs (our runtime corrects zero padding in the accumulator; LCE 0.16's does not)">
  ];
  let dependentDialects = ["lce::lq::LqDialect", "lce::tfl::TflDialect"];
}

def BitpackFilters : Pass<"lq-bitpack-filters", "mlir::func::FuncOp"> {
  let summary = "Bitpack the +-1 float filters of lq.Bconv2d into int32 words";
  let dependentDialects = ["lce::lq::LqDialect", "lce::tfl::TflDialect"];
}

def FoldDilatedConv : Pass<"tfl-fold-dilated-conv", "mlir::func::FuncOp"> {
  let summary = "BATCH_TO_SPACE_ND(CONV_2D(SPACE_TO_BATCH_ND(x))) -> dilated CONV_2D";
  let dependentDialects = ["lce::tfl::TflDialect"];
}

def FoldFilters : Pass<"tfl-fold-filters", "mlir::func::FuncOp"> {
  let summary = "Constant-fold conv/dense filters that TensorFlow left computed at run time";
  let description = [{
    SIGN, ADD, SUB, MUL, DIV, MEAN, RESHAPE and TRANSPOSE chains on float32 constants that feed
    the filter operand of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED (TensorFlow does not
    fold ops on more than 2^30 bits, e.g. larq kernel quantizers on 37.7 M weights).
  }];
  let dependentDialects = ["lce::tfl::TflDialect"];
}

def FuseBconvAffine : Pass<"lq-fuse-bconv-affine", "mlir::func::FuncOp"> {
  let summary = "Fold MUL/ADD/SUB/DIV by constants and exact ReLUs into float-output lq.Bconv2d";
  let options = [
    Option<"allowZeroPadding", "allow-zero-padding", "bool", /*default=*/"false",
           "Also fuse activations into zero-padded convs (our runtime applies the correction before the clamp; LCE 0.16's cannot)">
  ];
  let dependentDialects = ["lce::lq::LqDialect", "lce::tfl::TflDialect"];
}

def FuseInt8 : Pass<"lq-fuse-int8", "mlir::func::FuncOp"> {
  let summary = "Binary ops consume and produce int8 where the quantizer left DEQUANTIZE/QUANTIZE around them";
  let description = [{
    lq.Quantize(tfl.dequantize(x)) takes the int8 x; tfl.quantize(lq.Bconv2d) and
    tfl.quantize(lq.Dequantize) become int8-output lq ops. All three are exact (semantics.md).
  }];
  let options = [
    Option<"allowZeroPadding", "allow-zero-padding", "bool", /*default=*/"false",
           "Also give zero-padded SAME convs int8 output (our runtime corrects zero padding in the accumulator; LCE 0.16's does not)">
  ];
  let dependentDialects = ["lce::lq::LqDialect", "lce::tfl::TflDialect"];
}

def StripOutputDequantize : Pass<"lq-strip-output-dequantize", "mlir::ModuleOp"> {
  let summary = "Entry functions return the bitpacked input of an output lq.Dequantize";
  let dependentDialects = ["lce::lq::LqDialect"];
}

def Int8InputOutput : Pass<"tfl-int8-io", "mlir::ModuleOp"> {
  let summary = "Make the float32 inputs/outputs of an int8-quantized model int8";
  let options = [
    Option<"inputInt8", "input-int8", "bool", /*default=*/"false", "Make float32 inputs that are quantized to int8 int8">,
    Option<"outputInt8", "output-int8", "bool", /*default=*/"false", "Make float32 outputs dequantized from int8 int8">
  ];
  let dependentDialects = ["lce::tfl::TflDialect"];
}

#endif // LCE_TRANSFORMS_PASSES_TD
