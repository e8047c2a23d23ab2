// RUN: lce-opt %s -tfl-fold-filters -split-input-file | FileCheck %s

// ste_sign on a kernel TensorFlow did not fold: TRANSPOSE(SIGN(ADD(SIGN(w), 0.1))) (HWIO -> OHWI).
// CHECK-LABEL: func.func @ste_sign_filter
// CHECK-NOT: tfl.sign
// CHECK-NOT: TRANSPOSE
// CHECK: %[[W:.*]] = "tfl.const"() {value = dense<{{\[\[\[\[}}1.000000e+00], [-1.000000e+00]]], {{\[\[\[}}1.000000e+00], [1.000000e+00]]], {{\[\[\[}}-1.000000e+00], [1.000000e+00]]]]> : tensor<3x1x2x1xf32>}
// CHECK: "tfl.conv_2d"(%arg0, %[[W]]
func.func @ste_sign_filter(%x: tensor<1x4x4x1xf32>) -> tensor<1x4x3x3xf32> {
  %w = "tfl.const"() {value = dense<[[[[0.5, 0.0, -2.0]], [[-0.25, 3.0, 1.0]]]]> : tensor<1x2x1x3xf32>} : () -> tensor<1x2x1x3xf32>
  %c = "tfl.const"() {value = dense<0.1> : tensor<f32>} : () -> tensor<f32>
  %perm = "tfl.const"() {value = dense<[3, 0, 1, 2]> : tensor<4xi32>} : () -> tensor<4xi32>
  %n = tfl.no_value : none
  %0 = "tfl.sign"(%w) : (tensor<1x2x1x3xf32>) -> tensor<1x2x1x3xf32>
  %1 = "tfl.add"(%0, %c) {fused_activation_function = "NONE"} : (tensor<1x2x1x3xf32>, tensor<f32>) -> tensor<1x2x1x3xf32>
  %2 = "tfl.sign"(%1) : (tensor<1x2x1x3xf32>) -> tensor<1x2x1x3xf32>
  %3 = "tfl.builtin"(%2, %perm) {name = "TRANSPOSE"} : (tensor<1x2x1x3xf32>, tensor<4xi32>) -> tensor<3x1x2x1xf32>
  %4 = "tfl.conv_2d"(%x, %3, %n) {padding = "SAME", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x1xf32>, tensor<3x1x2x1xf32>, none) -> tensor<1x4x3x3xf32>
  return %4 : tensor<1x4x3x3xf32>
}

// -----

// XNORNet's scaled sign: MUL(MEAN(|w|, [0, 1, 2], keep_dims), SIGN(ADD(SIGN(w), 0.1))), then
// TRANSPOSE; the per-channel means are 1.5 and 0.5.
// CHECK-LABEL: func.func @xnor_filter
// CHECK-NOT: tfl.mean
// CHECK: %[[W:.*]] = "tfl.const"() {value = dense<{{\[\[\[\[}}1.500000e+00, -1.500000e+00]]], {{\[\[\[}}5.000000e-01, 5.000000e-01]]]]> : tensor<2x1x1x2xf32>}
// CHECK: "tfl.fully_connected"
// CHECK-SAME: %[[W]]
func.func @xnor_filter(%x: tensor<1x1x1x2xf32>) -> tensor<1x1x1x2xf32> {
  %abs = "tfl.const"() {value = dense<[[[[1.0, 0.5], [2.0, 0.5]]]]> : tensor<1x1x2x2xf32>} : () -> tensor<1x1x2x2xf32>
  %w = "tfl.const"() {value = dense<[[[[1.0, 0.5], [-2.0, 0.5]]]]> : tensor<1x1x2x2xf32>} : () -> tensor<1x1x2x2xf32>
  %axes = "tfl.const"() {value = dense<[0, 1, 2]> : tensor<3xi32>} : () -> tensor<3xi32>
  %c = "tfl.const"() {value = dense<0.1> : tensor<f32>} : () -> tensor<f32>
  %perm = "tfl.const"() {value = dense<[3, 0, 1, 2]> : tensor<4xi32>} : () -> tensor<4xi32>
  %n = tfl.no_value : none
  %alpha = "tfl.mean"(%abs, %axes) {keep_dims = true} : (tensor<1x1x2x2xf32>, tensor<3xi32>) -> tensor<1x1x1x2xf32>
  %0 = "tfl.sign"(%w) : (tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %1 = "tfl.add"(%0, %c) {fused_activation_function = "NONE"} : (tensor<1x1x2x2xf32>, tensor<f32>) -> tensor<1x1x2x2xf32>
  %2 = "tfl.sign"(%1) : (tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %3 = "tfl.mul"(%alpha, %2) {fused_activation_function = "NONE"} : (tensor<1x1x1x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x1x2x2xf32>
  %4 = "tfl.builtin"(%3, %perm) {name = "TRANSPOSE"} : (tensor<1x1x2x2xf32>, tensor<4xi32>) -> tensor<2x1x1x2xf32>
  %5 = "tfl.fully_connected"(%x, %4, %n) {fused_activation_function = "NONE", weights_format = "DEFAULT", keep_num_dims = true, asymmetric_quantize_inputs = false} : (tensor<1x1x1x2xf32>, tensor<2x1x1x2xf32>, none) -> tensor<1x1x1x2xf32>
  return %5 : tensor<1x1x1x2xf32>
}

// -----

// A filter computed from the layer's input is not a constant: left alone.
// CHECK-LABEL: func.func @runtime_filter
// CHECK: tfl.sign
func.func @runtime_filter(%x: tensor<1x4x4x1xf32>, %w: tensor<1x1x1x1xf32>) -> tensor<1x4x4x1xf32> {
  %n = tfl.no_value : none
  %0 = "tfl.sign"(%w) : (tensor<1x1x1x1xf32>) -> tensor<1x1x1x1xf32>
  %1 = "tfl.conv_2d"(%x, %0, %n) {padding = "SAME", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x1xf32>, tensor<1x1x1x1xf32>, none) -> tensor<1x4x4x1xf32>
  return %1 : tensor<1x4x4x1xf32>
}
