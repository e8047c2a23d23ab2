// The indirect-BGEMM Bconv2d tile driver (see bconv2d_indirect.cc for the method), a template
// over the microkernel. Included by one translation unit per ISA (compiled with different flags);
// everything here has internal linkage so that the copies never mix.
//
// A microkernel `Micro` of 8 output channels provides
//   static constexpr int kPixels;  // output pixels per tile
//   using Word = ...;              // the element type of its filter layout
//   static int64_t blockWords(const Bconv2dPlan &plan);  // Words per block of 8 channels
//   static void accumulate(const uint32_t *const *x, int64_t taps, int64_t groupOffset,
//                          const Word *w, int64_t words32, int32_t *acc);
// x: [taps][kPixels] input pixel addresses (padding taps point at zero words), groupOffset: the
// group's first word, w: one filter block in the micro's layout (ScalarMicro's:
// [taps][words64][8]), words32: packed words per group; it sets
// acc[i * 8 + j] = sum over taps and words of popcount(x_i ^ w_j).
#ifndef LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H
#define LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H

#include <algorithm>
#include <cstring>

#include "bconv2d_indirect_kernel.h"
#include "lce_kernels/kernels.h"
#include "output_transform.h"

namespace lce_kernels {
namespace {

constexpr int kBlock = 8;  // output channels per filter block of the scalar kernels

inline uint64_t load64(const uint32_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Scalar microkernel: one pixel x 8 channels, 64-bit XOR + popcount (hardware POPCNT when the
// translation unit is built with -mpopcnt).
struct ScalarMicro {
  static constexpr int kPixels = 1;
  using Word = uint64_t;
  static int64_t blockWords(const Bconv2dPlan &plan) { return plan.taps * plan.words64 * kBlock; }
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

// What every tile driver needs of the plan and the output, read once per call into plain
// locals (the output stores cannot alias them, so they stay in registers).
struct TileContext {
  TileContext(const Bconv2dPlan &plan, const int32_t *input, const Bconv2dOutput &o, void *out)
      : plan(plan), s(plan.shape), o(o), out(out), in(reinterpret_cast<const uint32_t *>(input)) {
    taps = plan.taps, image = s.outHeight * s.outWidth, pixels = s.batch * image;
    imageWords = s.inHeight * s.inWidth * s.wordsIn;
    lo = std::max<int64_t>(o.clampLow, -s.K), hi = std::min<int64_t>(o.clampHigh, s.K);
    lo32 = static_cast<int32_t>(lo), hi32 = static_cast<int32_t>(hi);
    floatOut = o.type == OutputType::kFloat;
    plainFloat = floatOut && o.postOpCount == 0 && !o.bits && o.writeFloat;
    // Float output without multiplier or bias uses 1 and 0 (the same float operations).
    mult = o.multiplier ? o.multiplier : plan.ones.data();
    bias = o.bias ? o.bias : plan.floatZeros.data();
    offsets = plan.offsets.data(), counted = plan.counted.data(), skippedBegin = plan.skippedBegin.data();
    skipped = plan.skipped.data(), tapPopcount = plan.tapPopcount.data(), zeros = plan.zeros.data();
  }

  // Sets up a tile of `kPixels` output pixels from p0 (a short last tile repeats its last
  // pixel): x[t * kPixels + i] = pixel i's input word pointer for tap t (relative to group 0),
  // qs = pixel within its image, full = counted taps * channels per group; returns whether some
  // pixel has zero-padding taps, and sets `valid`.
  template <int kPixels>
  bool setupTile(int64_t p0, int &valid, int64_t *qs, int32_t *full, const uint32_t **x) const {
    valid = static_cast<int>(std::min<int64_t>(kPixels, pixels - p0));
    bool border = false;
    for (int i = 0; i < kPixels; ++i) {
      const int64_t p = p0 + std::min(i, valid - 1);
      const int64_t n = s.batch == 1 ? 0 : p / image, q = p - n * image;  // no division for one image
      qs[i] = q;
      full[i] = static_cast<int32_t>(counted[q] * s.channelsPerGroup);
      border |= skippedBegin[q] != skippedBegin[q + 1];
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t off = offsets[q * taps + t];
        x[t * kPixels + i] = off < 0 ? zeros : in + n * imageWords + off;
      }
    }
    return border;
  }

  // Writes output channels [c0, c0 + lanes) of pixels p0 .. p0 + valid - 1 from the XOR
  // popcounts acc[i * stride + j] (j < lanes; lanes a multiple of 8 unless it is a group's last
  // block): conv = full - 2 * acc, plus the zero-padding correction, then the output transform.
  void writeTile(int64_t p0, int valid, const int64_t *qs, const int32_t *full, bool border, int64_t c0, int lanes,
                 const int32_t *acc, int stride, int32_t *conv) const {
    for (int i = 0; i < valid; ++i)
      for (int j = 0; j < lanes; ++j) conv[i * stride + j] = full[i] - 2 * acc[i * stride + j];
    if (border)
      for (int i = 0; i < valid; ++i)
        for (int32_t k = skippedBegin[qs[i]]; k < skippedBegin[qs[i] + 1]; ++k)
          for (int j = 0; j < lanes; ++j) conv[i * stride + j] += 2 * tapPopcount[(c0 + j) * taps + skipped[k]];
    if (plainFloat && lanes % kBlock == 0) {  // the common case, vectorized
      for (int i = 0; i < valid; ++i)
        for (int j = 0; j < lanes; j += kBlock)
          writeFloatBlock(conv + i * stride + j, mult + c0 + j, bias + c0 + j, lo32, hi32,
                          static_cast<float *>(out) + (p0 + i) * s.channelsOut + c0 + j);
    } else if (o.type == OutputType::kBitpacked && c0 % 32 == 0 && lanes % 32 == 0) {
      // Whole output words: bit j of word w is channel 32w + j (the words were zeroed).
      const int64_t words = packedWords(s.channelsOut);
      for (int i = 0; i < valid; ++i)
        for (int w = 0; w < lanes / 32; ++w) {
          uint32_t bits = 0;
          for (int j = 0; j < 32; ++j) {
            const int64_t c = c0 + 32 * w + j;
            bits |= static_cast<uint32_t>(semantics::bitpackedBit(s.K, conv[i * stride + 32 * w + j], o.threshold[c])) << j;
          }
          static_cast<int32_t *>(out)[(p0 + i) * words + (c0 + 32 * w) / 32] = static_cast<int32_t>(bits);
        }
    } else {
      for (int i = 0; i < valid; ++i)
        for (int j = 0; j < lanes; ++j)
          writeOutput(o, s.K, lo, hi, s.channelsOut, p0 + i, c0 + j, conv[i * stride + j], out);
    }
  }

  const Bconv2dPlan &plan;
  const Bconv2dShape &s;
  const Bconv2dOutput &o;
  void *out;
  const uint32_t *in;
  int64_t taps, image, pixels, imageWords, lo, hi;
  int32_t lo32, hi32;
  bool floatOut, plainFloat;  // plainFloat: float output without post ops or fused Quantize
  const float *mult, *bias;
  const int64_t *offsets;
  const int32_t *counted, *skippedBegin, *skipped, *tapPopcount;
  const uint32_t *zeros;
};

// The XOR + popcount kernels' filter layout with blocks of `block` output channels:
// [groups][blocks per group][taps][words64][block] uint64, lane j of a block = output channel j
// of it (a group's last block padded with zero channels), 64-bit depth words (an odd last
// 32-bit word has a zero high half).
inline void packXorFilter(const Bconv2dPlan &plan, int64_t block, PackedFilter &out) {
  const Bconv2dShape &s = plan.shape;
  const int64_t taps = plan.taps, words64 = plan.words64, outPerGroup = plan.outPerGroup;
  const int64_t blocks = (outPerGroup + block - 1) / block;
  out.bytes.assign(s.groups * blocks * taps * words64 * block * sizeof(uint64_t), 0);
  auto *packed = reinterpret_cast<uint64_t *>(out.bytes.data());
  for (int64_t c = 0; c < s.channelsOut; ++c) {
    const int64_t g = c / outPerGroup, b = (c % outPerGroup) / block, lane = (c % outPerGroup) % block;
    uint64_t *dst = packed + (g * blocks + b) * taps * words64 * block;
    for (int64_t t = 0; t < taps; ++t) {
      const auto *w = reinterpret_cast<const uint32_t *>(plan.filter.data()) + (c * taps + t) * s.wordsPerGroup;
      for (int64_t k = 0; k < s.wordsPerGroup; ++k)
        dst[(t * words64 + k / 2) * block + lane] |= static_cast<uint64_t>(w[k]) << (32 * (k % 2));
    }
  }
}

inline void packScalarFilter(const Bconv2dPlan &plan, PackedFilter &out) { packXorFilter(plan, kBlock, out); }

// Output pixels [firstTile * kPixels, endTile * kPixels) (clipped to the pixel count) of
// every output channel, with a microkernel over blocks of 8 output channels (in the micro's
// filter layout). `x` is scratch for taps * kPixels pointers. No allocation and no
// shared library templates here (the caller owns threads and memory): code built with this
// translation unit's ISA flags must not be picked by the linker for other translation units.
template <class Micro>
void runTiles(const Bconv2dPlan &plan, const PackedFilter &filter, const int32_t *input, const Bconv2dOutput &o,
              void *out, int64_t firstTile, int64_t endTile, const uint32_t **x) {
  constexpr int kPixels = Micro::kPixels;
  const TileContext ctx(plan, input, o, out);
  const Bconv2dShape &s = plan.shape;
  const int64_t blockWords = Micro::blockWords(plan);
  const auto *packedFilter = filter.as<typename Micro::Word>();
  const int64_t groups = s.groups, outPerGroup = plan.outPerGroup, blocksPerGroup = (outPerGroup + kBlock - 1) / kBlock;
  const int64_t wordsPerGroup = s.wordsPerGroup;
  alignas(64) int32_t acc[kPixels * kBlock];
  alignas(64) int32_t conv[kPixels * kBlock];
  for (int64_t tile = firstTile; tile < endTile; ++tile) {
    const int64_t p0 = tile * kPixels;
    int valid;
    int64_t qs[kPixels];
    int32_t full[kPixels];
    const bool border = ctx.setupTile<kPixels>(p0, valid, qs, full, x);
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t b = 0; b < blocksPerGroup; ++b) {
        Micro::accumulate(x, ctx.taps, g * wordsPerGroup, packedFilter + (g * blocksPerGroup + b) * blockWords,
                          wordsPerGroup, acc);
        const int64_t c0 = g * outPerGroup + b * kBlock;
        const int lanes = static_cast<int>(std::min<int64_t>(kBlock, outPerGroup - b * kBlock));
        ctx.writeTile(p0, valid, qs, full, border, c0, lanes, acc, kBlock, conv);
      }
  }
}

}  // namespace
}  // namespace lce_kernels

#endif  // LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H
