// RUN: lce-opt %s -lq-fuse-bitpacked-output -split-input-file | FileCheck %s
// RUN: lce-opt %s -lq-fuse-bitpacked-output=allow-zero-padding=true -split-input-file | FileCheck %s --check-prefix=ZERO

// LCE's own test vector (K = 2*2*1 = 4): multipliers -4..3, biases as in LCE's
// bitpack_activation_thresholds_with_negative_post_multipliers. Expected thresholds (exact
// rational rule): [0, 3, 2, 2, -1, 2, 1, 2] ("always -1" is -1), the first four filters negated.
// CHECK-LABEL: func.func @thresholds
// CHECK-DAG: %[[T:.*]] = "tfl.const"() {value = dense<[0, 3, 2, 2, -1, 2, 1, 2]> : tensor<8xi32>}
// CHECK-DAG: %[[F:.*]] = "tfl.const"() {value = dense<{{\[\[\[\[}}-1.000000e+00], [-1.000000e+00]], {{\[\[}}-1.000000e+00], [-1.000000e+00]]], {{\[\[\[}}-1.000000e+00]
// CHECK: "lq.Bconv2d"(%arg0, %[[F]], %{{.*}}, %{{.*}}, %[[T]]) {{.*}}fused_activation_function = "NONE"{{.*}} -> tensor<1x4x4x1xi32>
// CHECK-NOT: lq.Quantize
func.func @thresholds(%x: tensor<1x5x5x1xi32>) -> tensor<1x4x4x1xi32> {
  %w = "tfl.const"() {value = dense<1.0> : tensor<8x2x2x1xf32>} : () -> tensor<8x2x2x1xf32>
  %m = "tfl.const"() {value = dense<[-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]> : tensor<8xf32>} : () -> tensor<8xf32>
  %b = "tfl.const"() {value = dense<[-10.0, 8.0, 0.4, 1.0, -0.01, 0.5, -1.0, 2.71]> : tensor<8xf32>} : () -> tensor<8xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %m, %b, %n) {channels_in = 1 : i32, padding = "VALID"} : (tensor<1x5x5x1xi32>, tensor<8x2x2x1xf32>, tensor<8xf32>, tensor<8xf32>, none) -> tensor<1x4x4x8xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x8xf32> -> tensor<1x4x4x1xi32>
  return %1 : tensor<1x4x4x1xi32>
}

// -----

// A RELU clamp folds into the thresholds: with m = 1, b = -0.5, y = relu(conv) - 0.5 < 0 iff
// conv <= 0 iff accum >= K/2 = 4 (K = 8): threshold 3.
// CHECK-LABEL: func.func @relu
// CHECK: dense<3> : tensor<1xi32>
func.func @relu(%x: tensor<1x2x2x1xi32>) -> tensor<1x1x1x1xi32> {
  %w = "tfl.const"() {value = dense<1.0> : tensor<1x2x2x2xf32>} : () -> tensor<1x2x2x2xf32>
  %m = "tfl.const"() {value = dense<1.0> : tensor<1xf32>} : () -> tensor<1xf32>
  %b = "tfl.const"() {value = dense<-0.5> : tensor<1xf32>} : () -> tensor<1xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %m, %b, %n) {channels_in = 2 : i32, padding = "VALID", fused_activation_function = "RELU"} : (tensor<1x2x2x1xi32>, tensor<1x2x2x2xf32>, tensor<1xf32>, tensor<1xf32>, none) -> tensor<1x1x1x1xf32>
  %1 = lq.Quantize %0 : tensor<1x1x1x1xf32> -> tensor<1x1x1x1xi32>
  return %1 : tensor<1x1x1x1xi32>
}

// -----

// Zero padding needs float output in LCE 0.16's runtime: fused only when allowed.
// CHECK-LABEL: func.func @zero_padding
// CHECK: lq.Quantize
// ZERO-LABEL: func.func @zero_padding
// ZERO: "lq.Bconv2d"{{.*}} -> tensor<1x4x4x1xi32>
// ZERO-NEXT: return
func.func @zero_padding(%x: tensor<1x4x4x1xi32>) -> tensor<1x4x4x1xi32> {
  %w = "tfl.const"() {value = dense<1.0> : tensor<2x3x3x32xf32>} : () -> tensor<2x3x3x32xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %n, %n, %n) {channels_in = 32 : i32, padding = "SAME", pad_values = 0 : i32} : (tensor<1x4x4x1xi32>, tensor<2x3x3x32xf32>, none, none, none) -> tensor<1x4x4x2xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x2xf32> -> tensor<1x4x4x1xi32>
  return %1 : tensor<1x4x4x1xi32>
}

// -----

// A Bconv2d whose float output has another user keeps it.
// CHECK-LABEL: func.func @other_user
// CHECK: lq.Quantize
func.func @other_user(%x: tensor<1x5x5x1xi32>) -> (tensor<1x4x4x1xi32>, tensor<1x4x4x2xf32>) {
  %w = "tfl.const"() {value = dense<1.0> : tensor<2x2x2x1xf32>} : () -> tensor<2x2x2x1xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %n, %n, %n) {channels_in = 1 : i32, padding = "VALID"} : (tensor<1x5x5x1xi32>, tensor<2x2x2x1xf32>, none, none, none) -> tensor<1x4x4x2xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x2xf32> -> tensor<1x4x4x1xi32>
  return %1, %0 : tensor<1x4x4x1xi32>, tensor<1x4x4x2xf32>
}

// -----

// Zero padding with 3 channels per group: accum_eff can be a half-integer, so even with
// allow-zero-padding the output stays float.
// ZERO-LABEL: func.func @zero_padding_odd_channels
// ZERO: lq.Quantize
func.func @zero_padding_odd_channels(%x: tensor<1x4x4x1xi32>) -> tensor<1x4x4x1xi32> {
  %w = "tfl.const"() {value = dense<1.0> : tensor<2x3x3x3xf32>} : () -> tensor<2x3x3x3xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %n, %n, %n) {channels_in = 3 : i32, padding = "SAME", pad_values = 0 : i32} : (tensor<1x4x4x1xi32>, tensor<2x3x3x3xf32>, none, none, none) -> tensor<1x4x4x2xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x2xf32> -> tensor<1x4x4x1xi32>
  return %1 : tensor<1x4x4x1xi32>
}
