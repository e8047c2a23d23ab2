// RUN: lce-opt %s -lq-fuse-int8 -split-input-file | FileCheck %s
// RUN: lce-opt %s -lq-fuse-int8=allow-zero-padding=true -split-input-file | FileCheck %s --check-prefix=ZERO

// Quantize of an int8 DEQUANTIZE binarizes the int8 tensor directly (bit = q < zero point).
// CHECK-LABEL: func.func @quantize_int8_input
// CHECK-NEXT: %[[Q:.*]] = lq.Quantize %arg0 : tensor<1x4x4x40x!quant.uniform<i8:f32, 2.000000e-02:-1>> -> tensor<1x4x4x2xi32>
// CHECK-NEXT: return %[[Q]]
func.func @quantize_int8_input(%x: tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-1>>) -> tensor<1x4x4x2xi32> {
  %0 = "tfl.dequantize"(%x) : (tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-1>>) -> tensor<1x4x4x40xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x40xf32> -> tensor<1x4x4x2xi32>
  return %1 : tensor<1x4x4x2xi32>
}

// -----

// The DEQUANTIZE stays for its other (float) users.
// CHECK-LABEL: func.func @dequantize_used_twice
// CHECK: %[[D:.*]] = "tfl.dequantize"(%arg0)
// CHECK: %[[Q:.*]] = lq.Quantize %arg0
// CHECK: return %[[Q]], %[[D]]
func.func @dequantize_used_twice(%x: tensor<1x40x!quant.uniform<i8:f32, 0.02:-1>>) -> (tensor<1x2xi32>, tensor<1x40xf32>) {
  %0 = "tfl.dequantize"(%x) : (tensor<1x40x!quant.uniform<i8:f32, 0.02:-1>>) -> tensor<1x40xf32>
  %1 = lq.Quantize %0 : tensor<1x40xf32> -> tensor<1x2xi32>
  return %1, %0 : tensor<1x2xi32>, tensor<1x40xf32>
}

// -----

// Per-channel int8 has a zero point per channel, Quantize one per tensor: left alone.
// CHECK-LABEL: func.func @per_channel_input
// CHECK: "tfl.dequantize"
// CHECK: lq.Quantize %{{.*}} : tensor<1x2xf32>
func.func @per_channel_input(%x: tensor<1x2x!quant.uniform<i8:f32:1, {0.5:1, 0.25:-2}>>) -> tensor<1x1xi32> {
  %0 = "tfl.dequantize"(%x) : (tensor<1x2x!quant.uniform<i8:f32:1, {0.5:1, 0.25:-2}>>) -> tensor<1x2xf32>
  %1 = lq.Quantize %0 : tensor<1x2xf32> -> tensor<1x1xi32>
  return %1 : tensor<1x1xi32>
}

// -----

// An int8 QUANTIZE of a float Bconv2d becomes the Bconv2d's int8 output.
// CHECK-LABEL: func.func @bconv_int8_output
// CHECK: %[[B:.*]] = "lq.Bconv2d"(%arg0, {{.*}}) {{.*}} -> tensor<1x4x4x8x!quant.uniform<i8:f32, 5.000000e-02:3>>
// CHECK-NOT: tfl.quantize
// CHECK: return %[[B]]
func.func @bconv_int8_output(%x: tensor<1x4x4x1xi32>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>> {
  %w = "tfl.const"() {value = dense<1> : tensor<8x1x1x1xi32>} : () -> tensor<8x1x1x1xi32>
  %m = "tfl.const"() {value = dense<0.5> : tensor<8xf32>} : () -> tensor<8xf32>
  %b = "tfl.const"() {value = dense<0.25> : tensor<8xf32>} : () -> tensor<8xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %m, %b, %n) {channels_in = 20 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<8x1x1x1xi32>, tensor<8xf32>, tensor<8xf32>, none) -> tensor<1x4x4x8xf32>
  %1 = "tfl.quantize"(%0) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
  return %1 : tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
}

// -----

// A float Bconv2d with another user keeps its float output.
// CHECK-LABEL: func.func @bconv_used_twice
// CHECK: "lq.Bconv2d"{{.*}} -> tensor<1x4x4x8xf32>
// CHECK: "tfl.quantize"
func.func @bconv_used_twice(%x: tensor<1x4x4x1xi32>) -> (tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>, tensor<1x4x4x8xf32>) {
  %w = "tfl.const"() {value = dense<1> : tensor<8x1x1x1xi32>} : () -> tensor<8x1x1x1xi32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %n, %n, %n) {channels_in = 20 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<8x1x1x1xi32>, none, none, none) -> tensor<1x4x4x8xf32>
  %1 = "tfl.quantize"(%0) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
  return %1, %0 : tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>, tensor<1x4x4x8xf32>
}

// -----

// Zero padding: LCE 0.16's runtime corrects it for float output only, so the int8 output is
// fused only with allow-zero-padding.
// CHECK-LABEL: func.func @bconv_zero_padding
// CHECK: "lq.Bconv2d"{{.*}} -> tensor<1x4x4x8xf32>
// CHECK: "tfl.quantize"
// ZERO-LABEL: func.func @bconv_zero_padding
// ZERO: "lq.Bconv2d"{{.*}} -> tensor<1x4x4x8x!quant.uniform<i8:f32, 5.000000e-02:3>>
// ZERO-NOT: tfl.quantize
func.func @bconv_zero_padding(%x: tensor<1x4x4x1xi32>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>> {
  %w = "tfl.const"() {value = dense<1> : tensor<8x3x3x1xi32>} : () -> tensor<8x3x3x1xi32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %n, %n, %n) {channels_in = 20 : i32, padding = "SAME", pad_values = 0 : i32} : (tensor<1x4x4x1xi32>, tensor<8x3x3x1xi32>, none, none, none) -> tensor<1x4x4x8xf32>
  %1 = "tfl.quantize"(%0) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
  return %1 : tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
}

// -----

// A uint8 QUANTIZE is not int8 output: left alone.
// CHECK-LABEL: func.func @bconv_uint8
// ZERO-LABEL: func.func @bconv_uint8
// CHECK: "tfl.quantize"
func.func @bconv_uint8(%x: tensor<1x4x4x1xi32>) -> tensor<1x4x4x8x!quant.uniform<u8:f32, 0.05:128>> {
  %w = "tfl.const"() {value = dense<1> : tensor<8x1x1x1xi32>} : () -> tensor<8x1x1x1xi32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %n, %n, %n) {channels_in = 20 : i32, padding = "VALID"} : (tensor<1x4x4x1xi32>, tensor<8x1x1x1xi32>, none, none, none) -> tensor<1x4x4x8xf32>
  %1 = "tfl.quantize"(%0) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!quant.uniform<u8:f32, 0.05:128>>
  return %1 : tensor<1x4x4x8x!quant.uniform<u8:f32, 0.05:128>>
}

// -----

// An int8 QUANTIZE of a float Dequantize becomes an int8 Dequantize.
// CHECK-LABEL: func.func @dequantize_int8_output
// CHECK-NEXT: %[[D:.*]] = lq.Dequantize %arg0 : tensor<1x2xi32> -> tensor<1x40x!quant.uniform<i8:f32, 1.000000e-01:-5>>
// CHECK-NEXT: return %[[D]]
func.func @dequantize_int8_output(%x: tensor<1x2xi32>) -> tensor<1x40x!quant.uniform<i8:f32, 0.1:-5>> {
  %0 = lq.Dequantize %x : tensor<1x2xi32> -> tensor<1x40xf32>
  %1 = "tfl.quantize"(%0) : (tensor<1x40xf32>) -> tensor<1x40x!quant.uniform<i8:f32, 0.1:-5>>
  return %1 : tensor<1x40x!quant.uniform<i8:f32, 0.1:-5>>
}
