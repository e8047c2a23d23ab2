// RUN: lce-opt %s | lce-opt | FileCheck %s
// The lq ops parse, verify and print back (round trip through text twice).

// CHECK-LABEL: func.func @quantize_roundtrip
func.func @quantize_roundtrip(%x: tensor<1x8x8x40xf32>) -> tensor<1x8x8x40xf32> {
  // CHECK: lq.Quantize %{{.*}} : tensor<1x8x8x40xf32> -> tensor<1x8x8x2xi32>
  %0 = lq.Quantize %x : tensor<1x8x8x40xf32> -> tensor<1x8x8x2xi32>
  // CHECK: lq.Dequantize %{{.*}} : tensor<1x8x8x2xi32> -> tensor<1x8x8x40xf32>
  %1 = lq.Dequantize %0 : tensor<1x8x8x2xi32> -> tensor<1x8x8x40xf32>
  return %1 : tensor<1x8x8x40xf32>
}

// CHECK-LABEL: func.func @bconv_modes
func.func @bconv_modes(%x: tensor<1x8x8x2xi32>, %f: tensor<64x3x3x2xi32>, %m: tensor<64xf32>,
                       %b: tensor<64xf32>, %t: tensor<64xi32>) -> (tensor<1x8x8x64xf32>, tensor<1x8x8x2xi32>) {
  %none = "tfl.no_value"() : () -> none
  // CHECK: "lq.Bconv2d"
  // CHECK-SAME: channels_in = 40 : i32
  // CHECK-SAME: -> tensor<1x8x8x64xf32>
  %0 = "lq.Bconv2d"(%x, %f, %m, %b, %none) {channels_in = 40 : i32, padding = "SAME", pad_values = 1 : i32}
      : (tensor<1x8x8x2xi32>, tensor<64x3x3x2xi32>, tensor<64xf32>, tensor<64xf32>, none) -> tensor<1x8x8x64xf32>
  // CHECK: "lq.Bconv2d"
  // CHECK-SAME: -> tensor<1x8x8x2xi32>
  %1 = "lq.Bconv2d"(%x, %f, %none, %none, %t) {channels_in = 40 : i32, padding = "SAME"}
      : (tensor<1x8x8x2xi32>, tensor<64x3x3x2xi32>, none, none, tensor<64xi32>) -> tensor<1x8x8x2xi32>
  return %0, %1 : tensor<1x8x8x64xf32>, tensor<1x8x8x2xi32>
}

// Grouped conv: 128 channels in 2 groups of 64 (2 words per group), 32 outputs.
// CHECK-LABEL: func.func @bconv_grouped
func.func @bconv_grouped(%x: tensor<1x4x4x4xi32>, %f: tensor<32x1x1x2xi32>) -> tensor<1x4x4x32xf32> {
  %none = "tfl.no_value"() : () -> none
  // CHECK: "lq.Bconv2d"
  %0 = "lq.Bconv2d"(%x, %f, %none, %none, %none) {channels_in = 128 : i32, padding = "VALID"}
      : (tensor<1x4x4x4xi32>, tensor<32x1x1x2xi32>, none, none, none) -> tensor<1x4x4x32xf32>
  return %0 : tensor<1x4x4x32xf32>
}

// CHECK-LABEL: func.func @bmaxpool
func.func @bmaxpool(%x: tensor<1x8x8x3xi32>) -> tensor<1x4x4x3xi32> {
  // CHECK: "lq.BMaxPool2d"
  // CHECK-SAME: filter_height = 2 : i32
  %0 = "lq.BMaxPool2d"(%x) {padding = "VALID", stride_width = 2 : i32, stride_height = 2 : i32,
                             filter_width = 2 : i32, filter_height = 2 : i32}
      : (tensor<1x8x8x3xi32>) -> tensor<1x4x4x3xi32>
  return %0 : tensor<1x4x4x3xi32>
}
