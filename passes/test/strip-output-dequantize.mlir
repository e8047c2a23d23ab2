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

// A quantized model with float outputs: DEQUANTIZE(int8 lq.Dequantize) is stripped too; an
// int8 DEQUANTIZE of anything else stays.
// CHECK-LABEL: func.func @int8_model(%arg0: tensor<1x2xi32>, %arg1: tensor<1x4x!quant.uniform<i8:f32, 5.000000e-01:1>>) -> (tensor<1x2xi32>, tensor<1x4xf32>)
// CHECK-NOT: lq.Dequantize
// CHECK: %[[F:.*]] = "tfl.dequantize"(%arg1)
// CHECK-NOT: tfl.dequantize
// CHECK: return %arg0, %[[F]]
func.func @int8_model(%q: tensor<1x2xi32>, %y: tensor<1x4x!quant.uniform<i8:f32, 0.5:1>>) -> (tensor<1x40xf32>, tensor<1x4xf32>) {
  %d = lq.Dequantize %q : tensor<1x2xi32> -> tensor<1x40x!quant.uniform<i8:f32, 0.1:-3>>
  %f = "tfl.dequantize"(%d) : (tensor<1x40x!quant.uniform<i8:f32, 0.1:-3>>) -> tensor<1x40xf32>
  %g = "tfl.dequantize"(%y) : (tensor<1x4x!quant.uniform<i8:f32, 0.5:1>>) -> tensor<1x4xf32>
  return %f, %g : tensor<1x40xf32>, tensor<1x4xf32>
}
