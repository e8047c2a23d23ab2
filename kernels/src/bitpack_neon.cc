// aarch64 Advanced SIMD row kernels of bitpacking (float32, int8), LceDequantize and
// BMaxPool2d (isa_table.h). The rules are semantics.md's: bit = (x < 0) as an ordered compare
// (NaN and -0.0 give 0, never the IEEE sign bit), int8: bit = (q < zero point).
#include <arm_neon.h>

#include "isa_table.h"

namespace lce_kernels {

namespace {
// Bit weights: lane i of word-quarter k is bit 4k + i (float), byte i is bit i % 8 (int8).
alignas(16) constexpr uint32_t kWeights4[4] = {1u, 2u, 4u, 8u};
alignas(16) constexpr uint8_t kWeights8[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
}  // namespace

void bitpack_row_f32_neon(const float *in, int64_t channels, int32_t *out) {
  const uint32x4_t weights = vld1q_u32(kWeights4);
  const float32x4_t zero = vdupq_n_f32(0.0f);
  const int64_t full = channels / 32;
  for (int64_t w = 0; w < full; ++w) {
    const float *p = in + 32 * w;
    uint32x4_t bits = vdupq_n_u32(0);
    for (int k = 0; k < 8; ++k) {  // x < 0 gives all ones; keep weight << 4k
      const uint32x4_t lt = vcltq_f32(vld1q_f32(p + 4 * k), zero);
      bits = vorrq_u32(bits, vshlq_u32(vandq_u32(lt, weights), vdupq_n_s32(4 * k)));
    }
    out[w] = static_cast<int32_t>(vaddvq_u32(bits));  // disjoint bits: the sum is the OR
  }
  bitpack_row_f32_from(in, channels, full, out);
}

void bitpack_row_s8_neon(const int8_t *in, int64_t channels, int8_t zeroPoint, int32_t *out) {
  const uint8x16_t weights = vld1q_u8(kWeights8);
  const int8x16_t zp = vdupq_n_s8(zeroPoint);
  const int64_t full = channels / 32;
  for (int64_t w = 0; w < full; ++w) {
    const uint8x16_t m0 = vandq_u8(vcltq_s8(vld1q_s8(in + 32 * w), zp), weights);
    const uint8x16_t m1 = vandq_u8(vcltq_s8(vld1q_s8(in + 32 * w + 16), zp), weights);
    uint8x16_t s = vpaddq_u8(m0, m1);  // bytes: m0 pairs, m1 pairs
    s = vpaddq_u8(s, s);
    s = vpaddq_u8(s, s);  // bytes 0..3: bits 0-7, 8-15, 16-23, 24-31
    out[w] = static_cast<int32_t>(vgetq_lane_u32(vreinterpretq_u32_u8(s), 0));
  }
  bitpack_row_s8_from(in, channels, zeroPoint, full, out);
}

void unpack_row_f32_neon(const int32_t *in, int64_t channels, float *out) {
  const uint32x4_t weights = vld1q_u32(kWeights4);
  const float32x4_t plus = vdupq_n_f32(1.0f), minus = vdupq_n_f32(-1.0f);
  const int64_t full = channels / 32;
  for (int64_t w = 0; w < full; ++w) {
    const uint32_t word = static_cast<uint32_t>(in[w]);
    for (int k = 0; k < 8; ++k) {
      const uint32x4_t set = vtstq_u32(vdupq_n_u32(word >> (4 * k)), weights);
      vst1q_f32(out + 32 * w + 4 * k, vbslq_f32(set, minus, plus));
    }
  }
  for (int64_t c = 32 * full; c < channels; ++c)
    out[c] = (static_cast<uint32_t>(in[c / 32]) >> (c % 32)) & 1u ? -1.0f : 1.0f;
}

void unpack_row_s8_neon(const int32_t *in, int64_t channels, int8_t plus, int8_t minus, int8_t *out) {
  const uint8x16_t weights = vld1q_u8(kWeights8);
  const int8x16_t vplus = vdupq_n_s8(plus), vminus = vdupq_n_s8(minus);
  const int64_t full = channels / 32;
  for (int64_t w = 0; w < full; ++w) {
    const uint32_t word = static_cast<uint32_t>(in[w]);
    for (int half = 0; half < 2; ++half) {  // bytes 0..7 of the lanes: bits of byte 2*half, 2*half+1
      const uint8x8_t lo = vdup_n_u8(static_cast<uint8_t>(word >> (16 * half)));
      const uint8x8_t hi = vdup_n_u8(static_cast<uint8_t>(word >> (16 * half + 8)));
      const uint8x16_t set = vtstq_u8(vcombine_u8(lo, hi), weights);
      vst1q_s8(out + 32 * w + 16 * half, vbslq_s8(set, vminus, vplus));
    }
  }
  for (int64_t c = 32 * full; c < channels; ++c)
    out[c] = (static_cast<uint32_t>(in[c / 32]) >> (c % 32)) & 1u ? minus : plus;
}

void and_words_neon(int32_t *dst, const int32_t *src, int64_t words) {
  int64_t k = 0;
  for (; k + 4 <= words; k += 4) vst1q_s32(dst + k, vandq_s32(vld1q_s32(dst + k), vld1q_s32(src + k)));
  for (; k < words; ++k) dst[k] &= src[k];
}

}  // namespace lce_kernels
