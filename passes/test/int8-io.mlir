// RUN: lce-opt %s -tfl-int8-io="input-int8=true output-int8=true" | FileCheck %s
// RUN: lce-opt %s -tfl-int8-io="output-int8=true" | FileCheck %s --check-prefix=OUT

// CHECK-LABEL: func.func @main(%arg0: tensor<1x4x!quant.uniform<i8:f32, 5.000000e-01:3>>) -> tensor<1x4x!quant.uniform<i8:f32, 2.500000e-01:-1>>
// CHECK-NEXT: %[[A:.*]] = "tfl.relu"(%arg0)
// CHECK-NEXT: return %[[A]]
// OUT-LABEL: func.func @main(%arg0: tensor<1x4xf32>) -> tensor<1x4x!quant.uniform<i8:f32, 2.500000e-01:-1>>
// OUT: tfl.quantize
func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %0 = "tfl.quantize"(%x) : (tensor<1x4xf32>) -> tensor<1x4x!quant.uniform<i8:f32, 0.5:3>>
  %1 = "tfl.relu"(%0) : (tensor<1x4x!quant.uniform<i8:f32, 0.5:3>>) -> tensor<1x4x!quant.uniform<i8:f32, 0.25:-1>>
  %2 = "tfl.dequantize"(%1) : (tensor<1x4x!quant.uniform<i8:f32, 0.25:-1>>) -> tensor<1x4xf32>
  return %2 : tensor<1x4xf32>
}
