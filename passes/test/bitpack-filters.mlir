// RUN: lce-opt %s -lq-bitpack-filters | FileCheck %s

// 34 channels: word 0 holds channels 0..31, word 1 channels 32..33 (bits 0, 1), tail bits 0.
// Channel c is -1 -> bit c % 32 set. Filter: channels 0, 5, 31 and 33 negative.
// CHECK-LABEL: func.func @pack
// CHECK: %[[F:.*]] = "tfl.const"() {value = dense<{{\[\[\[\[}}-2147483615, 2]]]]> : tensor<1x1x1x2xi32>}
// CHECK: "lq.Bconv2d"(%arg0, %[[F]]
func.func @pack(%x: tensor<1x1x1x2xi32>) -> tensor<1x1x1x1xf32> {
  %w = "tfl.const"() {value = dense<[[[[-1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
                                        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0,
                                        1.0, -1.0]]]]> : tensor<1x1x1x34xf32>} : () -> tensor<1x1x1x34xf32>
  %n = tfl.no_value : none
  %0 = "lq.Bconv2d"(%x, %w, %n, %n, %n) {channels_in = 34 : i32, padding = "VALID"} : (tensor<1x1x1x2xi32>, tensor<1x1x1x34xf32>, none, none, none) -> tensor<1x1x1x1xf32>
  return %0 : tensor<1x1x1x1xf32>
}
