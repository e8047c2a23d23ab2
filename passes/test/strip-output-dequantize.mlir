// RUN: lce-opt %s -lq-strip-output-dequantize | FileCheck %s

// The entry function returns the bits; the WHILE body (referenced from an op's options) keeps
// its signature, which the WHILE op fixes.
// CHECK-LABEL: func.func @main(%arg0: tensor<1x40xf32>) -> (tensor<1x2xi32>, tensor<1x40xf32>)
// CHECK: %[[Q:.*]] = lq.Quantize %arg0
// CHECK-NOT: lq.Dequantize
// CHECK: return %[[Q]], %arg0
func.func @main(%x: tensor<1x40xf32>) -> (tensor<1x40xf32>, tensor<1x40xf32>) {
  %q = lq.Quantize %x : tensor<1x40xf32> -> tensor<1x2xi32>
  %d = lq.Dequantize %q : tensor<1x2xi32> -> tensor<1x40xf32>
  "tfl.builtin"() {name = "CALL_ONCE", options = {init_subgraph_index = @body}, options_type = "CallOnceOptions"} : () -> ()
  return %d, %x : tensor<1x40xf32>, tensor<1x40xf32>
}

// CHECK-LABEL: func.func @body(%arg0: tensor<1x2xi32>) -> tensor<1x40xf32>
// CHECK: lq.Dequantize
func.func @body(%q: tensor<1x2xi32>) -> tensor<1x40xf32> {
  %d = lq.Dequantize %q : tensor<1x2xi32> -> tensor<1x40xf32>
  return %d : tensor<1x40xf32>
}
