// RUN: lce-opt %s -lq-detect-binarize -split-input-file | FileCheck %s

// larq's ste_sign: SIGN(ADD(SIGN(x), 0.1)) is binarization with x = 0 -> +1.
// CHECK-LABEL: func.func @ste_sign
// CHECK: %[[Q:.*]] = lq.Quantize %arg0 : tensor<1x4x4x40xf32> -> tensor<1x4x4x2xi32>
// CHECK: %[[D:.*]] = lq.Dequantize %[[Q]] : tensor<1x4x4x2xi32> -> tensor<1x4x4x40xf32>
// CHECK: return %[[D]]
func.func @ste_sign(%x: tensor<1x4x4x40xf32>) -> tensor<1x4x4x40xf32> {
  %c = "tfl.const"() {value = dense<0.1> : tensor<f32>} : () -> tensor<f32>
  %0 = "tfl.sign"(%x) : (tensor<1x4x4x40xf32>) -> tensor<1x4x4x40xf32>
  %1 = "tfl.add"(%0, %c) {fused_activation_function = "NONE"} : (tensor<1x4x4x40xf32>, tensor<f32>) -> tensor<1x4x4x40xf32>
  %2 = "tfl.sign"(%1) : (tensor<1x4x4x40xf32>) -> tensor<1x4x4x40xf32>
  return %2 : tensor<1x4x4x40xf32>
}

// -----

// The constant may come first, and may be a [1, 1] tensor.
// CHECK-LABEL: func.func @offset_first
// CHECK: lq.Quantize
func.func @offset_first(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c = "tfl.const"() {value = dense<0.5> : tensor<1x1xf32>} : () -> tensor<1x1xf32>
  %0 = "tfl.sign"(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %1 = "tfl.add"(%c, %0) {fused_activation_function = "NONE"} : (tensor<1x1xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %2 = "tfl.sign"(%1) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}

// -----

// c = 1 maps x < 0 to sign(0) = 0, not -1: not a binarization.
// CHECK-LABEL: func.func @offset_one
// CHECK-NOT: lq.Quantize
func.func @offset_one(%x: tensor<8xf32>) -> tensor<8xf32> {
  %c = "tfl.const"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %0 = "tfl.sign"(%x) : (tensor<8xf32>) -> tensor<8xf32>
  %1 = "tfl.add"(%0, %c) {fused_activation_function = "NONE"} : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %2 = "tfl.sign"(%1) : (tensor<8xf32>) -> tensor<8xf32>
  return %2 : tensor<8xf32>
}

// -----

// A negative offset maps 0 to -1; a per-element offset is not a scalar; a fused RELU changes
// the values: none of them is matched.
// CHECK-LABEL: func.func @not_matched
// CHECK-NOT: lq.Quantize
func.func @not_matched(%x: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) {
  %neg = "tfl.const"() {value = dense<-0.1> : tensor<f32>} : () -> tensor<f32>
  %vec = "tfl.const"() {value = dense<[0.1, 0.2]> : tensor<2xf32>} : () -> tensor<2xf32>
  %s = "tfl.sign"(%x) : (tensor<2xf32>) -> tensor<2xf32>
  %a = "tfl.add"(%s, %neg) {fused_activation_function = "NONE"} : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %b = "tfl.add"(%s, %vec) {fused_activation_function = "NONE"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %c = "tfl.add"(%s, %vec) {fused_activation_function = "RELU"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  %0 = "tfl.sign"(%a) : (tensor<2xf32>) -> tensor<2xf32>
  %1 = "tfl.sign"(%b) : (tensor<2xf32>) -> tensor<2xf32>
  %2 = "tfl.sign"(%c) : (tensor<2xf32>) -> tensor<2xf32>
  return %0, %1, %2 : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
}

// -----

// Hand-written signs: SELECT_V2(LESS(x, 0), -1, +1) with broadcast branches, and
// SELECT_V2(GREATER_EQUAL(x, 0), +1, -1) with scalar branches.
// CHECK-LABEL: func.func @select_forms
// CHECK: %[[Q0:.*]] = lq.Quantize %arg0
// CHECK: lq.Dequantize %[[Q0]]
// CHECK: %[[Q1:.*]] = lq.Quantize %arg0
// CHECK: lq.Dequantize %[[Q1]]
func.func @select_forms(%x: tensor<?x4x32xf32>) -> (tensor<?x4x32xf32>, tensor<?x4x32xf32>) {
  %zero = "tfl.const"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %one = "tfl.const"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %minus = "tfl.const"() {value = dense<-1.0> : tensor<f32>} : () -> tensor<f32>
  %shape = "tfl.builtin"(%x) {name = "SHAPE"} : (tensor<?x4x32xf32>) -> tensor<3xi64>
  %bone = "tfl.builtin"(%one, %shape) {name = "BROADCAST_TO"} : (tensor<f32>, tensor<3xi64>) -> tensor<?x4x32xf32>
  %bminus = "tfl.builtin"(%minus, %shape) {name = "BROADCAST_TO"} : (tensor<f32>, tensor<3xi64>) -> tensor<?x4x32xf32>
  %lt = "tfl.builtin"(%x, %zero) {name = "LESS"} : (tensor<?x4x32xf32>, tensor<f32>) -> tensor<?x4x32xi1>
  %a = "tfl.builtin"(%lt, %bminus, %bone) {name = "SELECT_V2"} : (tensor<?x4x32xi1>, tensor<?x4x32xf32>, tensor<?x4x32xf32>) -> tensor<?x4x32xf32>
  %ge = "tfl.builtin"(%x, %zero) {name = "GREATER_EQUAL"} : (tensor<?x4x32xf32>, tensor<f32>) -> tensor<?x4x32xi1>
  %b = "tfl.builtin"(%ge, %one, %minus) {name = "SELECT_V2"} : (tensor<?x4x32xi1>, tensor<f32>, tensor<f32>) -> tensor<?x4x32xf32>
  return %a, %b : tensor<?x4x32xf32>, tensor<?x4x32xf32>
}

// -----

// GREATER(x, 0) maps 0 to -1: not our binarization.
// CHECK-LABEL: func.func @greater
// CHECK-NOT: lq.Quantize
func.func @greater(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %zero = "tfl.const"() {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %one = "tfl.const"() {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %minus = "tfl.const"() {value = dense<-1.0> : tensor<f32>} : () -> tensor<f32>
  %gt = "tfl.builtin"(%x, %zero) {name = "GREATER"} : (tensor<4x32xf32>, tensor<f32>) -> tensor<4x32xi1>
  %b = "tfl.builtin"(%gt, %one, %minus) {name = "SELECT_V2"} : (tensor<4x32xi1>, tensor<f32>, tensor<f32>) -> tensor<4x32xf32>
  return %b : tensor<4x32xf32>
}
