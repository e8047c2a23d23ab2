// RUN: lce-opt %s -lq-fuse-bconv-affine -split-input-file | FileCheck %s

// MUL then ADD (a BatchNorm that TF could not fold) fold into multiplier and bias.
// CHECK-LABEL: func.func @mul_add
// CHECK-DAG: dense<[1.000000e+00, -6.000000e+00]> : tensor<2xf32>
// CHECK-DAG: dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf32>
// CHECK: %[[B:.*]] = "lq.Bconv2d"
// CHECK-NEXT: return %[[B]]
func.func @mul_add(%x: tensor<1x4x4x1xi32>) -> tensor<1x4x4x2xf32> {
  %w = "tfl.const"() {value = dense<1.0> : tensor<2x1x1x32xf32>} : () -> tensor<2x1x1x32xf32>
  %m = "tfl.const"() {value = dense<[0.5, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %b = "tfl.const"() {value = dense<[1.0, 0.5]> : tensor<2xf32>} : () -> tensor<2xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %m, %b, %n) {channels_in = 32 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<2x1x1x32xf32>, tensor<2xf32>, tensor<2xf32>, none) -> tensor<1x4x4x2xf32>
  %c = "tfl.const"() {value = dense<[2.0, -3.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %d = "tfl.const"() {value = dense<-0.5> : tensor<f32>} : () -> tensor<f32>
  %1 = "tfl.mul"(%0, %c) {fused_activation_function = "NONE"} : (tensor<1x4x4x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %2 = "tfl.add"(%1, %d) {fused_activation_function = "NONE"} : (tensor<1x4x4x2xf32>, tensor<f32>) -> tensor<1x4x4x2xf32>
  return %2 : tensor<1x4x4x2xf32>
}

// -----

// RELU after a Bconv2d with positive multipliers and no bias moves into its clamp; with a
// bias it stays.
// CHECK-LABEL: func.func @relu
// CHECK: "lq.Bconv2d"{{.*}}fused_activation_function = "RELU"
// CHECK: %[[B:.*]] = "lq.Bconv2d"{{.*}}fused_activation_function = "NONE"
// CHECK: "tfl.relu"(%[[B]])
func.func @relu(%x: tensor<1x4x4x1xi32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
  %w = "tfl.const"() {value = dense<1.0> : tensor<2x1x1x32xf32>} : () -> tensor<2x1x1x32xf32>
  %m = "tfl.const"() {value = dense<[0.5, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %z = "tfl.const"() {value = dense<0.0> : tensor<2xf32>} : () -> tensor<2xf32>
  %b = "tfl.const"() {value = dense<[1.0, 0.5]> : tensor<2xf32>} : () -> tensor<2xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %m, %z, %n) {channels_in = 32 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<2x1x1x32xf32>, tensor<2xf32>, tensor<2xf32>, none) -> tensor<1x4x4x2xf32>
  %1 = "tfl.relu"(%0) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %2 = "lq.Bconv2d"(%x, %w, %m, %b, %n) {channels_in = 32 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<2x1x1x32xf32>, tensor<2xf32>, tensor<2xf32>, none) -> tensor<1x4x4x2xf32>
  %3 = "tfl.relu"(%2) : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  return %1, %3 : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
}

// -----

// An ADD with a fused RELU of its own (TensorFlow's BatchNorm when the conv's weights are not
// a constant to it) folds into the bias and leaves a separate RELU; an ADD with a fused TANH
// stays.
// CHECK-LABEL: func.func @add_relu
// CHECK-DAG: %[[M:.*]] = "tfl.const"() {value = dense<[1.000000e+00, -6.000000e+00]> : tensor<2xf32>}
// CHECK-DAG: %[[B:.*]] = "tfl.const"() {value = dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf32>}
// CHECK: %[[C:.*]] = "lq.Bconv2d"(%{{.*}}, %{{.*}}, %[[M]], %[[B]], %{{.*}}){{.*}}fused_activation_function = "NONE"
// CHECK-NEXT: %[[R:.*]] = "tfl.relu"(%[[C]])
// CHECK: %[[T:.*]] = "lq.Bconv2d"
// CHECK-NEXT: "tfl.add"(%[[T]], %{{.*}}) {fused_activation_function = "TANH"
// CHECK: return %[[R]]
func.func @add_relu(%x: tensor<1x4x4x1xi32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
  %w = "tfl.const"() {value = dense<1.0> : tensor<2x1x1x32xf32>} : () -> tensor<2x1x1x32xf32>
  %m = "tfl.const"() {value = dense<[0.5, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %b = "tfl.const"() {value = dense<[1.0, 0.5]> : tensor<2xf32>} : () -> tensor<2xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %m, %b, %n) {channels_in = 32 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<2x1x1x32xf32>, tensor<2xf32>, tensor<2xf32>, none) -> tensor<1x4x4x2xf32>
  %c = "tfl.const"() {value = dense<[2.0, -3.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %d = "tfl.const"() {value = dense<-0.5> : tensor<f32>} : () -> tensor<f32>
  %1 = "tfl.mul"(%0, %c) {fused_activation_function = "NONE"} : (tensor<1x4x4x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %2 = "tfl.add"(%1, %d) {fused_activation_function = "RELU"} : (tensor<1x4x4x2xf32>, tensor<f32>) -> tensor<1x4x4x2xf32>
  %3 = "lq.Bconv2d"(%x, %w, %m, %b, %n) {channels_in = 32 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<2x1x1x32xf32>, tensor<2xf32>, tensor<2xf32>, none) -> tensor<1x4x4x2xf32>
  %4 = "tfl.add"(%3, %d) {fused_activation_function = "TANH"} : (tensor<1x4x4x2xf32>, tensor<f32>) -> tensor<1x4x4x2xf32>
  return %2, %4 : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
}
