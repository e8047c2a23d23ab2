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

#endif // LCE_TRANSFORMS_PASSES_TD
