// lq-fuse-quantized (passes/transforms/Pipelines.cpp): what the converter runs after
// TensorFlow's post-training quantizer (experimental_default_int8_range), which leaves
// DEQUANTIZE/QUANTIZE around the binary ops.
// RUN: lce-opt %s -lq-fuse-quantized | FileCheck %s
// RUN: lce-opt %s -lq-fuse-quantized=lce-compatible=false | FileCheck %s --check-prefix=ZERO
// RUN: lce-opt %s --pass-pipeline="builtin.module(lq-fuse-quantized{lce-compatible=false})" -o %t.registered
// RUN: lce-opt %s --pass-pipeline="builtin.module(func.func(lq-fuse-int8{allow-zero-padding=true},lq-cancel-dequantize-quantize,canonicalize))" -o %t.listed
// RUN: diff %t.registered %t.listed

// The binarizer reads int8 directly; the one-padded conv writes int8, the zero-padded one only
// with lce-compatible=false (LCE 0.16's runtime does not correct zero padding there).
// CHECK-LABEL: func.func @main
// CHECK: %[[Q:.*]] = lq.Quantize %arg0 : tensor<1x4x4x40x!quant.uniform<i8:f32, 2.000000e-02:-1>> -> tensor<1x4x4x2xi32>
// CHECK: %[[C0:.*]] = "lq.Bconv2d"(%[[Q]], {{.*}}pad_values = 1 : i32{{.*}} -> tensor<1x4x4x8x!quant.uniform<i8:f32, 5.000000e-02:3>>
// CHECK: "lq.Bconv2d"({{.*}}pad_values = 0 : i32{{.*}} -> tensor<1x4x4x8xf32>
// CHECK: "tfl.quantize"
// CHECK-NOT: tfl.dequantize
// ZERO-LABEL: func.func @main
// ZERO: lq.Quantize %arg0
// ZERO: "lq.Bconv2d"({{.*}}pad_values = 1 : i32{{.*}} -> tensor<1x4x4x8x!quant.uniform<i8:f32, 5.000000e-02:3>>
// ZERO: "lq.Bconv2d"({{.*}}pad_values = 0 : i32{{.*}} -> tensor<1x4x4x8x!quant.uniform<i8:f32, 5.000000e-02:3>>
// ZERO-NOT: tfl.quantize
// ZERO-NOT: tfl.dequantize
func.func @main(%x: tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-1>>) -> (tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>, tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>) {
  %d = "tfl.dequantize"(%x) : (tensor<1x4x4x40x!quant.uniform<i8:f32, 0.02:-1>>) -> tensor<1x4x4x40xf32>
  %q = lq.Quantize %d : tensor<1x4x4x40xf32> -> tensor<1x4x4x2xi32>
  %w = "tfl.const"() {value = dense<5> : tensor<8x3x3x2xi32>} : () -> tensor<8x3x3x2xi32>
  %m = "tfl.const"() {value = dense<0.5> : tensor<8xf32>} : () -> tensor<8xf32>
  %b = "tfl.const"() {value = dense<0.25> : tensor<8xf32>} : () -> tensor<8xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%q, %w, %m, %b, %n) {channels_in = 40 : i32, padding = "SAME", pad_values = 1 : i32} : (tensor<1x4x4x2xi32>, tensor<8x3x3x2xi32>, tensor<8xf32>, tensor<8xf32>, none) -> tensor<1x4x4x8xf32>
  %1 = "tfl.quantize"(%0) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
  %2 = "lq.Bconv2d"(%q, %w, %m, %b, %n) {channels_in = 40 : i32, padding = "SAME", pad_values = 0 : i32} : (tensor<1x4x4x2xi32>, tensor<8x3x3x2xi32>, tensor<8xf32>, tensor<8xf32>, none) -> tensor<1x4x4x8xf32>
  %3 = "tfl.quantize"(%2) : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
  return %1, %3 : tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>, tensor<1x4x4x8x!quant.uniform<i8:f32, 0.05:3>>
}
