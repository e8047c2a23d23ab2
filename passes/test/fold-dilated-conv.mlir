// RUN: lce-opt %s -tfl-fold-dilated-conv -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @sandwich
// CHECK-NOT: SPACE_TO_BATCH_ND
// CHECK: "tfl.conv_2d"(%arg0, {{.*}}dilation_h_factor = 2 : i32, dilation_w_factor = 2 : i32{{.*}}padding = "VALID"{{.*}} -> tensor<1x8x8x4xf32>
// CHECK-NOT: SPACE_TO_BATCH_ND
// CHECK-NOT: BATCH_TO_SPACE_ND
func.func @sandwich(%x: tensor<1x12x12x4xf32>) -> tensor<1x8x8x4xf32> {
  %block = "tfl.const"() {value = dense<2> : tensor<2xi32>} : () -> tensor<2xi32>
  %zero = "tfl.const"() {value = dense<0> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %n = tfl.no_value : none
  %0 = "tfl.builtin"(%x, %block, %zero) {name = "SPACE_TO_BATCH_ND"} : (tensor<1x12x12x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<4x6x6x4xf32>
  %1 = "tfl.conv_2d"(%0, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<4x6x6x4xf32>, tensor<4x3x3x4xf32>, none) -> tensor<4x4x4x4xf32>
  %2 = "tfl.builtin"(%1, %block, %zero) {name = "BATCH_TO_SPACE_ND"} : (tensor<4x4x4x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<1x8x8x4xf32>
  return %2 : tensor<1x8x8x4xf32>
}

// -----

// Non-zero crops change the result: left alone.
// CHECK-LABEL: func.func @crops
// CHECK: BATCH_TO_SPACE_ND
func.func @crops(%x: tensor<1x12x12x4xf32>) -> tensor<1x7x7x4xf32> {
  %block = "tfl.const"() {value = dense<2> : tensor<2xi32>} : () -> tensor<2xi32>
  %zero = "tfl.const"() {value = dense<0> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %crop = "tfl.const"() {value = dense<[[0, 1], [0, 1]]> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %n = tfl.no_value : none
  %0 = "tfl.builtin"(%x, %block, %zero) {name = "SPACE_TO_BATCH_ND"} : (tensor<1x12x12x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<4x6x6x4xf32>
  %1 = "tfl.conv_2d"(%0, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<4x6x6x4xf32>, tensor<4x3x3x4xf32>, none) -> tensor<4x4x4x4xf32>
  %2 = "tfl.builtin"(%1, %block, %crop) {name = "BATCH_TO_SPACE_ND"} : (tensor<4x4x4x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<1x7x7x4xf32>
  return %2 : tensor<1x7x7x4xf32>
}

// -----

// Zero-padded SAME dilated conv (TF's lowering of QuantConv2D(dilation_rate=2, padding="same",
// pad_values=0)): paddings [2, 2] per dimension = dilation*(k-1), half before.
// CHECK-LABEL: func.func @same_zero_padded
// CHECK-NOT: SPACE_TO_BATCH_ND
// CHECK: "tfl.conv_2d"(%arg0, {{.*}}dilation_h_factor = 2 : i32, dilation_w_factor = 2 : i32{{.*}}padding = "SAME"{{.*}} -> tensor<1x12x12x4xf32>
// CHECK-NOT: BATCH_TO_SPACE_ND
func.func @same_zero_padded(%x: tensor<1x12x12x4xf32>) -> tensor<1x12x12x4xf32> {
  %block = "tfl.const"() {value = dense<2> : tensor<2xi32>} : () -> tensor<2xi32>
  %pads = "tfl.const"() {value = dense<2> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %zero = "tfl.const"() {value = dense<0> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %n = tfl.no_value : none
  %0 = "tfl.builtin"(%x, %block, %pads) {name = "SPACE_TO_BATCH_ND"} : (tensor<1x12x12x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<4x8x8x4xf32>
  %1 = "tfl.conv_2d"(%0, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<4x8x8x4xf32>, tensor<4x3x3x4xf32>, none) -> tensor<4x6x6x4xf32>
  %2 = "tfl.builtin"(%1, %block, %zero) {name = "BATCH_TO_SPACE_ND"} : (tensor<4x6x6x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<1x12x12x4xf32>
  return %2 : tensor<1x12x12x4xf32>
}

// -----

// Odd extent, dilations (2, 4), SAME: TF pads [2, 3] x [4, 7] to make 13x13 divisible by the
// block and crops the extra [0, 1] x [0, 3] off the end again.
// CHECK-LABEL: func.func @same_odd_extent
// CHECK-NOT: SPACE_TO_BATCH_ND
// CHECK: "tfl.conv_2d"(%arg0, {{.*}}dilation_h_factor = 2 : i32, dilation_w_factor = 4 : i32{{.*}}padding = "SAME"{{.*}} -> tensor<1x13x13x4xf32>
// CHECK-NOT: BATCH_TO_SPACE_ND
func.func @same_odd_extent(%x: tensor<1x13x13x4xf32>) -> tensor<1x13x13x4xf32> {
  %block = "tfl.const"() {value = dense<[2, 4]> : tensor<2xi32>} : () -> tensor<2xi32>
  %pads = "tfl.const"() {value = dense<[[2, 3], [4, 7]]> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %crops = "tfl.const"() {value = dense<[[0, 1], [0, 3]]> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %n = tfl.no_value : none
  %0 = "tfl.builtin"(%x, %block, %pads) {name = "SPACE_TO_BATCH_ND"} : (tensor<1x13x13x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<8x9x6x4xf32>
  %1 = "tfl.conv_2d"(%0, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<8x9x6x4xf32>, tensor<4x3x3x4xf32>, none) -> tensor<8x7x4x4xf32>
  %2 = "tfl.builtin"(%1, %block, %crops) {name = "BATCH_TO_SPACE_ND"} : (tensor<8x7x4x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<1x13x13x4xf32>
  return %2 : tensor<1x13x13x4xf32>
}

// -----

// Odd extent, VALID: padding [0, 1] for divisibility, cropped [0, 1] again.
// CHECK-LABEL: func.func @valid_odd_extent
// CHECK-NOT: SPACE_TO_BATCH_ND
// CHECK: "tfl.conv_2d"(%arg0, {{.*}}dilation_h_factor = 2 : i32, dilation_w_factor = 2 : i32{{.*}}padding = "VALID"{{.*}} -> tensor<1x9x9x4xf32>
func.func @valid_odd_extent(%x: tensor<1x13x13x4xf32>) -> tensor<1x9x9x4xf32> {
  %block = "tfl.const"() {value = dense<2> : tensor<2xi32>} : () -> tensor<2xi32>
  %pads = "tfl.const"() {value = dense<[[0, 1], [0, 1]]> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %n = tfl.no_value : none
  %0 = "tfl.builtin"(%x, %block, %pads) {name = "SPACE_TO_BATCH_ND"} : (tensor<1x13x13x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<4x7x7x4xf32>
  %1 = "tfl.conv_2d"(%0, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<4x7x7x4xf32>, tensor<4x3x3x4xf32>, none) -> tensor<4x5x5x4xf32>
  %2 = "tfl.builtin"(%1, %block, %pads) {name = "BATCH_TO_SPACE_ND"} : (tensor<4x5x5x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<1x9x9x4xf32>
  return %2 : tensor<1x9x9x4xf32>
}

// -----

// Paddings [1, 3]: neither VALID nor SAME (SAME would pad [2, 2]); left alone.
// CHECK-LABEL: func.func @asymmetric_pads
// CHECK: SPACE_TO_BATCH_ND
// CHECK: BATCH_TO_SPACE_ND
func.func @asymmetric_pads(%x: tensor<1x12x12x4xf32>) -> tensor<1x12x12x4xf32> {
  %block = "tfl.const"() {value = dense<2> : tensor<2xi32>} : () -> tensor<2xi32>
  %pads = "tfl.const"() {value = dense<[[1, 3], [2, 2]]> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %zero = "tfl.const"() {value = dense<0> : tensor<2x2xi32>} : () -> tensor<2x2xi32>
  %w = "tfl.const"() {value = dense<1.0> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %n = tfl.no_value : none
  %0 = "tfl.builtin"(%x, %block, %pads) {name = "SPACE_TO_BATCH_ND"} : (tensor<1x12x12x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<4x8x8x4xf32>
  %1 = "tfl.conv_2d"(%0, %w, %n) {padding = "VALID", stride_w = 1 : i32, stride_h = 1 : i32, fused_activation_function = "NONE", dilation_w_factor = 1 : i32, dilation_h_factor = 1 : i32} : (tensor<4x8x8x4xf32>, tensor<4x3x3x4xf32>, none) -> tensor<4x6x6x4xf32>
  %2 = "tfl.builtin"(%1, %block, %zero) {name = "BATCH_TO_SPACE_ND"} : (tensor<4x6x6x4xf32>, tensor<2xi32>, tensor<2x2xi32>) -> tensor<1x12x12x4xf32>
  return %2 : tensor<1x12x12x4xf32>
}
