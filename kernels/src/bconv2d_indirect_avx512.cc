// Indirect-BGEMM Bconv2d, AVX-512 microkernel (built with -mavx512f -mavx512bw
// -mavx512vpopcntdq; dispatched only when CPUID reports all three).
//
// Register tile: MR = 6 output pixels x NV = 4 zmm of 16 output channels (one 32-bit lane per
// channel), 24 accumulators. Per 32-bit depth word the 4 filter vectors are loaded once and
// reused over the 6 pixels, and each pixel's input word is broadcast once (a load) and reused
// over the 4 filter vectors: 4 + 6 loads per 24 x {vpxord, vpopcntd, vpaddd}, so the vector ALU
// is the bound, not the loads. The lanes hold each channel's count as int32 (no depth needs a
// flush), which the output transform reads as they are: no permutes, and a tile covers 64
// output channels, so the per-tile work (pointers, accumulator set-up, the output pass) is
// spread over twice the binary MACs of a 64-bit-lane tile (which matters on short depths: a
// 3x3 conv of 64 channels has 18 depth words).
//
// The filter is packed as [groups][blocks of 64 output channels][taps][words32][64] uint32, so
// the 4 vectors of a depth word are one 256-byte row at immediate offsets. A group's last block
// may hold fewer channels: it runs with NV = ceil(lanes / 16) vectors (zero channels pad it).
//
// Input addressing: the input is read with its padding laid out (IndirectKernel::paddedInput:
// Bconv2dPlan::run makes the padded image of a padded layer, zero words around the input), so
// that pixel q reads tap t at word pixelBase[q] + tapStep[t]: no padding taps and no per-tap
// pointers. Per tile of 6 consecutive output pixels:
//   - "row" tiles (the 6 pixels in one image, in any rows): 6 pixel pointers for the tile and
//     one flat loop over the taps' depth words with an index per step (Bconv2dPlan::depthIndex,
//     tapStep[t] + k), the word addressed as pointer + index (every tile but the last of an
//     image; the flat loop saved 2-4 % of QuickNet's fused blocks against a loop per tap);
//   - the last, short tile of an image and tiles across two images: per-pixel pointers per tap
//     (made in runWide from pixelBase and tapStep; a short tile skips its missing pixels).
// The zero-padding correction is a class row per pixel (Bconv2dPlan::classBase): tiles whose 6
// pixels share one class (every tile of a VALID or one-padded layer, most tiles of a
// zero-padded one) read one row, the others one per pixel (the halved passes start each pixel's
// accumulators from its own row / 2).
// Tiles are the outer loop, the channel blocks inner (the whole filter of a QuickNet layer
// stays in L2), so a tile's pointers are set up once for all blocks.
//
// The output transform runs in the same (out-of-line) function, from the accumulators in
// registers, 16 channels at a time:
//   - float: conv = classBase[class] - 2 * acc, clamp as std::clamp, float32 multiply, then add;
//   - bitpacked: bit = acc > clamp(threshold, -1, K) + classHalfDelta[class], the same as
//     (K - conv) > 2 * threshold (bconv2d_indirect.cc), 16 channels per compare mask;
//   - float with post ops (fused MUL/ADD/residual ADD/ReLU) and/or a fused Quantize: the float
//     transform, then the post ops (applyPostOps16), the float result (unless skipped) and the
//     Quantize bits (y < 0, 16 channels per compare mask);
//   - int8: the counts are stored and TileContext::writeTile does the generic transform.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
namespace {

constexpr int kMR = 6;
constexpr int kWide = 64;  // output channels per filter block (4 zmm of 16 x 32-bit lanes)

// kHalfFloat / kHalfFused: float output (plain / with post ops), when every classBase entry is
// even and twice every multiplier is exact: the accumulators start at classBase / 2 and count
// down, so they hold conv / 2, and float(clamp(conv / 2, lo / 2, hi / 2)) * (2 * multiplier) +
// bias is the same float32 value as float(clamp(conv, lo, hi)) * multiplier + bias (conv / 2 and
// the halved bounds are exact floats, and both products are the one real number clamp(conv) *
// multiplier, rounded once): 3 vector operations per 16 channels before the post ops instead
// of 5, plus one per bound that can bind (QuickNet's ReLU on the conv: one).
// kHalfResidualBits / kHalfResidual: kHalfFused's most common chains written out for whole
// blocks: a residual ADD and the fused Quantize (bits at a word boundary), the float sum
// written (QuickNet's blocks), or a residual ADD, optionally a ReLU-family clamp, the float sum
// (the last block of a QuickNet section); the clamp on conv / 2 is applied at both bounds,
// which are no-ops where they cannot bind.
enum class Epilogue { kFloat, kBits, kFused, kCounts, kHalfFloat, kHalfFused, kHalfResidualBits, kHalfResidual };
enum class Source { kRow, kPointers };

// Where a call's results go. The call covers `tiles` consecutive tiles (more than one only for
// row tiles), pixel i of them at i * stride from the bases, which are at the first tile's first
// pixel and the first block's first channel (each further block is 64 channels on):
// float/bitpacked output, the per-class rows of classBase / classHalfDelta (per pixel of a
// pointer tile; one row for row tiles, which have no padding taps), or (kCounts) the int32
// counts acc[i * 64 + c] (one tile, one block).
struct TileOutput {
  int valid;                      // pixels of the tile (a single one unless of one class): kMR but for an image's last
  int lanes;                      // channels of each block (1..64)
  void *out;                      // float* at the channel, or uint32* at its word
  int64_t outStride;              // per pixel: channelsOut floats, or the output's words
  int bitShift;                   // bitpacked: bit offset of the first channel in its word
  const int32_t *classRow[kMR];   // classBase (float) or classHalfDelta (bitpacked)
  const float *mult, *bias;
  const int32_t *threshold;
  int32_t lo, hi, K;
  bool clampLow, clampHigh;       // float: whether lo / hi can bind (lo > -K, hi < K)
  bool intClamp;                  // the halved passes: every bound that can bind is even (halfClamp)
  int32_t *acc;                   // kCounts
  // kFused: the post ops (PostOp), the first pixel's offset (pixel * channelsOut) in a
  // residual tensor at the first channel, whether the float result is written, and the fused
  // Quantize's words at the first channel's word (bit offset bitShift), bitsStride per pixel.
  const PostOp *ops;
  int opCount;
  int64_t channel0;               // the first channel (absolute), for the per-channel vectors
  bool writeFloat;
  int64_t residualOffset;
  uint32_t *bits;
  int64_t bitsStride;
};

// Where a call's input words come from. Row source: `image` = the padded image's words,
// pixel i of the call at pixelBase[i] (pixelBase at the call's first pixel), word k of tap t
// at + depthIndex[t * words32 + k]. Pointer source: x[t * kMR + i]. groupOffset: the group's
// first word.
struct TileInput {
  const uint32_t *const *x;
  const uint32_t *image;
  const int64_t *pixelBase;
  const int64_t *depthIndex;  // row source: Bconv2dPlan::depthIndex, one flat loop
  int64_t taps, groupOffset, words32;
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

// lo / 2 (a conv bound, |lo| <= K < 2^24: exact) in every lane, made in the output pass (the
// asm keeps it out of the accumulation's registers, as the float epilogue's clamp vectors).
__attribute__((always_inline)) inline __m512 halfBound(int32_t bound) {
  asm("" : "+r"(bound));
  return _mm512_set1_ps(0.5f * static_cast<float>(bound));
}

// conv / 2 of the halved passes, clamped as conv is: clampLow / clampHigh say whether lo / hi
// can bind; loHalf / hiHalf = lo / 2, hi / 2.
__attribute__((always_inline)) inline __m512 halfConv(__m512i a, bool clampLow, bool clampHigh, __m512 loHalf,
                                                     __m512 hiHalf) {
  __m512 v = _mm512_cvtepi32_ps(a);
  if (clampHigh) v = _mm512_min_ps(v, hiHalf);
  if (clampLow) v = _mm512_max_ps(v, loHalf);
  return v;
}

// The halved passes' clamp in int32 where it is exact: conv / 2 is an integer, so clamping it
// to lo / 2 and hi / 2 gives the float clamp's value when every bound that can bind is even
// (`intClamp`; a bound that cannot bind leaves conv / 2 as it is either way: C++ division
// truncates toward zero, which is ceil(lo / 2) for lo <= -K and floor(hi / 2) for hi >= K, and
// conv / 2 lies between them). Integer min/max issue on all 4 vector pipes of Zen 5, the float
// ones on 2, which the output pass's conversions, multiplies and adds use as well.
struct HalfClamp {
  bool intClamp, clampLow, clampHigh;
  __m512i loI, hiI;
  __m512 loHalf, hiHalf;
};
__attribute__((always_inline)) inline HalfClamp halfClamp(const TileOutput &to) {
  int32_t loV = to.lo / 2, hiV = to.hi / 2;
  asm("" : "+r"(loV), "+r"(hiV));  // made in the output pass, as halfBound
  return {to.intClamp, to.clampLow, to.clampHigh, _mm512_set1_epi32(loV), _mm512_set1_epi32(hiV), halfBound(to.lo),
          halfBound(to.hi)};
}
// float(clamp(conv / 2, lo / 2, hi / 2)), as halfConv, the clamp in int32 where exact (both bounds
// then: a no-op where one cannot bind).
__attribute__((always_inline)) inline __m512 halfConvClamped(__m512i a, const HalfClamp &k) {
  if (k.intClamp) return _mm512_cvtepi32_ps(_mm512_max_epi32(_mm512_min_epi32(a, k.hiI), k.loI));
  return halfConv(a, k.clampLow, k.clampHigh, k.loHalf, k.hiHalf);
}

// The 64 bits of up to 4 masks of 16 channels, mask h at bit 16 h: 4 masks are joined in the
// mask registers and moved out once (a move per mask and the shifts cost the bitpacked and
// fused passes 2-3 % at 56x56x64, where the pixels are the outer loop; the residual passes,
// halves outer, move each mask out instead and gain more by loading the per-channel vectors
// once per half).
template <int N>
__attribute__((always_inline)) inline uint64_t joinMasks(const __mmask16 (&k)[N]) {
  if constexpr (N == 4) {
    return _cvtmask64_u64(_mm512_kunpackd(_mm512_kunpackw(k[3], k[2]), _mm512_kunpackw(k[1], k[0])));
  } else {
    uint64_t bits = 0;
    for (int h = 0; h < N; ++h) bits |= static_cast<uint64_t>(k[h]) << (16 * h);
    return bits;
  }
}

inline __mmask16 laneMask(int lanes) {  // the first `lanes` of 16 (lanes may be <= 0 or > 16)
  return static_cast<__mmask16>(lanes >= 16 ? 0xffff : lanes <= 0 ? 0 : (1u << lanes) - 1);
}

// One depth word: pixel i's word xp[i][k]; wk: the 64 channels' words. kShort: only the first
// `valid` pixels (an image's last tile: the missing pixels cost nothing but a branch).
template <int NV, bool kSub = false, bool kShort = false>
__attribute__((always_inline)) inline void depthStep(__m512i (&sums)[kMR][NV], const uint32_t *const *xp, int64_t k,
                                                     const uint32_t *wk, int valid = kMR) {
  __m512i wv[NV];
  #pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) wv[j] = _mm512_load_si512(wk + 16 * j);
  #pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) {
    if (kShort && i >= valid) break;
    // Each XOR + popcount + add is one asm statement with one temporary: with intrinsics GCC
    // gives some tiles (float output) more temporaries than the 32 registers allow beside the 24
    // accumulators and spills accumulators inside this loop.
    __m512i a;
    asm("vpbroadcastd %[x], %[a]" : [a] "=v"(a) : [x] "m"(xp[i][k]));
    #pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      __m512i t;
      if (kSub)  // the halved float path counts down from classBase / 2 (tile())
        asm("vpxord %[w], %[a], %[t]\n\tvpopcntd %[t], %[t]\n\tvpsubd %[t], %[s], %[s]"
            : [s] "+v"(sums[i][j]), [t] "=&v"(t)
            : [w] "v"(wv[j]), [a] "v"(a));
      else
        asm("vpxord %[w], %[a], %[t]\n\tvpopcntd %[t], %[t]\n\tvpaddd %[t], %[s], %[s]"
            : [s] "+v"(sums[i][j]), [t] "=&v"(t)
            : [w] "v"(wv[j]), [a] "v"(a));
    }
  }
}

// ORs `lanes` (<= 64) bits, channel c0 + j at bit j, into the zeroed bitpacked words at c0's
// word, `shift` = c0 % 32.
inline void orBits(uint32_t *word, int shift, int lanes, uint64_t bits) {
  const unsigned __int128 v = static_cast<unsigned __int128>(bits) << shift;
  word[0] |= static_cast<uint32_t>(v);
  if (shift + lanes > 32) word[1] |= static_cast<uint32_t>(v >> 32);
  if (shift + lanes > 64) word[2] |= static_cast<uint32_t>(v >> 64);
}

// Stores or ORs one pixel's bits of a block: whole aligned blocks store their two words.
inline void writeBits(uint32_t *word, int shift, int lanes, bool wholeBlock, uint64_t bits) {
  if (shift == 0 && wholeBlock) {
    word[0] = static_cast<uint32_t>(bits);
    word[1] = static_cast<uint32_t>(bits >> 32);
  } else {
    orBits(word, shift, lanes, bits);
  }
}

// The output pass of one tile's block b (channels from c = 64 * b on), pixel i at px0 + i from
// the call's bases; kOneClass: every pixel valid and of class row classRow[0].
template <int NV, bool kOneClass, Epilogue kEpilogue>
__attribute__((always_inline)) inline void epilogue(const __m512i (&sums)[kMR][NV], const TileOutput &to, int64_t px0,
                                                    int64_t b, bool wholeBlock) {
  constexpr int kHalves = NV;
  const int64_t c = kWide * b;  // the block's first channel, from the first block's
  const int valid = kOneClass ? kMR : to.valid;
  if (kEpilogue == Epilogue::kCounts) {
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 8
      for (int h = 0; h < kHalves; ++h) _mm512_store_si512(to.acc + i * kWide + 16 * h, sums[i][h]);
  } else if (kEpilogue == Epilogue::kHalfFloat) {
    // Halves outer, pixels inner: a half's multipliers and biases are loaded once for the 6
    // pixels (zmm loads issue about once a cycle here, and 48 per tile were the pass's largest
    // cost).
    const float *mult2 = to.mult + c, *bias = to.bias + c;  // to.mult: twice the multipliers
    asm("" : "+r"(mult2), "+r"(bias));  // as in the float epilogue
    const HalfClamp clamp = halfClamp(to);
    const int64_t stride = to.outStride;
    float *const out = static_cast<float *>(to.out) + px0 * stride + c;
#pragma GCC unroll 8
    for (int h = 0; h < kHalves; ++h) {
      const __mmask16 m = wholeBlock ? __mmask16(0xffff) : laneMask(to.lanes - 16 * h);
      __m512 m2 = wholeBlock ? _mm512_loadu_ps(mult2 + 16 * h) : _mm512_maskz_loadu_ps(m, mult2 + 16 * h);
      __m512 b0 = wholeBlock ? _mm512_loadu_ps(bias + 16 * h) : _mm512_maskz_loadu_ps(m, bias + 16 * h);
      asm("" : "+v"(m2), "+v"(b0));  // in registers, not folded into every pixel's arithmetic
#pragma GCC unroll 8
      for (int i = 0; i < kMR; ++i) {
        if (i >= valid) continue;
        const __m512 r = _mm512_add_ps(_mm512_mul_ps(halfConvClamped(sums[i][h], clamp), m2), b0);
        if (wholeBlock) _mm512_storeu_ps(out + i * stride + 16 * h, r);
        else _mm512_mask_storeu_ps(out + i * stride + 16 * h, m, r);
      }
    }
  } else if (kEpilogue == Epilogue::kHalfResidualBits || kEpilogue == Epilogue::kHalfResidual) {
    constexpr bool kQuantize = kEpilogue == Epilogue::kHalfResidualBits;
    // As kHalfFloat's pass, halves outer (a half's multipliers and biases loaded once for the 6
    // pixels); each pixel's Quantize bits are gathered in a general register (4 masks of 16).
    const float *mult2 = to.mult + c, *bias = to.bias + c;  // to.mult: twice the multipliers
    asm("" : "+r"(mult2), "+r"(bias));  // as in the float epilogue
    const HalfClamp clamp = halfClamp(to);
    const int64_t stride = to.outStride, bitsStride = to.bitsStride;
    float *const out = static_cast<float *>(to.out) + px0 * stride + c;
    const float *const residual = to.ops[0].values + to.residualOffset + px0 * stride + c;
    uint32_t *const words = kQuantize ? to.bits + px0 * bitsStride + 2 * b : nullptr;
    const bool clampAfter = !kQuantize && to.opCount == 2;  // [residual ADD, clamp] (runWide)
    const __m512 afterLo = _mm512_set1_ps(clampAfter ? to.ops[1].lo : 0.0f);
    const __m512 afterHi = _mm512_set1_ps(clampAfter ? to.ops[1].hi : 0.0f);
    const __m512 zero = _mm512_setzero_ps();
    uint64_t bits[kMR] = {};
#pragma GCC unroll 8
    for (int h = 0; h < kHalves; ++h) {
      __m512 m2 = _mm512_loadu_ps(mult2 + 16 * h), b0 = _mm512_loadu_ps(bias + 16 * h);
      asm("" : "+v"(m2), "+v"(b0));  // in registers, not folded into every pixel's arithmetic
#pragma GCC unroll 8
      for (int i = 0; i < kMR; ++i) {
        __m512 r = _mm512_add_ps(_mm512_mul_ps(halfConvClamped(sums[i][h], clamp), m2), b0);
        r = _mm512_add_ps(r, _mm512_loadu_ps(residual + i * stride + 16 * h));
        if (clampAfter) r = _mm512_min_ps(_mm512_max_ps(r, afterLo), afterHi);  // as applyPostOps16
        _mm512_storeu_ps(out + i * stride + 16 * h, r);
        if (kQuantize)
          bits[i] |= static_cast<uint64_t>(_cvtmask16_u32(_mm512_cmp_ps_mask(r, zero, _CMP_LT_OQ))) << (16 * h);
      }
    }
    if (kQuantize)
#pragma GCC unroll 8
      for (int i = 0; i < kMR; ++i) std::memcpy(words + i * bitsStride, &bits[i], sizeof bits[i]);  // channels 64 b on
  } else if (kEpilogue == Epilogue::kFloat) {
    // The clamp vectors are made here: hoisted out of the tile loop they would hold two of the
    // 32 registers through the accumulation, which then spills.
    int32_t loV = to.lo, hiV = to.hi;
    asm("" : "+r"(loV), "+r"(hiV));
    const __m512i lo = _mm512_set1_epi32(loV), hi = _mm512_set1_epi32(hiV);
    const float *mult = to.mult + c, *bias = to.bias + c;
    const int32_t *rowBase = to.classRow[0] + c;
    asm("" : "+r"(mult), "+r"(bias), "+r"(rowBase));  // nor the per-channel loads (the same for every tile)
    const int64_t stride = to.outStride;
    float *const out = static_cast<float *>(to.out) + px0 * stride + c;
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      if (i >= valid) continue;
      float *y = out + i * stride;
      const int32_t *base = kOneClass ? rowBase : to.classRow[i] + c;
#pragma GCC unroll 8
      for (int h = 0; h < kHalves; ++h) {
        const __m512i a = sums[i][h];
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
  } else if (kEpilogue == Epilogue::kFused || kEpilogue == Epilogue::kHalfFused) {
    constexpr bool kHalf = kEpilogue == Epilogue::kHalfFused;  // counts = conv / 2, to.mult = 2 m
    // Locals (the bits stores could alias the output's int fields), and a straight path for
    // the most common chains, a residual ADD alone (QuickNet, Bi-Real Net) or followed by a
    // ReLU-family clamp (the last block of a QuickNet section, ResNet-style blocks).
    const int lanes = to.lanes, bitShift = to.bitShift, opCount = to.opCount;
    const PostOp *ops = to.ops;
    const bool writeFloat = to.writeFloat, clampLow = to.clampLow, clampHigh = to.clampHigh;
    const bool straight = opCount >= 1 && opCount <= 2 && ops[0].kind == PostOp::Kind::kAddTensor &&
                          (opCount == 1 || ops[1].kind == PostOp::Kind::kClamp);
    const float *residual = straight ? ops[0].values : nullptr;
    const bool clampAfter = straight && opCount == 2;
    const __m512 afterLo = _mm512_set1_ps(clampAfter ? ops[1].lo : 0.0f), afterHi = _mm512_set1_ps(clampAfter ? ops[1].hi : 0.0f);
    const int64_t channel = to.channel0 + c, stride = to.outStride, bitsStride = to.bitsStride;
    int32_t loV = to.lo, hiV = to.hi;
    asm("" : "+r"(loV), "+r"(hiV));  // made here, not hoisted (as in the float epilogue)
    const __m512i lo = _mm512_set1_epi32(loV), hi = _mm512_set1_epi32(hiV);
    const __m512 loHalf = halfBound(to.lo), hiHalf = halfBound(to.hi);
    const float *mult = to.mult + c, *bias = to.bias + c;
    const int32_t *rowBase = to.classRow[0] + c;
    asm("" : "+r"(mult), "+r"(bias), "+r"(rowBase));  // as in the float epilogue
    const __m512 zero = _mm512_setzero_ps();
    // The counts go through the stack and the pixels are a loop: unrolled over 6 pixels, the
    // post-op variants made this function about 20 KB of code, and the pass ran slower than the
    // stores and reloads cost.
    alignas(64) int32_t counts[kMR][kWide];
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 8
      for (int h = 0; h < kHalves; ++h) _mm512_store_si512(counts[i] + 16 * h, sums[i][h]);
#pragma GCC unroll 1
    for (int i = 0; i < valid; ++i) {
      const int32_t *base = kOneClass ? rowBase : to.classRow[i] + c;
      float *y = writeFloat ? static_cast<float *>(to.out) + (px0 + i) * stride + c : nullptr;
      const int64_t at = to.residualOffset + (px0 + i) * stride + c;
      uint32_t *word = to.bits ? to.bits + (px0 + i) * bitsStride + 2 * b : nullptr;
      uint64_t bits = 0;
#pragma GCC unroll 8
      for (int h = 0; h < kHalves; ++h) {
        const __m512i a = _mm512_load_si512(counts[i] + 16 * h);
        const __mmask16 m = laneMask(lanes - 16 * h);
        __m512 r;
        if (kHalf) {
          const __m512 m2 = wholeBlock ? _mm512_loadu_ps(mult + 16 * h) : _mm512_maskz_loadu_ps(m, mult + 16 * h);
          const __m512 b0 = wholeBlock ? _mm512_loadu_ps(bias + 16 * h) : _mm512_maskz_loadu_ps(m, bias + 16 * h);
          r = _mm512_add_ps(_mm512_mul_ps(halfConv(a, clampLow, clampHigh, loHalf, hiHalf), m2), b0);
          if (residual)
            r = _mm512_add_ps(r, wholeBlock ? _mm512_loadu_ps(residual + at + 16 * h)
                                            : _mm512_maskz_loadu_ps(m, residual + at + 16 * h));
        } else if (wholeBlock) {
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
        else if (clampAfter) r = _mm512_min_ps(_mm512_max_ps(r, afterLo), afterHi);  // as applyPostOps16
        if (y) {
          if (wholeBlock) _mm512_storeu_ps(y + 16 * h, r);
          else _mm512_mask_storeu_ps(y + 16 * h, m, r);
        }
        bits |= static_cast<uint64_t>(_mm512_mask_cmp_ps_mask(m, r, zero, _CMP_LT_OQ)) << (16 * h);
      }
      if (word) writeBits(word, bitShift, lanes, wholeBlock, bits);  // zeroed by run()
    }
  } else {
    // bit = acc > clamp(threshold, -1, K) + classHalfDelta[class]; a row tile's pixels share
    // the class, so the sum is made once.
    int32_t lowest = -1, K = to.K;
    asm("" : "+r"(lowest), "+r"(K));  // made here, not hoisted (as in the float epilogue)
    const __m512i tlo = _mm512_set1_epi32(lowest), thi = _mm512_set1_epi32(K);
    const int32_t *threshold = to.threshold;
    asm("" : "+r"(threshold));
    __m512i thr[kHalves];
#pragma GCC unroll 8
    for (int h = 0; h < kHalves; ++h) {
      const __mmask16 m = laneMask(to.lanes - 16 * h);
      thr[h] = _mm512_max_epi32(_mm512_min_epi32(_mm512_maskz_loadu_epi32(m, threshold + c + 16 * h), thi), tlo);
      if (kOneClass) thr[h] = _mm512_add_epi32(thr[h], _mm512_maskz_loadu_epi32(m, to.classRow[0] + c + 16 * h));
    }
    const int64_t stride = to.outStride;
    uint32_t *const out = static_cast<uint32_t *>(to.out) + px0 * stride + 2 * b;
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      if (i >= valid) continue;
      __mmask16 k[kHalves];
#pragma GCC unroll 8
      for (int h = 0; h < kHalves; ++h) {
        const __mmask16 m = laneMask(to.lanes - 16 * h);
        const __m512i t =
            kOneClass ? thr[h] : _mm512_add_epi32(thr[h], _mm512_maskz_loadu_epi32(m, to.classRow[i] + c + 16 * h));
        k[h] = _mm512_mask_cmpgt_epi32_mask(m, sums[i][h], t);
      }
      writeBits(out + i * stride, to.bitShift, to.lanes, wholeBlock, joinMasks(k));  // zeroed by run()
    }
  }
}

// `tiles` consecutive tiles x `blocks` consecutive blocks of 64 output channels (NV vectors
// each): sums[i][j] lane l = sum over taps and depth words of popcount(x_i ^ w_{16j+l}), then the
// epilogue. w: the first block [taps][words32][64], the next ones blockWords on.
template <int NV, Source kSource, Epilogue kEpilogue, bool kOneClass>
__attribute__((noinline)) void tile(const TileInput &in, const uint32_t *w0, int64_t blockWords, int64_t blocks,
                                    int64_t tiles, const TileOutput &output) {
  // A local copy: the output stores cannot alias it, so its fields stay in registers.
  const TileOutput to = output;
  const bool wholeBlock = to.lanes == kWide;
  const int64_t taps = in.taps, words32 = in.words32;
  const uint32_t *const image = in.image + in.groupOffset;
  for (int64_t tt = 0; tt < tiles; ++tt) {
    const int64_t px0 = tt * kMR;  // the tile's first pixel, from the call's
    const uint32_t *pixel[kMR];  // row source: the pixels' tap 0
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) pixel[i] = kSource == Source::kRow ? image + in.pixelBase[px0 + i] : nullptr;
    const uint32_t *w = w0;
    for (int64_t b = 0; b < blocks; ++b, w += blockWords) {
      __m512i sums[kMR][NV];
      constexpr bool kHalf = kEpilogue == Epilogue::kHalfFloat || kEpilogue == Epilogue::kHalfFused ||
                             kEpilogue == Epilogue::kHalfResidualBits || kEpilogue == Epilogue::kHalfResidual;
      static_assert(!kHalf || kSource == Source::kRow, "the halved passes: row tiles");
      if (kHalf) {  // classBase / 2 of each pixel's class (one class row, or one per pixel)
        const int64_t c = kWide * b;
#pragma GCC unroll 8
        for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 8
          for (int j = 0; j < NV; ++j) {
            if (kOneClass && i > 0) {
              sums[i][j] = sums[0][j];
            } else {
              const int32_t *base = to.classRow[kOneClass ? 0 : i] + c + 16 * j;
              sums[i][j] = _mm512_srai_epi32(
                  wholeBlock ? _mm512_loadu_si512(base) : _mm512_maskz_loadu_epi32(laneMask(to.lanes - 16 * j), base), 1);
            }
          }
      } else {
#pragma GCC unroll 8
        for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 8
          for (int j = 0; j < NV; ++j) sums[i][j] = _mm512_setzero_si512();
      }
      const uint32_t *wt = w;
      if (kSource == Source::kRow) {  // the word at pixel[i] + index: one index for the 6 pixels
        const int64_t steps = taps * words32;
        for (int64_t q = 0; q < steps; ++q) depthStep<NV, kHalf>(sums, pixel, in.depthIndex[q], wt + q * kWide);
      } else {
        for (int64_t t = 0; t < taps; ++t, wt += words32 * kWide) {
          const uint32_t *xp[kMR];
#pragma GCC unroll 8
          for (int i = 0; i < kMR; ++i) xp[i] = in.x[t * kMR + i] + in.groupOffset;
          for (int64_t k = 0; k < words32; ++k) depthStep<NV, kHalf, true>(sums, xp, k, wt + k * kWide, to.valid);
        }
      }
      epilogue<NV, kOneClass, kEpilogue>(sums, to, px0, b, wholeBlock);
    }
  }
}

using TileFn = void (*)(const TileInput &, const uint32_t *, int64_t, int64_t, int64_t, const TileOutput &);

template <Source kSource, Epilogue kEpilogue, bool kOneClass>
constexpr TileFn kTiles[5] = {nullptr, tile<1, kSource, kEpilogue, kOneClass>, tile<2, kSource, kEpilogue, kOneClass>,
                              tile<3, kSource, kEpilogue, kOneClass>, tile<4, kSource, kEpilogue, kOneClass>};

// Row tiles of one class row, row tiles with a class row per pixel, pointer tiles (a row per
// pixel); the halved epilogues only for the first.
template <Epilogue kEpilogue>
TileFn tileFn(bool row, bool oneClass, int nv) {
  return row && oneClass ? kTiles<Source::kRow, kEpilogue, true>[nv]
         : row           ? kTiles<Source::kRow, kEpilogue, false>[nv]
                         : kTiles<Source::kPointers, kEpilogue, false>[nv];
}

// The halved passes: row tiles (their accumulators start from each pixel's class row / 2).
template <Epilogue kEpilogue>
TileFn halfFn(bool oneClass, int nv) {
  return oneClass ? kTiles<Source::kRow, kEpilogue, true>[nv] : kTiles<Source::kRow, kEpilogue, false>[nv];
}

// [groups][blocks of kWide channels][taps][words32][kWide] uint32, lane j of a block = its
// output channel j (a group's last block padded with zero channels).
void packWideFilter(const Bconv2dPlan &plan, PackedFilter &out) {
  const Bconv2dShape &s = plan.shape;
  const int64_t taps = plan.taps, words = s.wordsPerGroup, outPerGroup = plan.outPerGroup;
  const int64_t blocks = (outPerGroup + kWide - 1) / kWide;
  out.bytes.assign(s.groups * blocks * taps * words * kWide * sizeof(uint32_t), 0);
  auto *packed = reinterpret_cast<uint32_t *>(out.bytes.data());
  const auto *filter = reinterpret_cast<const uint32_t *>(plan.filter.data());
  for (int64_t c = 0; c < s.channelsOut; ++c) {
    const int64_t g = c / outPerGroup, b = (c % outPerGroup) / kWide, lane = (c % outPerGroup) % kWide;
    uint32_t *dst = packed + (g * blocks + b) * taps * words * kWide;
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t k = 0; k < words; ++k) dst[(t * words + k) * kWide + lane] = filter[(c * taps + t) * words + k];
  }
}

void runWide(const Bconv2dPlan &plan, const PackedFilter &filter, const int32_t *input, const Bconv2dOutput &o,
             void *out, int64_t firstTile, int64_t endTile, const uint32_t **x) {
  const TileContext ctx(plan, input, o, out);
  const Bconv2dShape &s = plan.shape;
  const int64_t blockWords = ctx.taps * s.wordsPerGroup * kWide, outWords = packedWords(s.channelsOut);
  const bool plainFloat = o.type == OutputType::kFloat && o.postOpCount == 0 && !o.bits && o.writeFloat;
  // The halved float paths (kHalfFloat, kHalfFused): even classBase, 2 * m exact.
  thread_local std::vector<float> twice;
  bool halved = o.type == OutputType::kFloat && plan.classBaseEven;
  if (halved) {
    twice.resize(s.channelsOut);
    for (int64_t c = 0; c < s.channelsOut && halved; ++c) {
      const float m = ctx.mult[c];
      halved = std::isfinite(m) && std::fabs(m) < 0x1p126f;
      twice[c] = 2.0f * m;
    }
  }
  // (Row tiles only: with classBase / 2 per pixel of a pointer tile GCC spilled accumulators
  // in the inner loop; those tiles take the kFloat / kFused pass, the same values.)
  const Epilogue epilogue = plainFloat                          ? Epilogue::kFloat
                            : o.type == OutputType::kFloat     ? Epilogue::kFused
                            : o.type == OutputType::kBitpacked ? Epilogue::kBits
                                                               : Epilogue::kCounts;
  const Epilogue rowEpilogue = !halved ? epilogue : plainFloat ? Epilogue::kHalfFloat : Epilogue::kHalfFused;
  // kHalfFused's residual chains, for calls of whole blocks: ADD and the Quantize (at a word
  // boundary), or ADD and an optional clamp.
  const bool residualBits = o.postOpCount == 1 && o.postOps[0].kind == PostOp::Kind::kAddTensor && o.bits &&
                            o.writeFloat && out;
  const bool residualOnly = o.postOpCount >= 1 && o.postOpCount <= 2 && o.postOps[0].kind == PostOp::Kind::kAddTensor &&
                            (o.postOpCount == 1 || o.postOps[1].kind == PostOp::Kind::kClamp) && !o.bits &&
                            o.writeFloat && out;
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
  to.intClamp = (!to.clampLow || ctx.lo32 % 2 == 0) && (!to.clampHigh || ctx.hi32 % 2 == 0);
  to.ops = o.postOps, to.opCount = o.postOpCount, to.writeFloat = o.writeFloat && out;
  to.outStride = epilogue == Epilogue::kBits ? outWords : s.channelsOut, to.bitsStride = outWords;
  TileInput in;
  in.x = x, in.depthIndex = plan.depthIndex.data(), in.taps = ctx.taps, in.words32 = s.wordsPerGroup;
  const int32_t *pixelClass = plan.pixelClass.data();
  // The class shared by pixels [q, q + kMR) of one image, or -1.
  auto tileClass = [&](int64_t q) {
    if (q + kMR > ctx.image) return -1;
    for (int i = 1; i < kMR; ++i)
      if (pixelClass[q + i] != pixelClass[q]) return -1;
    return pixelClass[q];
  };
  for (int64_t tile = firstTile; tile < endTile;) {
    const int64_t p0 = tile * kMR;
    const int64_t n = s.batch == 1 ? 0 : p0 / ctx.image, q0 = p0 - n * ctx.image;
    const bool row = q0 + kMR <= ctx.image;
    const int32_t cls = row ? tileClass(q0) : -1;
    // A run of row tiles of one image and one class goes to one call (int8: one tile a call,
    // the generic transform reads the counts of one tile; a class row per pixel: one tile).
    int64_t tiles = 1;
    if (cls >= 0 && epilogue != Epilogue::kCounts)
      for (int64_t q = q0 + kMR; tile + tiles < endTile && tileClass(q) == cls; q += kMR) ++tiles;
    int64_t qs[kMR];
    int32_t full[kMR];
    bool border = false;
    const int valid = static_cast<int>(std::min<int64_t>(kMR, ctx.pixels - p0));
    for (int i = 0; i < kMR; ++i) {  // a short tile repeats its last pixel
      const int64_t p = p0 + std::min(i, valid - 1);
      const int64_t pn = s.batch == 1 ? 0 : p / ctx.image;
      qs[i] = p - pn * ctx.image;
      if (epilogue == Epilogue::kCounts) {  // for writeTile
        full[i] = plan.counted[qs[i]] * static_cast<int32_t>(s.channelsPerGroup);
        border |= plan.skippedBegin[qs[i]] != plan.skippedBegin[qs[i] + 1];
      }
      if (!row)
        for (int64_t t = 0; t < ctx.taps; ++t)
          x[t * kMR + i] = ctx.in + pn * plan.paddedImageWords + plan.pixelBase[qs[i]] + plan.tapStep[t];
    }
    in.image = ctx.in + n * plan.paddedImageWords;
    in.pixelBase = plan.pixelBase.data() + q0;
    to.valid = valid;
    for (int64_t g = 0; g < s.groups; ++g) {
      const uint32_t *w = filter.as<uint32_t>() + g * wideBlocksPerGroup * blockWords;
      in.groupOffset = g * s.wordsPerGroup;
      int64_t c0 = g * plan.outPerGroup;
      // Runs of blocks with the same width: the whole ones, then the tail (int8: one at a time).
      for (int64_t b = 0; b < wideBlocksPerGroup;) {
        const bool whole = b < wholeBlocks;
        const int lanes = whole ? kWide : tailLanes;
        const int64_t blocks = epilogue == Epilogue::kCounts || !whole ? 1 : wholeBlocks;
        to.lanes = lanes;
        Epilogue e = row ? rowEpilogue : epilogue;
        if (e == Epilogue::kHalfFused && lanes == kWide && residualBits && c0 % 32 == 0) e = Epilogue::kHalfResidualBits;
        if (e == Epilogue::kHalfFused && lanes == kWide && residualOnly) e = Epilogue::kHalfResidual;
        const bool half = e == Epilogue::kHalfFloat || e == Epilogue::kHalfFused || e == Epilogue::kHalfResidualBits ||
                          e == Epilogue::kHalfResidual;
        to.mult = (half ? twice.data() : ctx.mult) + c0, to.bias = ctx.bias + c0, to.threshold = o.threshold ? o.threshold + c0 : nullptr;
        to.bitShift = static_cast<int>(c0 % 32);
        to.channel0 = c0;
        for (int i = 0; i < (cls >= 0 ? 1 : kMR); ++i) to.classRow[i] = classRows + plan.pixelClass[qs[i]] * s.channelsOut + c0;
        to.residualOffset = p0 * s.channelsOut + c0;
        to.bits = o.bits ? reinterpret_cast<uint32_t *>(o.bits) + p0 * outWords + c0 / 32 : nullptr;
        to.out = epilogue == Epilogue::kBits ? static_cast<void *>(static_cast<uint32_t *>(out) + p0 * outWords + c0 / 32)
                 : out                       ? static_cast<void *>(static_cast<float *>(out) + p0 * s.channelsOut + c0)
                                             : nullptr;
        const int nv = (lanes + 15) / 16;
        const bool oneClass = cls >= 0;
        const TileFn fn = e == Epilogue::kHalfFloat          ? halfFn<Epilogue::kHalfFloat>(oneClass, nv)
                          : e == Epilogue::kHalfFused        ? halfFn<Epilogue::kHalfFused>(oneClass, nv)
                          : e == Epilogue::kHalfResidualBits ? halfFn<Epilogue::kHalfResidualBits>(oneClass, nv)
                          : e == Epilogue::kHalfResidual     ? halfFn<Epilogue::kHalfResidual>(oneClass, nv)
                          : e == Epilogue::kFloat     ? tileFn<Epilogue::kFloat>(row, oneClass, nv)
                          : e == Epilogue::kBits      ? tileFn<Epilogue::kBits>(row, oneClass, nv)
                          : e == Epilogue::kFused     ? tileFn<Epilogue::kFused>(row, oneClass, nv)
                                                      : tileFn<Epilogue::kCounts>(row, oneClass, nv);
        fn(in, w + b * blockWords, blockWords, blocks, tiles, to);
        if (epilogue == Epilogue::kCounts) ctx.writeTile(p0, valid, qs, full, border, c0, lanes, acc, kWide, conv);
        b += blocks, c0 += blocks * kWide;
      }
    }
    tile += tiles;
  }
}

}  // namespace

const IndirectKernel &bconv2d_indirect_avx512() {
  static const IndirectKernel kernel{Isa::kAvx512, "avx512 (6 pixels x 64 channels, vpopcntd)", kMR, packWideFilter,
                                     runWide, /*paddedInput=*/true};
  return kernel;
}

}  // namespace lce_kernels
