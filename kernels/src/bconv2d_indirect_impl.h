// The indirect-BGEMM Bconv2d tile driver (see bconv2d_indirect.cc for the method), a template
// over the microkernel. Included by one translation unit per ISA (compiled with different flags);
// everything here has internal linkage so that the copies never mix.
//
// A microkernel `Micro` provides
//   static constexpr int kPixels;  // output pixels per tile
//   static void accumulate(const uint32_t *const *x, int64_t taps, int64_t groupOffset,
//                          const uint64_t *w, int64_t words32, int32_t *acc);
// x: [taps][kPixels] input pixel addresses (padding taps point at zero words), groupOffset: the
// group's first word, w: one filter block [taps][words64][8], words32: packed words per group;
// it sets acc[i * 8 + j] = sum over taps and words of popcount(x_i ^ w_j).
#ifndef LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H
#define LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H

#include <algorithm>
#include <cstring>

#include "bconv2d_indirect_kernel.h"
#include "lce_kernels/kernels.h"
#include "output_transform.h"

namespace lce_kernels {
namespace {

constexpr int kBlock = Bconv2dPlan::kBlock;

inline uint64_t load64(const uint32_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Scalar microkernel: one pixel x 8 channels, 64-bit XOR + popcount (hardware POPCNT when the
// translation unit is built with -mpopcnt).
struct ScalarMicro {
  static constexpr int kPixels = 1;
  static void accumulate(const uint32_t *const *x, int64_t taps, int64_t groupOffset, const uint64_t *w,
                         int64_t words32, int32_t *acc) {
    const int64_t full = words32 / 2, words64 = (words32 + 1) / 2;
    for (int j = 0; j < kBlock; ++j) acc[j] = 0;
    for (int64_t t = 0; t < taps; ++t) {
      const uint32_t *xp = x[t] + groupOffset;
      const uint64_t *wt = w + t * words64 * kBlock;
      for (int64_t k = 0; k < words64; ++k) {
        const uint64_t xv = k < full ? load64(xp + 2 * k) : xp[2 * k];  // odd tail: high half 0
        for (int j = 0; j < kBlock; ++j) acc[j] += __builtin_popcountll(xv ^ wt[k * kBlock + j]);
      }
    }
  }
};

// Float output of one pixel's block of 8 channels: writeOutput's math (clamp in std::clamp's
// order, float32 multiply, then add), written so that it vectorizes.
inline void writeFloatBlock(const int32_t *__restrict conv, const float *__restrict m, const float *__restrict b,
                            int32_t lo, int32_t hi, float *__restrict y) {
  for (int j = 0; j < kBlock; ++j) {
    const int32_t v = conv[j];
    const int32_t clamped = v < lo ? lo : (hi < v ? hi : v);
    y[j] = static_cast<float>(clamped) * m[j] + b[j];
  }
}

// Output pixels [firstTile * kPixels, endTile * kPixels) (clipped to the pixel count) of
// every output channel. `x` is scratch for taps * kPixels pointers. No allocation and no
// shared library templates here (the caller owns threads and memory): code built with this
// translation unit's ISA flags must not be picked by the linker for other translation units.
template <class Micro>
void runTiles(const Bconv2dPlan &plan, const int32_t *input, const Bconv2dOutput &o, void *out, int64_t firstTile,
              int64_t endTile, const uint32_t **x) {
  constexpr int kPixels = Micro::kPixels;
  const Bconv2dShape &s = plan.shape;
  const int64_t taps = plan.taps, image = s.outHeight * s.outWidth, pixels = s.batch * image;
  const int64_t imageWords = s.inHeight * s.inWidth * s.wordsIn;
  const int64_t lo = std::max<int64_t>(o.clampLow, -s.K), hi = std::min<int64_t>(o.clampHigh, s.K);
  const int64_t blockWords = taps * plan.words64 * kBlock;
  const auto *in = reinterpret_cast<const uint32_t *>(input);
  // Float output without multiplier or bias uses 1 and 0 (the same float operations).
  const bool floatOut = o.type == OutputType::kFloat;
  const int32_t lo32 = static_cast<int32_t>(lo), hi32 = static_cast<int32_t>(hi);
  const float *mult = o.multiplier ? o.multiplier : plan.ones.data();
  const float *bias = o.bias ? o.bias : plan.floatZeros.data();
  // Plain pointers: the output stores cannot alias them, so they stay in registers.
  const int64_t *offsets = plan.offsets.data();
  const int32_t *counted = plan.counted.data(), *skippedBegin = plan.skippedBegin.data();
  const int32_t *skipped = plan.skipped.data(), *tapPopcount = plan.tapPopcount.data();
  const uint32_t *zeros = plan.zeros.data();
  const uint64_t *packedFilter = plan.packedFilter.data();
  const int64_t groups = s.groups, blocksPerGroup = plan.blocksPerGroup, outPerGroup = plan.outPerGroup;
  const int64_t wordsPerGroup = s.wordsPerGroup, channelsOut = s.channelsOut;
  alignas(64) int32_t acc[kPixels * kBlock];
  alignas(64) int32_t conv[kPixels * kBlock];
  for (int64_t tile = firstTile; tile < endTile; ++tile) {
    const int64_t p0 = tile * kPixels;
    const int valid = static_cast<int>(std::min<int64_t>(kPixels, pixels - p0));
    int64_t qs[kPixels];   // pixel within its image
    int32_t full[kPixels];  // counted taps * channels per group
    bool border = false;    // some pixel has zero-padding taps
    for (int i = 0; i < kPixels; ++i) {  // a short last tile repeats its last pixel
      const int64_t p = p0 + std::min(i, valid - 1), n = p / image, q = p - n * image;
      qs[i] = q;
      full[i] = static_cast<int32_t>(counted[q] * s.channelsPerGroup);
      border |= skippedBegin[q] != skippedBegin[q + 1];
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t off = offsets[q * taps + t];
        x[t * kPixels + i] = off < 0 ? zeros : in + n * imageWords + off;
      }
    }
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t b = 0; b < blocksPerGroup; ++b) {
        Micro::accumulate(x, taps, g * wordsPerGroup, packedFilter + (g * blocksPerGroup + b) * blockWords,
                          wordsPerGroup, acc);
        const int64_t c0 = g * outPerGroup + b * kBlock;
        const int lanes = static_cast<int>(std::min<int64_t>(kBlock, outPerGroup - b * kBlock));
        for (int i = 0; i < valid; ++i)
          for (int j = 0; j < kBlock; ++j) conv[i * kBlock + j] = full[i] - 2 * acc[i * kBlock + j];
        if (border)
          for (int i = 0; i < valid; ++i)
            for (int32_t k = skippedBegin[qs[i]]; k < skippedBegin[qs[i] + 1]; ++k)
              for (int j = 0; j < lanes; ++j) conv[i * kBlock + j] += 2 * tapPopcount[(c0 + j) * taps + skipped[k]];
        if (floatOut && lanes == kBlock) {  // the common case, vectorized
          for (int i = 0; i < valid; ++i)
            writeFloatBlock(conv + i * kBlock, mult + c0, bias + c0, lo32, hi32,
                            static_cast<float *>(out) + (p0 + i) * channelsOut + c0);
        } else {
          for (int i = 0; i < valid; ++i)
            for (int j = 0; j < lanes; ++j)
              writeOutput(o, s.K, lo, hi, channelsOut, p0 + i, c0 + j, conv[i * kBlock + j], out);
        }
      }
  }
}

}  // namespace
}  // namespace lce_kernels

#endif  // LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H
