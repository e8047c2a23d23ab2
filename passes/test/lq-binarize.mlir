// The converter's whole pipeline, lq-binarize (passes/transforms/Pipelines.cpp), as
// lce_convert.convert_* runs it, on what TensorFlow's converter makes of a larq model: a float
// stem conv, a one-padded binary conv (PADV2 with 1.0) with its BatchNorm (MUL, ADD) and a
// max-pool, then a zero-padded binary conv (SAME) with RELU and BatchNorm. larq's ste_sign
// is SIGN(ADD(SIGN(x), 0.1)).
// RUN: lce-opt %s -lq-binarize | FileCheck %s
// RUN: lce-opt %s -lq-binarize=bitpacked-activations=true | FileCheck %s --check-prefix=BITS
// RUN: lce-opt %s -lq-binarize=lce-compatible=false | FileCheck %s --check-prefix=ZERO
// RUN: lce-opt %s -lq-binarize="bitpacked-activations=true lce-compatible=false" | FileCheck %s --check-prefix=BOTH

// The pipeline is these passes on every function, in this order.
// RUN: lce-opt %s --pass-pipeline="builtin.module(lq-binarize{bitpacked-activations=true})" -o %t.registered
// RUN: lce-opt %s --pass-pipeline="builtin.module(func.func(tfl-fold-filters,tfl-fold-dilated-conv,lq-detect-binarize,lq-fuse-bconv2d,lq-fuse-bconv-affine,lq-fuse-int8,lq-binary-maxpool,lq-fuse-bitpacked-output,lq-bitpack-filters,lq-cancel-dequantize-quantize,canonicalize))" -o %t.listed
// RUN: diff %t.registered %t.listed

// target: arm (the default) and xcore give the same graph without bitpacked activations; other
// values are refused.
// RUN: lce-opt %s -lq-binarize=target=arm | FileCheck %s
// RUN: lce-opt %s -lq-binarize=target=xcore | FileCheck %s
// xcore with bitpacked activations, as LCE 0.16: the max-pool stays float (no lq.BMaxPool2d).
// RUN: lce-opt %s -lq-binarize="bitpacked-activations=true target=xcore" | FileCheck %s --check-prefix=XCORE
// RUN: not lce-opt %s -lq-binarize=target=x86 2>&1 | FileCheck %s --check-prefix=TARGET
// TARGET: lq-binarize: target must be 'arm' or 'xcore', got 'x86'

// Float activations: the stem stays float with its reason, both binary convs become
// float-output Bconv2d with bitpacked filters; the first takes the BatchNorm (alpha * gamma
// as multiplier), the zero-padded one cannot take RELU under LCE 0.16's runtime, so RELU and
// the BatchNorm stay; the max-pool stays float.
// CHECK-LABEL: func.func @main
// CHECK-DAG: %[[F0:.*]] = "tfl.const"() {value = dense<{{\[\[\[\[}}14], [1], [15]]{{.*}}> : tensor<4x3x3x1xi32>}
// CHECK-DAG: %[[M0:.*]] = "tfl.const"() {value = dense<[4.000000e-01, -3.000000e-01, 5.000000e-01, 1.500000e+00]> : tensor<4xf32>}
// CHECK-DAG: %[[B0:.*]] = "tfl.const"() {value = dense<[3.000000e-01, -0.699999988, 1.500000e+00, -2.500000e+00]> : tensor<4xf32>}
// CHECK: "tfl.conv_2d"(%arg0, {{.*}}lq.not_binarized = "input is not binarized"
// CHECK: %[[Q0:.*]] = lq.Quantize %{{.*}} : tensor<1x8x8x4xf32> -> tensor<1x8x8x1xi32>
// CHECK: %[[C0:.*]] = "lq.Bconv2d"(%[[Q0]], %[[F0]], %[[M0]], %[[B0]], %{{.*}}) {channels_in = 4 : i32, {{.*}}fused_activation_function = "NONE", {{.*}}pad_values = 1 : i32, padding = "SAME"{{.*}} -> tensor<1x8x8x4xf32>
// CHECK: %[[P:.*]] = "tfl.max_pool_2d"(%[[C0]])
// CHECK: %[[Q1:.*]] = lq.Quantize %[[P]] : tensor<1x4x4x4xf32> -> tensor<1x4x4x1xi32>
// CHECK: %[[C1:.*]] = "lq.Bconv2d"(%[[Q1]], {{.*}}fused_activation_function = "NONE", {{.*}}pad_values = 0 : i32, padding = "SAME"{{.*}} -> tensor<1x4x4x4xf32>
// CHECK: %[[R:.*]] = "tfl.relu"(%[[C1]])
// CHECK: "tfl.mul"(%[[R]]
// CHECK: "tfl.add"
// CHECK-NOT: tfl.sign
// CHECK-NOT: tfl.padv2
// CHECK-NOT: lq.Dequantize

// Bitpacked activations: the first conv writes bits with exact thresholds (K = 36; channel 1's
// negative multiplier negates its filter), the max-pool runs on bits.
// BITS-LABEL: func.func @main
// BITS-DAG: %[[T:.*]] = "tfl.const"() {value = dense<[18, 16, 19, 17]> : tensor<4xi32>}
// BITS-DAG: %[[F0:.*]] = "tfl.const"() {value = dense<{{\[\[\[\[}}14], [1], [15]], {{\[\[}}14], [12], [3]], {{\[\[}}3], [1], [6]]], {{\[\[\[}}7], [9], [1]]{{.*}}> : tensor<4x3x3x1xi32>}
// BITS: %[[Q0:.*]] = lq.Quantize
// BITS: %[[N:.*]] = tfl.no_value : none
// BITS: %[[C0:.*]] = "lq.Bconv2d"(%[[Q0]], %[[F0]], %[[N]], %[[N]], %[[T]]) {{.*}} -> tensor<1x8x8x1xi32>
// BITS: %[[P:.*]] = "lq.BMaxPool2d"(%[[C0]]) {filter_height = 2 : i32, filter_width = 2 : i32, padding = "VALID", stride_height = 2 : i32, stride_width = 2 : i32} : (tensor<1x8x8x1xi32>) -> tensor<1x4x4x1xi32>
// BITS: %[[C1:.*]] = "lq.Bconv2d"(%[[P]], {{.*}}pad_values = 0 : i32{{.*}} -> tensor<1x4x4x4xf32>
// BITS: "tfl.relu"(%[[C1]])
// BITS-NOT: lq.Quantize
// BITS-NOT: tfl.max_pool_2d

// XCORE-LABEL: func.func @main
// XCORE: %[[C0:.*]] = "lq.Bconv2d"{{.*}} -> tensor<1x8x8x4xf32>
// XCORE: %[[P:.*]] = "tfl.max_pool_2d"(%[[C0]])
// XCORE: lq.Quantize %[[P]]
// XCORE-NOT: lq.BMaxPool2d

// lce-compatible=false: the zero-padded conv takes RELU and the BatchNorm after it
// (semantics.md: RELU clamps the accumulator, then multiplier 0.5 * gamma and the BN bias apply).
// ZERO-LABEL: func.func @main
// ZERO-DAG: %[[M1:.*]] = "tfl.const"() {value = dense<[7.500000e-01, 2.500000e-01, -5.000000e-01, 1.000000e+00]> : tensor<4xf32>}
// ZERO-DAG: %[[B1:.*]] = "tfl.const"() {value = dense<[-5.000000e-01, 2.500000e-01, 1.000000e+00, 0.000000e+00]> : tensor<4xf32>}
// ZERO: "tfl.max_pool_2d"
// ZERO: %[[C1:.*]] = "lq.Bconv2d"(%{{.*}}, %{{.*}}, %[[M1]], %[[B1]], %{{.*}}) {{.*}}fused_activation_function = "RELU", {{.*}}pad_values = 0 : i32, padding = "SAME"{{.*}} -> tensor<1x4x4x4xf32>
// ZERO-NEXT: return %[[C1]]

// Both options: bits into the max-pool, and the zero-padded conv with everything fused.
// BOTH-LABEL: func.func @main
// BOTH: "lq.Bconv2d"{{.*}} -> tensor<1x8x8x1xi32>
// BOTH: "lq.BMaxPool2d"
// BOTH: %[[C1:.*]] = "lq.Bconv2d"{{.*}}fused_activation_function = "RELU"{{.*}} -> tensor<1x4x4x4xf32>
// BOTH-NEXT: return %[[C1]]
func.func @main(%x: tensor<1x8x8x3xf32>) -> tensor<1x4x4x4xf32> {
  %ws = "tfl.const"() {value = dense<[[[[0.48, 2.46, -0.25]]], [[[-0.56, -1.17, -1.34]]], [[[0.52, 0.85, 0.01]]], [[[0.33, 0.12, 0.14]]]]> : tensor<4x1x1x3xf32>} : () -> tensor<4x1x1x3xf32>
  %bs = "tfl.const"() {value = dense<[0.1, -0.2, 0.3, 0.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %stem = "tfl.conv_2d"(%x, %ws, %bs) {dilation_h_factor = 1 : i32, dilation_w_factor = 1 : i32, fused_activation_function = "NONE", padding = "VALID", stride_h = 1 : i32, stride_w = 1 : i32} : (tensor<1x8x8x3xf32>, tensor<4x1x1x3xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %c = "tfl.const"() {value = dense<1.000000e-01> : tensor<f32>} : () -> tensor<f32>
  %s0 = "tfl.sign"(%stem) : (tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32>
  %a0 = "tfl.add"(%s0, %c) {fused_activation_function = "NONE"} : (tensor<1x8x8x4xf32>, tensor<f32>) -> tensor<1x8x8x4xf32>
  %b0 = "tfl.sign"(%a0) : (tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32>
  %pads = "tfl.const"() {value = dense<[[0, 0], [1, 1], [1, 1], [0, 0]]> : tensor<4x2xi32>} : () -> tensor<4x2xi32>
  %one = "tfl.const"() {value = dense<1.000000e+00> : tensor<f32>} : () -> tensor<f32>
  %p0 = "tfl.padv2"(%b0, %pads, %one) : (tensor<1x8x8x4xf32>, tensor<4x2xi32>, tensor<f32>) -> tensor<1x10x10x4xf32>
  %w0 = "tfl.const"() {value = dense<[[[[0.5, -0.5, -0.5, -0.5], [-0.5, 0.5, 0.5, 0.5], [-0.5, -0.5, -0.5, -0.5]], [[0.5, -0.5, -0.5, -0.5], [0.5, 0.5, -0.5, -0.5], [-0.5, -0.5, 0.5, 0.5]], [[-0.5, -0.5, 0.5, 0.5], [-0.5, 0.5, 0.5, 0.5], [0.5, -0.5, -0.5, 0.5]]], [[[0.25, 0.25, 0.25, -0.25], [0.25, -0.25, -0.25, 0.25], [0.25, -0.25, -0.25, -0.25]], [[-0.25, 0.25, 0.25, 0.25], [-0.25, -0.25, -0.25, 0.25], [-0.25, -0.25, -0.25, 0.25]], [[0.25, -0.25, -0.25, -0.25], [0.25, 0.25, 0.25, 0.25], [0.25, -0.25, 0.25, 0.25]]], [[[-1.0, -1.0, -1.0, 1.0], [-1.0, 1.0, 1.0, -1.0], [-1.0, 1.0, 1.0, 1.0]], [[-1.0, 1.0, -1.0, 1.0], [1.0, -1.0, 1.0, 1.0], [-1.0, 1.0, -1.0, -1.0]], [[1.0, 1.0, 1.0, -1.0], [1.0, -1.0, -1.0, -1.0], [-1.0, 1.0, 1.0, -1.0]]], [[[0.75, 0.75, -0.75, -0.75], [0.75, 0.75, -0.75, -0.75], [-0.75, 0.75, 0.75, -0.75]], [[0.75, -0.75, -0.75, 0.75], [-0.75, 0.75, -0.75, 0.75], [0.75, 0.75, -0.75, -0.75]], [[-0.75, 0.75, 0.75, -0.75], [0.75, 0.75, 0.75, 0.75], [0.75, 0.75, 0.75, 0.75]]]]> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %z = "tfl.const"() {value = dense<0.000000e+00> : tensor<4xf32>} : () -> tensor<4xf32>
  %conv0 = "tfl.conv_2d"(%p0, %w0, %z) {dilation_h_factor = 1 : i32, dilation_w_factor = 1 : i32, fused_activation_function = "NONE", padding = "VALID", stride_h = 1 : i32, stride_w = 1 : i32} : (tensor<1x10x10x4xf32>, tensor<4x3x3x4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %g0 = "tfl.const"() {value = dense<[0.8, -1.2, 0.5, 2.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %m0 = "tfl.mul"(%conv0, %g0) {fused_activation_function = "NONE"} : (tensor<1x8x8x4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %h0 = "tfl.const"() {value = dense<[0.3, -0.7, 1.5, -2.5]> : tensor<4xf32>} : () -> tensor<4xf32>
  %bn0 = "tfl.add"(%m0, %h0) {fused_activation_function = "NONE"} : (tensor<1x8x8x4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %mp = "tfl.max_pool_2d"(%bn0) {filter_height = 2 : i32, filter_width = 2 : i32, fused_activation_function = "NONE", padding = "VALID", stride_h = 2 : i32, stride_w = 2 : i32} : (tensor<1x8x8x4xf32>) -> tensor<1x4x4x4xf32>
  %s1 = "tfl.sign"(%mp) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %a1 = "tfl.add"(%s1, %c) {fused_activation_function = "NONE"} : (tensor<1x4x4x4xf32>, tensor<f32>) -> tensor<1x4x4x4xf32>
  %b1 = "tfl.sign"(%a1) : (tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32>
  %w1 = "tfl.const"() {value = dense<[[[[0.5, 0.5, -0.5, 0.5], [0.5, -0.5, 0.5, -0.5], [-0.5, -0.5, -0.5, -0.5]], [[0.5, -0.5, 0.5, 0.5], [-0.5, -0.5, -0.5, -0.5], [-0.5, -0.5, -0.5, 0.5]], [[0.5, 0.5, 0.5, 0.5], [-0.5, -0.5, 0.5, 0.5], [0.5, 0.5, 0.5, -0.5]]], [[[-0.5, 0.5, 0.5, -0.5], [-0.5, 0.5, -0.5, 0.5], [0.5, 0.5, -0.5, 0.5]], [[-0.5, 0.5, 0.5, -0.5], [-0.5, -0.5, 0.5, -0.5], [0.5, -0.5, 0.5, 0.5]], [[0.5, 0.5, -0.5, -0.5], [0.5, -0.5, 0.5, 0.5], [-0.5, -0.5, -0.5, 0.5]]], [[[0.5, -0.5, 0.5, -0.5], [-0.5, 0.5, -0.5, -0.5], [-0.5, -0.5, 0.5, -0.5]], [[-0.5, -0.5, -0.5, -0.5], [-0.5, 0.5, -0.5, 0.5], [0.5, 0.5, 0.5, 0.5]], [[-0.5, 0.5, -0.5, 0.5], [0.5, 0.5, -0.5, 0.5], [0.5, 0.5, 0.5, -0.5]]], [[[0.5, -0.5, 0.5, -0.5], [-0.5, -0.5, -0.5, 0.5], [-0.5, -0.5, 0.5, 0.5]], [[-0.5, 0.5, 0.5, -0.5], [0.5, -0.5, 0.5, -0.5], [-0.5, 0.5, 0.5, -0.5]], [[-0.5, -0.5, -0.5, 0.5], [0.5, -0.5, 0.5, 0.5], [-0.5, -0.5, -0.5, -0.5]]]]> : tensor<4x3x3x4xf32>} : () -> tensor<4x3x3x4xf32>
  %conv1 = "tfl.conv_2d"(%b1, %w1, %z) {dilation_h_factor = 1 : i32, dilation_w_factor = 1 : i32, fused_activation_function = "RELU", padding = "SAME", stride_h = 1 : i32, stride_w = 1 : i32} : (tensor<1x4x4x4xf32>, tensor<4x3x3x4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %g1 = "tfl.const"() {value = dense<[1.5, 0.5, -1.0, 2.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %m1 = "tfl.mul"(%conv1, %g1) {fused_activation_function = "NONE"} : (tensor<1x4x4x4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  %h1 = "tfl.const"() {value = dense<[-0.5, 0.25, 1.0, 0.0]> : tensor<4xf32>} : () -> tensor<4xf32>
  %bn1 = "tfl.add"(%m1, %h1) {fused_activation_function = "NONE"} : (tensor<1x4x4x4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  return %bn1 : tensor<1x4x4x4xf32>
}
