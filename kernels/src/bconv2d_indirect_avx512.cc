// Indirect-BGEMM Bconv2d, AVX-512 microkernel (built with -mavx512f -mavx512bw
// -mavx512vpopcntdq; dispatched only when CPUID reports all three).
//
// Register tile: MR = 6 output pixels x NV = 4 zmm of 8 output channels (one 64-bit lane per
// channel), 24 accumulators. Per 64-bit depth word the 4 filter vectors are loaded once and
// reused over the 6 pixels, and each pixel's input word is broadcast once (a load) and reused
// over the 4 filter vectors: 4 + 6 loads per 24 x {vpxorq, vpopcntq, vpaddq}, so the vector ALU
// is the bound, not the loads. vpopcntq counts straight into 64-bit lane totals: no depth needs
// a flush.
//
// The filter is packXorFilter's layout with blocks of 32 output channels, [taps][words64][32]
// each, so the 4 vectors of a depth word are one 256-byte row at immediate offsets. A group's
// last block may hold fewer channels: it runs with NV = ceil(lanes / 8) vectors.
//
// Input addressing, per tile of 6 consecutive output pixels:
//   - "row" tiles: the 6 pixels lie in one output row and none has a padding tap
//     (Bconv2dPlan::interiorRun), so pixel i reads tap t at offsets[q0][t] + i * pixelStep:
//     one offset per tap, no per-pixel pointer table (this is most of a large layer's tiles);
//   - every other tile: the per-pixel indirection pointers of TileContext::setupTile (padding
//     taps read zero words).
// Tiles are the outer loop, the channel blocks inner (the whole filter of a QuickNet layer
// stays in L2), so a tile's pointers are set up once for all blocks.
//
// The output transform runs in the same (out-of-line) function, from the accumulators in
// registers, 16 channels at a time: the two 64-bit halves' low dwords are gathered into one
// zmm (vpermt2d), then
//   - float: conv = classBase[class] - 2 * acc, clamp as std::clamp, float32 multiply, then add;
//   - bitpacked: bit = acc > clamp(threshold, -1, K) + classHalfDelta[class], the same as
//     (K - conv) > 2 * threshold (bconv2d_indirect.cc), 16 channels per compare mask;
//   - float with post ops (fused MUL/ADD/residual ADD/ReLU) and/or a fused Quantize: the float
//     transform, then the post ops (applyPostOps16), the float result (unless skipped) and the
//     Quantize bits (y < 0, 16 channels per compare mask);
//   - int8: the counts are stored and TileContext::writeTile does the generic transform.
#include <immintrin.h>

#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
namespace {

constexpr int kMR = 6;
constexpr int kWide = 32;  // output channels per filter block (4 zmm of 8 x 64-bit lanes)

enum class Epilogue { kFloat, kBits, kFused, kCounts };
enum class Source { kRow, kPointers };

// Where a tile's results go, per pixel i < valid, at the first block's first channel (each
// further block is 32 channels on): float/bitpacked output rows, the per-class rows of
// classBase / classHalfDelta, or (kCounts) the int32 counts acc[i * 32 + c] (one block only).
struct TileOutput {
  int valid;
  int lanes;                      // channels of each block (1..32)
  void *out[kMR];                 // float* at the channel, or uint32* at its word
  int bitShift;                   // bitpacked: bit offset of the first channel in its word
  const int32_t *classRow[kMR];   // classBase (float) or classHalfDelta (bitpacked)
  const float *mult, *bias;
  const int32_t *threshold;
  int32_t lo, hi, K;
  bool clampLow, clampHigh;       // float: whether lo / hi can bind (lo > -K, hi < K)
  int32_t *acc;                   // kCounts
  // kFused: the post ops (PostOp), the pixels' offsets (pixel * channelsOut) in a residual
  // tensor at the first channel, whether the float result is written, and the fused Quantize's
  // words at the first channel's word (bit offset bitShift).
  const PostOp *ops;
  int opCount;
  int64_t channel0;               // the first channel (absolute), for the per-channel vectors
  bool writeFloat;
  int64_t residualOffset[kMR];
  uint32_t *bitsRow[kMR];
};

// Post ops on 16 channels (PostOp; max/min as output_transform.h's applyPostOps): `at` is the
// channels' offset from the first channel of the per-channel vectors, `residual` the same in a
// residual tensor; masked loads only for a partial block.
__attribute__((always_inline)) inline __m512 applyPostOps16(__m512 r, const PostOp *ops, int count, int64_t at,
                                                           int64_t residual, __mmask16 m, bool whole) {
  for (int k = 0; k < count; ++k) {
    const PostOp &op = ops[k];
    const float *v = op.values + (op.kind == PostOp::Kind::kAddTensor ? residual : at);
    switch (op.kind) {
      case PostOp::Kind::kMul: r = _mm512_mul_ps(r, whole ? _mm512_loadu_ps(v) : _mm512_maskz_loadu_ps(m, v)); break;
      case PostOp::Kind::kAdd:
      case PostOp::Kind::kAddTensor:
        r = _mm512_add_ps(r, whole ? _mm512_loadu_ps(v) : _mm512_maskz_loadu_ps(m, v));
        break;
      case PostOp::Kind::kClamp: r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(op.lo)), _mm512_set1_ps(op.hi)); break;
    }
  }
  return r;
}

inline __mmask16 laneMask(int lanes) {  // the first `lanes` of 16 (lanes may be <= 0 or > 16)
  return static_cast<__mmask16>(lanes >= 16 ? 0xffff : lanes <= 0 ? 0 : (1u << lanes) - 1);
}

// One depth word k: pixel i's word is xp[i][2k, 2k+1] (kWhole), or the odd last word of a
// group xp[i][2k] alone (high half 0, as in the packed filter); wk: the 32 channels' words.
template <int NV, bool kWhole>
__attribute__((always_inline)) inline void depthStep(__m512i (&sums)[kMR][NV], const uint32_t *const *xp, int64_t k,
                                                     const uint64_t *wk) {
  __m512i wv[NV];
  #pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) wv[j] = _mm512_load_si512(wk + 8 * j);
  #pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) {
    const uint64_t word = kWhole ? load64(xp[i] + 2 * k) : static_cast<uint64_t>(xp[i][2 * k]);
    const __m512i a = _mm512_set1_epi64(static_cast<long long>(word));
    #pragma GCC unroll 8
    for (int j = 0; j < NV; ++j)
      sums[i][j] = _mm512_add_epi64(sums[i][j], _mm512_popcnt_epi64(_mm512_xor_si512(a, wv[j])));
  }
}

// `blocks` consecutive blocks of 32 output channels (NV vectors each) of one tile:
// sums[i][j] lane l = sum over taps and depth words of popcount(x_i ^ w_{8j+l}), then the
// epilogue. Row source: `rowBase` = the image's words, `tapOffsets` the first pixel's taps'
// word offsets, pixel i at + i * pixelStep. Pointer source: x[t * 6 + i]. groupOffset: the
// group's first word; w: the first block [taps][words64][32], the next ones blockWords on.
template <int NV, Source kSource, Epilogue kEpilogue>
__attribute__((noinline)) void tile(const uint32_t *const *x, const uint32_t *rowBase, const int64_t *tapOffsets,
                                    int64_t pixelStep, int64_t taps, int64_t groupOffset, const uint64_t *w,
                                    int64_t blockWords, int64_t words32, int64_t blocks, const TileOutput &to) {
  const int64_t full = words32 / 2, words64 = (words32 + 1) / 2;
  constexpr int kHalves = (NV + 1) / 2;
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const bool wholeBlock = to.lanes == 32;
  for (int64_t b = 0; b < blocks; ++b, w += blockWords) {
    __m512i sums[kMR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) sums[i][j] = _mm512_setzero_si512();
    const uint64_t *wt = w;
    for (int64_t t = 0; t < taps; ++t, wt += words64 * kWide) {
      const uint32_t *xp[kMR];
      if (kSource == Source::kRow) {
        const uint32_t *p = rowBase + tapOffsets[t] + groupOffset;
#pragma GCC unroll 8
        for (int i = 0; i < kMR; ++i) xp[i] = p + i * pixelStep;
      } else {
#pragma GCC unroll 8
        for (int i = 0; i < kMR; ++i) xp[i] = x[t * kMR + i] + groupOffset;
      }
      int64_t k = 0;
      for (; k < full; ++k) depthStep<NV, true>(sums, xp, k, wt + k * kWide);
      if (k < words64) depthStep<NV, false>(sums, xp, k, wt + k * kWide);
    }

    // 16 channels' counts as int32: the low dwords of two 64-bit-lane vectors.
#define LCE_COUNTS16(i, h) \
  _mm512_permutex2var_epi32(sums[i][2 * (h)], evens, 2 * (h) + 1 < NV ? sums[i][2 * (h) + 1] : _mm512_setzero_si512())
    const int64_t c = 32 * b;  // the block's first channel, from the first block's
    if (kEpilogue == Epilogue::kCounts) {
#pragma GCC unroll 8
      for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 8
        for (int h = 0; h < kHalves; ++h) _mm512_store_si512(to.acc + i * kWide + 16 * h, LCE_COUNTS16(i, h));
    } else if (kEpilogue == Epilogue::kFloat) {
      const __m512i lo = _mm512_set1_epi32(to.lo), hi = _mm512_set1_epi32(to.hi);
      const float *mult = to.mult + c, *bias = to.bias + c;
#pragma GCC unroll 8
      for (int i = 0; i < kMR; ++i) {
        if (i >= to.valid) continue;
        float *y = static_cast<float *>(to.out[i]) + c;
        const int32_t *base = to.classRow[i] + c;
#pragma GCC unroll 8
        for (int h = 0; h < kHalves; ++h) {
          const __m512i a = LCE_COUNTS16(i, h);
          if (wholeBlock) {  // unmasked: the loads fold into the arithmetic
            __m512i conv = _mm512_sub_epi32(_mm512_loadu_si512(base + 16 * h), _mm512_add_epi32(a, a));
            if (to.clampHigh) conv = _mm512_min_epi32(conv, hi);
            if (to.clampLow) conv = _mm512_max_epi32(conv, lo);
            const __m512 scaled = _mm512_mul_ps(_mm512_cvtepi32_ps(conv), _mm512_loadu_ps(mult + 16 * h));
            _mm512_storeu_ps(y + 16 * h, _mm512_add_ps(scaled, _mm512_loadu_ps(bias + 16 * h)));
          } else {
            const __mmask16 m = laneMask(to.lanes - 16 * h);
            const __m512i conv = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, base + 16 * h), _mm512_add_epi32(a, a));
            const __m512i clamped = _mm512_max_epi32(_mm512_min_epi32(conv, hi), lo);
            const __m512 scaled = _mm512_mul_ps(_mm512_cvtepi32_ps(clamped), _mm512_maskz_loadu_ps(m, mult + 16 * h));
            _mm512_mask_storeu_ps(y + 16 * h, m, _mm512_add_ps(scaled, _mm512_maskz_loadu_ps(m, bias + 16 * h)));
          }
        }
      }
    } else if (kEpilogue == Epilogue::kFused) {
      // Locals (the bits stores could alias the output's int fields), and a straight path for
      // the most common chain, a residual ADD alone (QuickNet, Bi-Real Net).
      const int valid = to.valid, lanes = to.lanes, bitShift = to.bitShift, opCount = to.opCount;
      const PostOp *ops = to.ops;
      const bool writeFloat = to.writeFloat, clampLow = to.clampLow, clampHigh = to.clampHigh;
      const float *residual = opCount == 1 && ops[0].kind == PostOp::Kind::kAddTensor ? ops[0].values : nullptr;
      const int64_t channel = to.channel0 + c;
      int32_t loV = to.lo, hiV = to.hi;
      asm("" : "+r"(loV), "+r"(hiV));  // made here, not hoisted: see the float epilogue
      const __m512i lo = _mm512_set1_epi32(loV), hi = _mm512_set1_epi32(hiV);
      const float *mult = to.mult + c, *bias = to.bias + c;
      const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int i = 0; i < kMR; ++i) {
        if (i >= valid) continue;
        const int32_t *base = to.classRow[i] + c;
        float *y = writeFloat ? static_cast<float *>(to.out[i]) + c : nullptr;
        const int64_t at = to.residualOffset[i] + c;
        uint32_t *word = to.bitsRow[i];
        uint64_t bits = 0;
#pragma GCC unroll 8
        for (int h = 0; h < kHalves; ++h) {
          const __m512i a = LCE_COUNTS16(i, h);
          const __mmask16 m = laneMask(lanes - 16 * h);
          __m512 r;
          if (wholeBlock) {
            __m512i conv = _mm512_sub_epi32(_mm512_loadu_si512(base + 16 * h), _mm512_add_epi32(a, a));
            if (clampHigh) conv = _mm512_min_epi32(conv, hi);
            if (clampLow) conv = _mm512_max_epi32(conv, lo);
            r = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(conv), _mm512_loadu_ps(mult + 16 * h)),
                              _mm512_loadu_ps(bias + 16 * h));
            if (residual) r = _mm512_add_ps(r, _mm512_loadu_ps(residual + at + 16 * h));
          } else {
            const __m512i conv = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, base + 16 * h), _mm512_add_epi32(a, a));
            const __m512i clamped = _mm512_max_epi32(_mm512_min_epi32(conv, hi), lo);
            r = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(clamped), _mm512_maskz_loadu_ps(m, mult + 16 * h)),
                              _mm512_maskz_loadu_ps(m, bias + 16 * h));
            if (residual) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, residual + at + 16 * h));
          }
          if (!residual) r = applyPostOps16(r, ops, opCount, channel + 16 * h, at + 16 * h, m, wholeBlock);
          if (y) {
            if (wholeBlock) _mm512_storeu_ps(y + 16 * h, r);
            else _mm512_mask_storeu_ps(y + 16 * h, m, r);
          }
          bits |= static_cast<uint64_t>(_mm512_mask_cmp_ps_mask(m, r, zero, _CMP_LT_OQ)) << (16 * h);
        }
        if (word) {  // the words were zeroed by run()
          word += b;
          if (bitShift == 0 && wholeBlock) {
            *word = static_cast<uint32_t>(bits);
          } else {
            bits <<= bitShift;
            word[0] |= static_cast<uint32_t>(bits);
            if (bitShift + lanes > 32) word[1] |= static_cast<uint32_t>(bits >> 32);
          }
        }
      }
    } else {
      const __m512i tlo = _mm512_set1_epi32(-1), thi = _mm512_set1_epi32(to.K);
      __m512i thr[kHalves];
#pragma GCC unroll 8
      for (int h = 0; h < kHalves; ++h)
        thr[h] = _mm512_max_epi32(
            _mm512_min_epi32(_mm512_maskz_loadu_epi32(laneMask(to.lanes - 16 * h), to.threshold + c + 16 * h), thi), tlo);
#pragma GCC unroll 8
      for (int i = 0; i < kMR; ++i) {
        if (i >= to.valid) continue;
        const int32_t *delta = to.classRow[i] + c;
        uint64_t bits = 0;
#pragma GCC unroll 8
        for (int h = 0; h < kHalves; ++h) {
          const __mmask16 m = laneMask(to.lanes - 16 * h);
          const __m512i t = _mm512_add_epi32(thr[h], _mm512_maskz_loadu_epi32(m, delta + 16 * h));
          bits |= static_cast<uint64_t>(_mm512_mask_cmpgt_epi32_mask(m, LCE_COUNTS16(i, h), t)) << (16 * h);
        }
        uint32_t *word = static_cast<uint32_t *>(to.out[i]) + b;
        if (to.bitShift == 0 && wholeBlock) {
          *word = static_cast<uint32_t>(bits);
        } else {  // the words were zeroed by run()
          bits <<= to.bitShift;
          word[0] |= static_cast<uint32_t>(bits);
          if (to.bitShift + to.lanes > 32) word[1] |= static_cast<uint32_t>(bits >> 32);
        }
      }
    }
#undef LCE_COUNTS16
  }
}

using TileFn = void (*)(const uint32_t *const *, const uint32_t *, const int64_t *, int64_t, int64_t, int64_t,
                        const uint64_t *, int64_t, int64_t, int64_t, const TileOutput &);

template <Source kSource, Epilogue kEpilogue>
constexpr TileFn kTiles[5] = {nullptr, tile<1, kSource, kEpilogue>, tile<2, kSource, kEpilogue>,
                              tile<3, kSource, kEpilogue>, tile<4, kSource, kEpilogue>};

template <Epilogue kEpilogue>
TileFn tileFn(bool row, int nv) {
  return row ? kTiles<Source::kRow, kEpilogue>[nv] : kTiles<Source::kPointers, kEpilogue>[nv];
}

void packWideFilter(const Bconv2dPlan &plan, PackedFilter &out) { packXorFilter(plan, kWide, out); }

void runWide(const Bconv2dPlan &plan, const PackedFilter &filter, const int32_t *input, const Bconv2dOutput &o,
             void *out, int64_t firstTile, int64_t endTile, const uint32_t **x) {
  const TileContext ctx(plan, input, o, out);
  const Bconv2dShape &s = plan.shape;
  const int64_t blockWords = ctx.taps * plan.words64 * kWide, outWords = packedWords(s.channelsOut);
  const bool plainFloat = o.type == OutputType::kFloat && o.postOpCount == 0 && !o.bits && o.writeFloat;
  const Epilogue epilogue = plainFloat                          ? Epilogue::kFloat
                            : o.type == OutputType::kFloat     ? Epilogue::kFused
                            : o.type == OutputType::kBitpacked ? Epilogue::kBits
                                                               : Epilogue::kCounts;
  const int32_t *classRows = epilogue == Epilogue::kBits ? plan.classHalfDelta.data() : plan.classBase.data();
  // Per group: the whole blocks, then a partial last block.
  const int64_t wideBlocksPerGroup = (plan.outPerGroup + kWide - 1) / kWide;
  const int64_t wholeBlocks = plan.outPerGroup / kWide;
  const int tailLanes = static_cast<int>(plan.outPerGroup % kWide);
  alignas(64) int32_t acc[kMR * kWide];
  alignas(64) int32_t conv[kMR * kWide];
  TileOutput to;
  to.lo = ctx.lo32, to.hi = ctx.hi32, to.K = static_cast<int32_t>(s.K), to.acc = acc;
  to.clampLow = ctx.lo > -s.K, to.clampHigh = ctx.hi < s.K;
  to.ops = o.postOps, to.opCount = o.postOpCount, to.writeFloat = o.writeFloat && out;
  for (int64_t tile = firstTile; tile < endTile; ++tile) {
    const int64_t p0 = tile * kMR;
    const int64_t n = s.batch == 1 ? 0 : p0 / ctx.image, q0 = p0 - n * ctx.image;
    const bool row = q0 + kMR <= ctx.image && plan.interiorRun[q0] >= kMR;
    int64_t qs[kMR];
    int32_t full[kMR];
    bool border = false;
    int valid = kMR;
    if (row) {
      for (int i = 0; i < kMR; ++i) qs[i] = q0 + i, full[i] = static_cast<int32_t>(ctx.taps * s.channelsPerGroup);
    } else {
      border = ctx.setupTile<kMR>(p0, valid, qs, full, x);
    }
    const uint32_t *rowBase = ctx.in + n * ctx.imageWords;
    const int64_t *tapOffsets = plan.offsets.data() + q0 * ctx.taps;
    to.valid = valid;
    for (int64_t g = 0; g < s.groups; ++g) {
      const uint64_t *w = filter.as<uint64_t>() + g * wideBlocksPerGroup * blockWords;
      const int64_t groupOffset = g * s.wordsPerGroup;
      int64_t c0 = g * plan.outPerGroup;
      // Runs of blocks with the same width: the whole ones, then the tail (int8: one at a time,
      // the generic transform reads the counts of one block).
      for (int64_t b = 0; b < wideBlocksPerGroup;) {
        const bool whole = b < wholeBlocks;
        const int lanes = whole ? kWide : tailLanes;
        const int64_t blocks = epilogue == Epilogue::kCounts || !whole ? 1 : wholeBlocks;
        to.lanes = lanes;
        to.mult = ctx.mult + c0, to.bias = ctx.bias + c0, to.threshold = o.threshold ? o.threshold + c0 : nullptr;
        to.bitShift = static_cast<int>(c0 % 32);
        to.channel0 = c0;
        for (int i = 0; i < valid; ++i) {
          to.classRow[i] = classRows + plan.pixelClass[qs[i]] * s.channelsOut + c0;
          to.residualOffset[i] = (p0 + i) * s.channelsOut + c0;
          to.bitsRow[i] = o.bits ? reinterpret_cast<uint32_t *>(o.bits) + (p0 + i) * outWords + c0 / 32 : nullptr;
          to.out[i] = epilogue == Epilogue::kBits
                          ? static_cast<void *>(static_cast<uint32_t *>(out) + (p0 + i) * outWords + c0 / 32)
                      : out ? static_cast<void *>(static_cast<float *>(out) + (p0 + i) * s.channelsOut + c0)
                            : nullptr;
        }
        const int nv = (lanes + 7) / 8;
        const TileFn fn = epilogue == Epilogue::kFloat   ? tileFn<Epilogue::kFloat>(row, nv)
                          : epilogue == Epilogue::kBits  ? tileFn<Epilogue::kBits>(row, nv)
                          : epilogue == Epilogue::kFused ? tileFn<Epilogue::kFused>(row, nv)
                                                         : tileFn<Epilogue::kCounts>(row, nv);
        fn(x, rowBase, tapOffsets, plan.pixelStep, ctx.taps, groupOffset, w + b * blockWords, blockWords,
           s.wordsPerGroup, blocks, to);
        if (epilogue == Epilogue::kCounts) ctx.writeTile(p0, valid, qs, full, border, c0, lanes, acc, kWide, conv);
        b += blocks, c0 += blocks * kWide;
      }
    }
  }
}

}  // namespace

const IndirectKernel &bconv2d_indirect_avx512() {
  static const IndirectKernel kernel{Isa::kAvx512, "avx512 (6 pixels x 32 channels, vpopcntq)", kMR, packWideFilter,
                                     runWide};
  return kernel;
}

}  // namespace lce_kernels
