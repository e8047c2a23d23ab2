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
