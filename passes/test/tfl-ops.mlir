// RUN: lce-opt %s -split-input-file -verify-diagnostics | FileCheck %s
// The tfl subset: typed ops check their attribute types; constants check their storage.

// CHECK-LABEL: func.func @typed_and_generic
func.func @typed_and_generic(%x: tensor<1x8x8x3xf32>) -> tensor<1x8x8x4xf32> {
  // CHECK: "tfl.const"() {value = dense<1.000000e+00> : tensor<4x3x3x3xf32>}
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x3x3x3xf32>} : () -> tensor<4x3x3x3xf32>
  %none = "tfl.no_value"() : () -> none
  // CHECK: "tfl.conv_2d"
  %0 = "tfl.conv_2d"(%x, %w, %none) {padding = "SAME", stride_w = 1 : i32, stride_h = 1 : i32,
        fused_activation_function = "RELU", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32}
      : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, none) -> tensor<1x8x8x4xf32>
  // CHECK: "tfl.builtin"(%{{.*}}) {name = "SOFTMAX", options = {beta = 1.000000e+00 : f64}, options_type = "SoftmaxOptions", version = 1 : i32}
  %1 = "tfl.builtin"(%0) {name = "SOFTMAX", version = 1 : i32, options_type = "SoftmaxOptions", options = {beta = 1.0 : f64}}
      : (tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32>
  return %1 : tensor<1x8x8x4xf32>
}

// -----

// Quantized constants hold their integer storage; raw-byte constants hold buffer bytes.
// CHECK-LABEL: func.func @constants
func.func @constants() -> (tensor<2x!quant.uniform<i8:f32, 5.000000e-01:-3>>, tensor<2x!tfl.element<"STRING">>) {
  // CHECK: tensor<2x!quant.uniform<i8:f32, 5.000000e-01:-3>>
  %0 = "tfl.const"() {value = dense<[1, -2]> : tensor<2xi8>} : () -> tensor<2x!quant.uniform<i8:f32, 0.5:-3>>
  // CHECK: !tfl.element<"STRING">
  %1 = "tfl.const"() {value = dense<[0, 1, 2]> : tensor<3xui8>} : () -> tensor<2x!tfl.element<"STRING">>
  return %0, %1 : tensor<2x!quant.uniform<i8:f32, 0.5:-3>>, tensor<2x!tfl.element<"STRING">>
}

// -----

func.func @const_shape_mismatch() -> tensor<3xf32> {
  // expected-error @+1 {{value shape 'tensor<2xf32>' does not match result 'tensor<3xf32>'}}
  %0 = "tfl.const"() {value = dense<1.0> : tensor<2xf32>} : () -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @typed_attr_kind(%x: tensor<1x8x8x3xf32>) -> tensor<1x4x4x3xf32> {
  // expected-error @+1 {{attribute 'stride_w' failed to satisfy constraint: 32-bit signless integer attribute}}
  %0 = "tfl.max_pool_2d"(%x) {padding = "VALID", stride_w = 2 : i64, stride_h = 2 : i32, filter_width = 2 : i32,
        filter_height = 2 : i32, fused_activation_function = "NONE"} : (tensor<1x8x8x3xf32>) -> tensor<1x4x4x3xf32>
  return %0 : tensor<1x4x4x3xf32>
}
