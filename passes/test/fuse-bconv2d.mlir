// RUN: lce-opt %s -lq-fuse-bconv2d -split-input-file | FileCheck %s
// RUN: lce-opt %s -lq-fuse-bconv2d=allow-zero-padding=true -split-input-file | FileCheck %s --check-prefix=ZERO

// Weights +-alpha_o per output channel (a folded BatchNorm): alpha becomes the multiplier,
// the signs the filter, the bias stays.
// CHECK-LABEL: func.func @alpha_per_channel
// CHECK-DAG: %[[F:.*]] = "tfl.const"() {value = dense<{{\[\[\[\[}}1.000000e+00, -1.000000e+00]]], {{\[\[\[}}-1.000000e+00, 1.000000e+00]]]]> : tensor<2x1x1x2xf32>}
// CHECK-DAG: %[[M:.*]] = "tfl.const"() {value = dense<[5.000000e-01, 2.500000e-01]> : tensor<2xf32>}
// CHECK-DAG: %[[B:.*]] = "tfl.const"() {value = dense<[1.000000e+00, -2.000000e+00]> : tensor<2xf32>}
// CHECK: "lq.Bconv2d"(%[[Q:.*]], %[[F]], %[[M]], %[[B]], %{{.*}}) {channels_in = 2 : i32, {{.*}}padding = "VALID"
func.func @alpha_per_channel(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %q = lq.Quantize %x : tensor<1x4x4x2xf32> -> tensor<1x4x4x1xi32>
  %d = lq.Dequantize %q : tensor<1x4x4x1xi32> -> tensor<1x4x4x2xf32>
  %w = "tfl.const"() {value = dense<[[[[0.5, -0.5]]], [[[-0.25, 0.25]]]]> : tensor<2x1x1x2xf32>} : () -> tensor<2x1x1x2xf32>
  %b = "tfl.const"() {value = dense<[1.0, -2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %0 = "tfl.conv_2d"(%d, %w, %b) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  return %0 : tensor<1x4x4x2xf32>
}

// -----

// |w| differs inside a channel: stays float, with the reason.
// CHECK-LABEL: func.func @not_binary_weights
// CHECK: "tfl.conv_2d"{{.*}}lq.not_binarized = "weights are not +-alpha per output channel (channel 0)"
func.func @not_binary_weights(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x1xf32> {
  %q = lq.Quantize %x : tensor<1x4x4x2xf32> -> tensor<1x4x4x1xi32>
  %d = lq.Dequantize %q : tensor<1x4x4x1xi32> -> tensor<1x4x4x2xf32>
  %w = "tfl.const"() {value = dense<[[[[0.5, -0.25]]]]> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
  %n = tfl.no_value : none
  %0 = "tfl.conv_2d"(%d, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x2xf32>, tensor<1x1x1x2xf32>, none) -> tensor<1x4x4x1xf32>
  return %0 : tensor<1x4x4x1xf32>
}

// -----

// A float input: stays float.
// CHECK-LABEL: func.func @float_input
// CHECK: lq.not_binarized = "input is not binarized"
func.func @float_input(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x1xf32> {
  %w = "tfl.const"() {value = dense<1.0> : tensor<1x1x1x2xf32>} : () -> tensor<1x1x1x2xf32>
  %n = tfl.no_value : none
  %0 = "tfl.conv_2d"(%x, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x2xf32>, tensor<1x1x1x2xf32>, none) -> tensor<1x4x4x1xf32>
  return %0 : tensor<1x4x4x1xf32>
}

// -----

// PADV2 with 1.0 equal to SAME padding before a VALID conv: one-padding, with stride 2.
// CHECK-LABEL: func.func @one_padding
// CHECK: "lq.Bconv2d"{{.*}}pad_values = 1 : i32, padding = "SAME", stride_height = 2 : i32, stride_width = 2 : i32
// CHECK-NOT: tfl.padv2
func.func @one_padding(%x: tensor<1x8x8x32xf32>) -> tensor<1x4x4x4xf32> {
  %q = lq.Quantize %x : tensor<1x8x8x32xf32> -> tensor<1x8x8x1xi32>
  %d = lq.Dequantize %q : tensor<1x8x8x1xi32> -> tensor<1x8x8x32xf32>
  %p = "tfl.const"() {value = dense<[[0, 0], [0, 1], [0, 1], [0, 0]]> : tensor<4x2xi32>} : () -> tensor<4x2xi32>
  %one = "tfl.const"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %padded = "tfl.padv2"(%d, %p, %one) : (tensor<1x8x8x32xf32>, tensor<4x2xi32>, tensor<f32>) -> tensor<1x9x9x32xf32>
  %w = "tfl.const"() {value = dense<-1.0> : tensor<4x3x3x32xf32>} : () -> tensor<4x3x3x32xf32>
  %n = tfl.no_value : none
  %0 = "tfl.conv_2d"(%padded, %w, %n) {padding = "VALID", stride_w = 2 : i32, stride_h = 2 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x9x9x32xf32>, tensor<4x3x3x32xf32>, none) -> tensor<1x4x4x4xf32>
  return %0 : tensor<1x4x4x4xf32>
}

// -----

// Explicit padding that is not TF's SAME padding cannot be expressed.
// CHECK-LABEL: func.func @odd_padding
// CHECK: lq.not_binarized = "explicit padding is not TF's SAME padding"
func.func @odd_padding(%x: tensor<1x8x8x32xf32>) -> tensor<1x8x8x4xf32> {
  %q = lq.Quantize %x : tensor<1x8x8x32xf32> -> tensor<1x8x8x1xi32>
  %d = lq.Dequantize %q : tensor<1x8x8x1xi32> -> tensor<1x8x8x32xf32>
  %p = "tfl.const"() {value = dense<[[0, 0], [2, 0], [1, 1], [0, 0]]> : tensor<4x2xi32>} : () -> tensor<4x2xi32>
  %one = "tfl.const"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %padded = "tfl.padv2"(%d, %p, %one) : (tensor<1x8x8x32xf32>, tensor<4x2xi32>, tensor<f32>) -> tensor<1x10x10x32xf32>
  %w = "tfl.const"() {value = dense<-1.0> : tensor<4x3x3x32xf32>} : () -> tensor<4x3x3x32xf32>
  %n = tfl.no_value : none
  %0 = "tfl.conv_2d"(%padded, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x10x10x32xf32>, tensor<4x3x3x32xf32>, none) -> tensor<1x8x8x4xf32>
  return %0 : tensor<1x8x8x4xf32>
}

// -----

// Zero padding (SAME conv) with a RELU that would be exact inside the Bconv2d (alpha 1, no
// bias): LCE 0.16's runtime cannot correct zero padding under an activation, so by default it
// stays a separate op, fused only with allow-zero-padding. A RELU after a bias is never exact
// inside: always a separate op.
// CHECK-LABEL: func.func @activations
// CHECK: %[[A:.*]] = "lq.Bconv2d"{{.*}}fused_activation_function = "NONE"{{.*}}pad_values = 0 : i32, padding = "SAME"
// CHECK: "tfl.relu"(%[[A]])
// CHECK: %[[B:.*]] = "lq.Bconv2d"{{.*}}fused_activation_function = "NONE"
// CHECK: "tfl.relu"(%[[B]])
// ZERO-LABEL: func.func @activations
// ZERO: "lq.Bconv2d"{{.*}}fused_activation_function = "RELU"{{.*}}pad_values = 0 : i32, padding = "SAME"
// ZERO: %[[B:.*]] = "lq.Bconv2d"{{.*}}fused_activation_function = "NONE"
// ZERO: "tfl.relu"(%[[B]])
func.func @activations(%x: tensor<1x4x4x32xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
  %q = lq.Quantize %x : tensor<1x4x4x32xf32> -> tensor<1x4x4x1xi32>
  %d = lq.Dequantize %q : tensor<1x4x4x1xi32> -> tensor<1x4x4x32xf32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<2x3x3x32xf32>} : () -> tensor<2x3x3x32xf32>
  %n = tfl.no_value : none
  %b = "tfl.const"() {value = dense<[0.5, 0.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %0 = "tfl.conv_2d"(%d, %w, %n) {padding = "SAME", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "RELU", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x32xf32>, tensor<2x3x3x32xf32>, none) -> tensor<1x4x4x2xf32>
  %1 = "tfl.conv_2d"(%d, %w, %b) {padding = "SAME", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "RELU", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x32xf32>, tensor<2x3x3x32xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  return %0, %1 : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
}

// -----

// Groups: 64 channels, filter depth 32 -> 2 groups of 32. With 40 channels per group the
// packed layout cannot express the groups.
// CHECK-LABEL: func.func @groups
// CHECK: "lq.Bconv2d"{{.*}}channels_in = 64 : i32
// CHECK: lq.not_binarized = "grouped channels not a multiple of 32 (40 per group)"
func.func @groups(%x: tensor<1x4x4x64xf32>, %y: tensor<1x4x4x80xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>) {
  %q = lq.Quantize %x : tensor<1x4x4x64xf32> -> tensor<1x4x4x2xi32>
  %d = lq.Dequantize %q : tensor<1x4x4x2xi32> -> tensor<1x4x4x64xf32>
  %q2 = lq.Quantize %y : tensor<1x4x4x80xf32> -> tensor<1x4x4x3xi32>
  %d2 = lq.Dequantize %q2 : tensor<1x4x4x3xi32> -> tensor<1x4x4x80xf32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x1x1x32xf32>} : () -> tensor<4x1x1x32xf32>
  %w2 = "tfl.const"() {value = dense<1.0> : tensor<4x1x1x40xf32>} : () -> tensor<4x1x1x40xf32>
  %n = tfl.no_value : none
  %0 = "tfl.conv_2d"(%d, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x64xf32>, tensor<4x1x1x32xf32>, none) -> tensor<1x4x4x4xf32>
  %1 = "tfl.conv_2d"(%d2, %w2, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<1x4x4x80xf32>, tensor<4x1x1x40xf32>, none) -> tensor<1x4x4x4xf32>
  return %0, %1 : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>
}

// -----

// A binary dense layer becomes a 1x1 Bconv2d between reshapes.
// CHECK-LABEL: func.func @dense
// CHECK: %[[R:.*]] = "tfl.reshape"(%{{.*}}, %{{.*}}) {{.*}}: (tensor<?x2xi32>, tensor<4xi32>) -> tensor<?x1x1x2xi32>
// CHECK: %[[B:.*]] = "lq.Bconv2d"(%[[R]], {{.*}}channels_in = 40 : i32{{.*}}lq.layer_kind = "dense"{{.*}} -> tensor<?x1x1x3xf32>
// CHECK: "tfl.reshape"(%[[B]], %{{.*}}) {{.*}}: (tensor<?x1x1x3xf32>, tensor<2xi32>) -> tensor<?x3xf32>
func.func @dense(%x: tensor<?x40xf32>) -> tensor<?x3xf32> {
  %q = lq.Quantize %x : tensor<?x40xf32> -> tensor<?x2xi32>
  %d = lq.Dequantize %q : tensor<?x2xi32> -> tensor<?x40xf32>
  %w = "tfl.const"() {value = dense<-2.0> : tensor<3x40xf32>} : () -> tensor<3x40xf32>
  %n = tfl.no_value : none
  %0 = "tfl.fully_connected"(%d, %w, %n) {fused_activation_function = "NONE", weights_format = "DEFAULT", keep_num_dims = false, asymmetric_quantize_inputs = false} : (tensor<?x40xf32>, tensor<3x40xf32>, none) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
