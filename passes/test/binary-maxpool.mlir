// RUN: lce-opt %s -lq-binary-maxpool | FileCheck %s

// CHECK-LABEL: func.func @maxpool
// CHECK: %[[Q:.*]] = lq.Quantize %arg0 : tensor<1x8x8x40xf32> -> tensor<1x8x8x2xi32>
// CHECK: "lq.BMaxPool2d"(%[[Q]]) {filter_height = 3 : i32, filter_width = 3 : i32, padding = "SAME", stride_height = 2 : i32, stride_width = 2 : i32} : (tensor<1x8x8x2xi32>) -> tensor<1x4x4x2xi32>
func.func @maxpool(%x: tensor<1x8x8x40xf32>) -> tensor<1x4x4x2xi32> {
  %0 = "tfl.max_pool_2d"(%x) {padding = "SAME", stride_w = 2 : i32, stride_h = 2 : i32, filter_width = 3 : i32, filter_height = 3 : i32, fused_activation_function = "NONE"} : (tensor<1x8x8x40xf32>) -> tensor<1x4x4x40xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x40xf32> -> tensor<1x4x4x2xi32>
  return %1 : tensor<1x4x4x2xi32>
}

// A fused RELU changes the sign of negative maxima: not matched.
// CHECK-LABEL: func.func @relu_pool
// CHECK: tfl.max_pool_2d
func.func @relu_pool(%x: tensor<1x8x8x40xf32>) -> tensor<1x4x4x2xi32> {
  %0 = "tfl.max_pool_2d"(%x) {padding = "VALID", stride_w = 2 : i32, stride_h = 2 : i32, filter_width = 2 : i32, filter_height = 2 : i32, fused_activation_function = "RELU"} : (tensor<1x8x8x40xf32>) -> tensor<1x4x4x40xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x40xf32> -> tensor<1x4x4x2xi32>
  return %1 : tensor<1x4x4x2xi32>
}

// int8 with the same quantization in and out (TFLite's int8 MAX_POOL_2D): bit = q < zero point
// is monotone, so the Quantize moves in front and reads the int8 input.
// CHECK-LABEL: func.func @int8_pool
// CHECK: %[[Q:.*]] = lq.Quantize %arg0 : tensor<1x4x4x40x!quant.uniform<i8:f32, 2.000000e-02:-3>> -> tensor<1x4x4x2xi32>
// CHECK: "lq.BMaxPool2d"(%[[Q]])
func.func @int8_pool(%x: tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-3>>) -> tensor<1x2x2x2xi32> {
  %0 = "tfl.max_pool_2d"(%x) {padding = "VALID", stride_w = 2 : i32, stride_h = 2 : i32, filter_width = 2 : i32, filter_height = 2 : i32, fused_activation_function = "NONE"} : (tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-3>>) -> tensor<1x2x2x40x!quant.uniform<i8:f32, 0.02:-3>>
  %1 = lq.Quantize %0 : tensor<1x2x2x40x!quant.uniform<i8:f32, 0.02:-3>> -> tensor<1x2x2x2xi32>
  return %1 : tensor<1x2x2x2xi32>
}

// Different zero points in and out would compare the taps with another zero point: not matched.
// CHECK-LABEL: func.func @int8_pool_requantizing
// CHECK: tfl.max_pool_2d
func.func @int8_pool_requantizing(%x: tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-3>>) -> tensor<1x2x2x2xi32> {
  %0 = "tfl.max_pool_2d"(%x) {padding = "VALID", stride_w = 2 : i32, stride_h = 2 : i32, filter_width = 2 : i32, filter_height = 2 : i32, fused_activation_function = "NONE"} : (tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-3>>) -> tensor<1x2x2x40x!quant.uniform<i8:f32, 0.02:5>>
  %1 = lq.Quantize %0 : tensor<1x2x2x40x!quant.uniform<i8:f32, 0.02:5>> -> tensor<1x2x2x2xi32>
  return %1 : tensor<1x2x2x2xi32>
}
