// RUN: lce-opt %s -lq-cancel-dequantize-quantize -split-input-file | FileCheck %s

// Float32 intermediates always round-trip: the pair disappears.
// CHECK-LABEL: func.func @float_pair
// CHECK-NEXT: return %arg0
func.func @float_pair(%x: tensor<1x4x4x2xi32>) -> tensor<1x4x4x2xi32> {
  %0 = lq.Dequantize %x : tensor<1x4x4x2xi32> -> tensor<1x4x4x40xf32>
  %1 = lq.Quantize %0 : tensor<1x4x4x40xf32> -> tensor<1x4x4x2xi32>
  return %1 : tensor<1x4x4x2xi32>
}

// -----

// int8 with scale 1/64: +1 -> zp+64, -1 -> zp-64, on both sides of the zero point: cancelled.
// CHECK-LABEL: func.func @int8_pair_exact
// CHECK-NEXT: return %arg0
func.func @int8_pair_exact(%x: tensor<1x2xi32>) -> tensor<1x2xi32> {
  %0 = lq.Dequantize %x : tensor<1x2xi32> -> tensor<1x40x!quant.uniform<i8:f32, 0.015625:3>>
  %1 = lq.Quantize %0 : tensor<1x40x!quant.uniform<i8:f32, 0.015625:3>> -> tensor<1x2xi32>
  return %1 : tensor<1x2xi32>
}

// -----

// int8 with scale 4: round(1/4) = 0, so -1 encodes as the zero point and would come back as +1.
// CHECK-LABEL: func.func @int8_pair_lossy
// CHECK: lq.Dequantize
// CHECK: lq.Quantize
func.func @int8_pair_lossy(%x: tensor<1x2xi32>) -> tensor<1x2xi32> {
  %0 = lq.Dequantize %x : tensor<1x2xi32> -> tensor<1x40x!quant.uniform<i8:f32, 4.0:0>>
  %1 = lq.Quantize %0 : tensor<1x40x!quant.uniform<i8:f32, 4.0:0>> -> tensor<1x2xi32>
  return %1 : tensor<1x2xi32>
}

// -----

// int8 with zero point -128: -1 saturates onto the zero point. Kept.
// CHECK-LABEL: func.func @int8_pair_saturating
// CHECK: lq.Dequantize
func.func @int8_pair_saturating(%x: tensor<1x2xi32>) -> tensor<1x2xi32> {
  %0 = lq.Dequantize %x : tensor<1x2xi32> -> tensor<1x40x!quant.uniform<i8:f32, 0.015625:-128>>
  %1 = lq.Quantize %0 : tensor<1x40x!quant.uniform<i8:f32, 0.015625:-128>> -> tensor<1x2xi32>
  return %1 : tensor<1x2xi32>
}

// -----

// A Dequantize with other users stays for them.
// CHECK-LABEL: func.func @shared_dequantize
// CHECK: %[[D:.*]] = lq.Dequantize
// CHECK-NEXT: return %arg0, %[[D]]
func.func @shared_dequantize(%x: tensor<1x2xi32>) -> (tensor<1x2xi32>, tensor<1x40xf32>) {
  %0 = lq.Dequantize %x : tensor<1x2xi32> -> tensor<1x40xf32>
  %1 = lq.Quantize %0 : tensor<1x40xf32> -> tensor<1x2xi32>
  return %1, %0 : tensor<1x2xi32>, tensor<1x40xf32>
}
