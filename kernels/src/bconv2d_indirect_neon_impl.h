// The aarch64 Advanced SIMD (NEON) Bconv2d microkernel: 4 output pixels x 8 output channels,
// 128 bits of depth per step. Included by bconv2d_indirect_neon.cc ("neon") and
// bconv2d_indirect_neon_dotprod.cc ("neon_dotprod", built with +dotprod); they differ only in
// how the byte counts are reduced (the Reduce policy).
//
// Counting scheme (chosen by instructions per binary MAC; kernels/README.md has the counts):
// for one pixel and 8 channels, a 128-bit step is 8 EOR + 8 CNT (byte popcounts), then the 8
// count vectors are summed pairwise down to one value per channel:
//   neon:          3 levels of ADDP (7) + 1 UADALP into 16-bit lanes (8 channels per register),
//                  flushed to 32 bits every 511 steps (511 * 128 < 2^16), so any depth is exact;
//   neon_dotprod:  2 levels of ADDP (6) + 2 UDOT with a vector of ones into 32-bit lanes.
// Both are 24 vector instructions per 1,024 binary MACs, plus 1 input load per pixel and step
// and 8 filter vectors (2 four-register loads) per step shared by the 4 pixels. A byte-LUT
// (TBL) scheme as on AVX2 needs 2 TBL + 2 ADD per 128 MACs and more loads: CNT makes XOR +
// popcount cheaper here.
//
// Depth schedule: a tap's words32 = 4 * full + r. Each tap has `full` 128-bit steps (one load
// per pixel); the r tail words are gathered into extra steps: two taps per step when r <= 2
// (tap t in the low 64 bits, tap t + 1 in the high 64), one tap per step when r == 3. The
// filter is packed in the same order, zero where the step has no word.
#ifndef LCE_KERNELS_BCONV2D_INDIRECT_NEON_IMPL_H
#define LCE_KERNELS_BCONV2D_INDIRECT_NEON_IMPL_H

#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
namespace {

constexpr int kNeonPixels = 4;
constexpr int kStepWords = 4 * kBlock;  // one step of one block: [8 channels][4 words]

struct NeonSchedule {
  int64_t full, tailSteps;
  int r;
  int64_t steps;  // per block: taps * full + tailSteps
};

inline NeonSchedule neonSchedule(int64_t taps, int64_t words32) {
  NeonSchedule s;
  s.full = words32 / 4, s.r = static_cast<int>(words32 % 4);
  s.tailSteps = s.r == 0 ? 0 : s.r <= 2 ? (taps + 1) / 2 : taps;
  s.steps = taps * s.full + s.tailSteps;
  return s;
}

// Filter layout: [groups][blocks of 8][steps][8 channels][4 words] uint32 (neonSchedule's steps).
inline void packNeonFilter(const Bconv2dPlan &plan, PackedFilter &out) {
  const Bconv2dShape &s = plan.shape;
  const int64_t taps = plan.taps, words = s.wordsPerGroup, outPerGroup = plan.outPerGroup;
  const NeonSchedule sch = neonSchedule(taps, words);
  const int64_t blocks = (outPerGroup + kBlock - 1) / kBlock, blockWords = sch.steps * kStepWords;
  out.bytes.assign(s.groups * blocks * blockWords * sizeof(uint32_t), 0);
  auto *packed = reinterpret_cast<uint32_t *>(out.bytes.data());
  for (int64_t c = 0; c < s.channelsOut; ++c) {
    const int64_t g = c / outPerGroup, b = (c % outPerGroup) / kBlock, lane = (c % outPerGroup) % kBlock;
    uint32_t *dst = packed + (g * blocks + b) * blockWords + lane * 4;
    for (int64_t t = 0; t < taps; ++t) {
      const auto *w = reinterpret_cast<const uint32_t *>(plan.filter.data()) + (c * taps + t) * words;
      for (int64_t k = 0; k < 4 * sch.full; ++k) dst[(t * sch.full + k / 4) * kStepWords + k % 4] = w[k];
      for (int i = 0; i < sch.r; ++i) {
        const int64_t step = taps * sch.full + (sch.r <= 2 ? t / 2 : t);
        const int64_t slot = sch.r <= 2 ? 2 * (t % 2) + i : i;
        dst[step * kStepWords + slot] = w[4 * sch.full + i];
      }
    }
  }
}

// neon: 16-bit lanes, one register per pixel (lane j = channel j).
struct NeonPairwise {
  static constexpr int64_t kFlushSteps = 511;
  uint16x8_t a[kNeonPixels];
  void zero() {
    for (auto &v : a) v = vdupq_n_u16(0);
  }
  void add(int i, const uint8x16_t *c) {
    const uint8x16_t t0 = vpaddq_u8(vpaddq_u8(c[0], c[1]), vpaddq_u8(c[2], c[3]));
    const uint8x16_t t1 = vpaddq_u8(vpaddq_u8(c[4], c[5]), vpaddq_u8(c[6], c[7]));
    a[i] = vpadalq_u8(a[i], vpaddq_u8(t0, t1));
  }
  void flush(int32_t *acc) {
    for (int i = 0; i < kNeonPixels; ++i) {
      int32_t *p = acc + i * kBlock;
      vst1q_s32(p, vaddq_s32(vld1q_s32(p), vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(a[i])))));
      vst1q_s32(p + 4, vaddq_s32(vld1q_s32(p + 4), vreinterpretq_s32_u32(vmovl_high_u16(a[i]))));
    }
    zero();
  }
};

#if defined(__ARM_FEATURE_DOTPROD)
// neon_dotprod: 32-bit lanes, two registers per pixel (channels 0-3, 4-7); no flush needed
// (K < 2^31).
struct NeonDot {
  static constexpr int64_t kFlushSteps = 0;
  uint32x4_t a[kNeonPixels][2];
  uint8x16_t ones = vdupq_n_u8(1);
  void zero() {
    for (auto &p : a) p[0] = p[1] = vdupq_n_u32(0);
  }
  void add(int i, const uint8x16_t *c) {
    a[i][0] = vdotq_u32(a[i][0], vpaddq_u8(vpaddq_u8(c[0], c[1]), vpaddq_u8(c[2], c[3])), ones);
    a[i][1] = vdotq_u32(a[i][1], vpaddq_u8(vpaddq_u8(c[4], c[5]), vpaddq_u8(c[6], c[7])), ones);
  }
  void flush(int32_t *acc) {
    for (int i = 0; i < kNeonPixels; ++i) {
      int32_t *p = acc + i * kBlock;
      vst1q_s32(p, vaddq_s32(vld1q_s32(p), vreinterpretq_s32_u32(a[i][0])));
      vst1q_s32(p + 4, vaddq_s32(vld1q_s32(p + 4), vreinterpretq_s32_u32(a[i][1])));
    }
    zero();
  }
};
#endif

// The r (1..3) tail words at p as the low bits of a 64-bit value, the rest zero.
inline uint32x2_t loadTail2(const uint32_t *p, int r) {
  return r >= 2 ? vld1_u32(p) : vset_lane_u32(p[0], vdup_n_u32(0), 0);
}

template <class Reduce>
struct NeonMicro {
  static constexpr int kPixels = kNeonPixels;
  using Word = uint32_t;
  static int64_t blockWords(const Bconv2dPlan &plan) {
    return neonSchedule(plan.taps, plan.shape.wordsPerGroup).steps * kStepWords;
  }

  // One step: the 4 pixels' 128 bits against the block's 8 filter vectors at w.
  static inline void step(Reduce &red, const uint8x16_t *x, const uint32_t *w) {
    const uint8x16x4_t f0 = vld1q_u8_x4(reinterpret_cast<const uint8_t *>(w));
    const uint8x16x4_t f1 = vld1q_u8_x4(reinterpret_cast<const uint8_t *>(w + 16));
    const uint8x16_t f[8] = {f0.val[0], f0.val[1], f0.val[2], f0.val[3], f1.val[0], f1.val[1], f1.val[2], f1.val[3]};
#pragma GCC unroll 4
    for (int i = 0; i < kPixels; ++i) {
      uint8x16_t c[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) c[j] = vcntq_u8(veorq_u8(x[i], f[j]));
      red.add(i, c);
    }
  }

  static void accumulate(const uint32_t *const *x, int64_t taps, int64_t groupOffset, const uint32_t *w,
                         int64_t words32, int32_t *acc) {
    const NeonSchedule sch = neonSchedule(taps, words32);
    for (int k = 0; k < kPixels * kBlock; ++k) acc[k] = 0;
    Reduce red;
    red.zero();
    // Steps left before the narrow counters must be flushed (no limit for 32-bit counters).
    constexpr int64_t kBudget = Reduce::kFlushSteps ? Reduce::kFlushSteps : INT64_MAX;
    int64_t budget = kBudget;
    auto done = [&](int64_t steps) {
      if ((budget -= steps) == 0) red.flush(acc), budget = kBudget;
    };
    uint8x16_t xv[kPixels];
    for (int64_t t = 0; t < taps; ++t) {
      const uint8_t *p[kPixels];
      for (int i = 0; i < kPixels; ++i) p[i] = reinterpret_cast<const uint8_t *>(x[t * kPixels + i] + groupOffset);
      for (int64_t k = 0; k < sch.full;) {  // runs of steps without a flush check inside
        const int64_t run = std::min(sch.full - k, budget);
        for (int64_t end = k + run; k < end; ++k, w += kStepWords) {
          for (int i = 0; i < kPixels; ++i) xv[i] = vld1q_u8(p[i] + 16 * k);
          step(red, xv, w);
        }
        done(run);
      }
    }
    if (sch.r) {
      const int64_t tail = 4 * sch.full;
      for (int64_t t = 0; t < taps; t += sch.r <= 2 ? 2 : 1, w += kStepWords) {
        for (int i = 0; i < kPixels; ++i) {
          const uint32_t *p = x[t * kPixels + i] + groupOffset + tail;
          uint32x2_t lo, hi;
          if (sch.r <= 2) {
            lo = loadTail2(p, sch.r);
            hi = t + 1 < taps ? loadTail2(x[(t + 1) * kPixels + i] + groupOffset + tail, sch.r) : vdup_n_u32(0);
          } else {
            lo = vld1_u32(p), hi = vset_lane_u32(p[2], vdup_n_u32(0), 0);
          }
          xv[i] = vreinterpretq_u8_u32(vcombine_u32(lo, hi));
        }
        step(red, xv, w);
        done(1);
      }
    }
    red.flush(acc);
  }
};

}  // namespace
}  // namespace lce_kernels

#endif  // LCE_KERNELS_BCONV2D_INDIRECT_NEON_IMPL_H
