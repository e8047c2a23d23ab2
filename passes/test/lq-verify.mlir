// RUN: lce-opt %s -split-input-file -verify-diagnostics
// The lq verifiers enforce the contracts of semantics.md.

func.func @quantize_wrong_packing(%x: tensor<1x40xf32>) -> tensor<1x1xi32> {
  // expected-error @+1 {{packed dim must be ceil(40/32) = 2, got 1}}
  %0 = lq.Quantize %x : tensor<1x40xf32> -> tensor<1x1xi32>
  return %0 : tensor<1x1xi32>
}

// -----

func.func @quantize_bad_element(%x: tensor<1x32xi32>) -> tensor<1x1xi32> {
  // expected-error @+1 {{cannot binarize elements of type 'i32'}}
  %0 = lq.Quantize %x : tensor<1x32xi32> -> tensor<1x1xi32>
  return %0 : tensor<1x1xi32>
}

// -----

func.func @dequantize_dynamic_channels(%x: tensor<1x2xi32>) -> tensor<1x?xf32> {
  // expected-error @+1 {{result needs a static last (channel) dimension}}
  %0 = lq.Dequantize %x : tensor<1x2xi32> -> tensor<1x?xf32>
  return %0 : tensor<1x?xf32>
}

// -----

func.func @bconv_threshold_with_float_output(%x: tensor<1x8x8x2xi32>, %f: tensor<64x3x3x2xi32>, %t: tensor<64xi32>) -> tensor<1x8x8x64xf32> {
  %none = "tfl.no_value"() : () -> none
  // expected-error @+1 {{output_threshold is only for bitpacked (i32) output}}
  %0 = "lq.Bconv2d"(%x, %f, %none, %none, %t) {channels_in = 40 : i32, padding = "SAME"}
      : (tensor<1x8x8x2xi32>, tensor<64x3x3x2xi32>, none, none, tensor<64xi32>) -> tensor<1x8x8x64xf32>
  return %0 : tensor<1x8x8x64xf32>
}

// -----

func.func @bconv_bitpacked_needs_threshold(%x: tensor<1x8x8x2xi32>, %f: tensor<64x3x3x2xi32>) -> tensor<1x8x8x2xi32> {
  %none = "tfl.no_value"() : () -> none
  // expected-error @+1 {{bitpacked output requires output_threshold}}
  %0 = "lq.Bconv2d"(%x, %f, %none, %none, %none) {channels_in = 40 : i32, padding = "SAME"}
      : (tensor<1x8x8x2xi32>, tensor<64x3x3x2xi32>, none, none, none) -> tensor<1x8x8x2xi32>
  return %0 : tensor<1x8x8x2xi32>
}

// -----

func.func @bconv_input_depth(%x: tensor<1x8x8x3xi32>, %f: tensor<64x3x3x2xi32>) -> tensor<1x8x8x64xf32> {
  %none = "tfl.no_value"() : () -> none
  // expected-error @+1 {{input depth must be ceil(channels_in/32) = 2, got 3}}
  %0 = "lq.Bconv2d"(%x, %f, %none, %none, %none) {channels_in = 40 : i32, padding = "SAME"}
      : (tensor<1x8x8x3xi32>, tensor<64x3x3x2xi32>, none, none, none) -> tensor<1x8x8x64xf32>
  return %0 : tensor<1x8x8x64xf32>
}

// -----

// 80 channels in 2 groups of 40: not a multiple of 32 per group, which the packed layout
// cannot express.
func.func @bconv_group_not_multiple_of_32(%x: tensor<1x8x8x3xi32>, %f: tensor<64x3x3x40xf32>) -> tensor<1x8x8x64xf32> {
  %none = "tfl.no_value"() : () -> none
  // expected-error @+1 {{grouped bconv needs channels per group to be a multiple of 32, got 80 channels in 2 groups}}
  %0 = "lq.Bconv2d"(%x, %f, %none, %none, %none) {channels_in = 80 : i32, padding = "SAME"}
      : (tensor<1x8x8x3xi32>, tensor<64x3x3x40xf32>, none, none, none) -> tensor<1x8x8x64xf32>
  return %0 : tensor<1x8x8x64xf32>
}

// -----

func.func @bconv_bad_attrs(%x: tensor<1x8x8x2xi32>, %f: tensor<64x3x3x2xi32>) -> tensor<1x8x8x64xf32> {
  %none = "tfl.no_value"() : () -> none
  // expected-error @+1 {{pad_values must be 0 or 1}}
  %0 = "lq.Bconv2d"(%x, %f, %none, %none, %none) {channels_in = 40 : i32, padding = "SAME", pad_values = 2 : i32}
      : (tensor<1x8x8x2xi32>, tensor<64x3x3x2xi32>, none, none, none) -> tensor<1x8x8x64xf32>
  return %0 : tensor<1x8x8x64xf32>
}

// -----

func.func @bconv_bad_activation(%x: tensor<1x8x8x2xi32>, %f: tensor<64x3x3x2xi32>) -> tensor<1x8x8x64xf32> {
  %none = "tfl.no_value"() : () -> none
  // expected-error @+1 {{unsupported fused_activation_function TANH}}
  %0 = "lq.Bconv2d"(%x, %f, %none, %none, %none) {channels_in = 40 : i32, padding = "SAME", fused_activation_function = "TANH"}
      : (tensor<1x8x8x2xi32>, tensor<64x3x3x2xi32>, none, none, none) -> tensor<1x8x8x64xf32>
  return %0 : tensor<1x8x8x64xf32>
}

// -----

func.func @bmaxpool_changes_depth(%x: tensor<1x8x8x3xi32>) -> tensor<1x4x4x2xi32> {
  // expected-error @+1 {{pooling keeps the packed depth}}
  %0 = "lq.BMaxPool2d"(%x) {padding = "VALID", stride_width = 2 : i32, stride_height = 2 : i32,
                             filter_width = 2 : i32, filter_height = 2 : i32}
      : (tensor<1x8x8x3xi32>) -> tensor<1x4x4x2xi32>
  return %0 : tensor<1x4x4x2xi32>
}
