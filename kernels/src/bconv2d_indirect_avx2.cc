// Indirect-BGEMM Bconv2d, AVX2 byte-LUT microkernel (built with -mavx2 -mpopcnt).
//
// The textbook AVX2 XOR + popcount (XOR, then the vpshufb nibble lookup of Mula, Kurz and
// Lemire on both nibbles) costs 8 vector ops per 256 bit products, and vector issue bounds it.
// This kernel needs no XOR, no shift and no mask: for one input byte `a` (8 channels of one
// pixel) the 16-entry table popcount(k ^ (a & 15)) is indexed by the low nibbles of 32 output
// channels' filter bytes, and the table popcount(k ^ (a >> 4)) by their high nibbles. So
// 2 vpshufb + 2 vpaddb count 32 channels x 8 bits: 4 ops per 256 bit products (register-resident,
// 1.56x the XOR + popcount loop's rate on the Zen 3 machines here; benchmarks/README.md). The two
// tables of every byte value are one 32-byte row of kByteTables (8 KiB, L1-resident); the filter
// nibbles are prepared once (packLutFilter).
//
// A microkernel call accumulates MR output pixels x NV blocks of 32 output channels over all taps
// and depth bytes: MR * NV byte counters (registers), widened every 31 depth bytes (at most 8
// per byte and step: 31 * 8 < 256) into 16-bit counters with vpunpck{l,h}bw (the filter's
// channel order makes the widened words come out in channel order), and those every 256
// widenings (256 * 248 < 65536) into 32-bit counters, so any depth is exact.
#include <immintrin.h>

#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
namespace {

constexpr int kLutBlock = 32;  // output channels per filter block

// The plan's geometry of the byte-LUT layout: ceil(channels per group / 8) depth bytes per tap,
// blocks of 32 output channels per group.
struct LutGeometry {
  int64_t bytes, blocksPerGroup, blockStride;
  explicit LutGeometry(const Bconv2dPlan &plan)
      : bytes((plan.shape.channelsPerGroup + 7) / 8), blocksPerGroup((plan.outPerGroup + kLutBlock - 1) / kLutBlock),
        blockStride(plan.taps * bytes * 64) {}
};

// The filter in the byte-LUT layout: [groups][blocks][taps][bytes][64] bytes, per tap and depth
// byte the low nibbles of the block's 32 channels' filter bytes, then their high nibbles, each
// half in the channel order [0-7, 16-23, 8-15, 24-31] (the kernel's byte-to-16-bit widening
// restores it). Byte b of a group's filter holds channels 8b .. 8b+7 (little-endian words); the
// bytes past the channel count are zero in the input and the filter alike, so they are not
// stored.
void packLutFilter(const Bconv2dPlan &plan, PackedFilter &out) {
  const Bconv2dShape &s = plan.shape;
  const LutGeometry geo(plan);
  out.bytes.assign(s.groups * geo.blocksPerGroup * geo.blockStride, 0);
  for (int64_t c = 0; c < s.channelsOut; ++c) {
    const int64_t g = c / plan.outPerGroup, b = (c % plan.outPerGroup) / kLutBlock;
    const int64_t lane = (c % plan.outPerGroup) % kLutBlock;
    const int64_t pos = (lane & ~int64_t{24}) | ((lane & 8) << 1) | ((lane & 16) >> 1);  // swap lanes 8-15, 16-23
    uint8_t *dst = out.bytes.data() + (g * geo.blocksPerGroup + b) * geo.blockStride;
    for (int64_t t = 0; t < plan.taps; ++t) {
      const auto *w = reinterpret_cast<const uint8_t *>(plan.filter.data() + (c * plan.taps + t) * s.wordsPerGroup);
      for (int64_t k = 0; k < geo.bytes; ++k) {
        dst[(t * geo.bytes + k) * 64 + pos] = w[k] & 15;
        dst[(t * geo.bytes + k) * 64 + 32 + pos] = w[k] >> 4;
      }
    }
  }
}

// kByteTables.t[a] = {popcount(k ^ (a & 15)) for k < 16, popcount(k ^ (a >> 4)) for k < 16}.
// Built at compile time: this translation unit must not run code at load time (it is compiled
// for AVX2 and loaded on every CPU).
struct ByteTables {
  alignas(64) uint8_t t[256][32];
};
constexpr int popcount4(int v) { return (v & 1) + ((v >> 1) & 1) + ((v >> 2) & 1) + ((v >> 3) & 1); }
constexpr ByteTables makeByteTables() {
  ByteTables tables{};
  for (int a = 0; a < 256; ++a)
    for (int k = 0; k < 16; ++k) {
      tables.t[a][k] = static_cast<uint8_t>(popcount4(k ^ (a & 15)));
      tables.t[a][16 + k] = static_cast<uint8_t>(popcount4(k ^ (a >> 4)));
    }
  return tables;
}
constexpr ByteTables kByteTables = makeByteTables();

// Adds one block's byte counters into its 16-bit counters `wide` (32, channel order). The
// counters are passed by value: taking their address would keep them out of registers.
constexpr int kStepsPerWiden = 31, kWidensPerFlush = 256;

// (`fresh`: `wide` holds nothing yet, the counters are stored instead of added: no memset.)
inline void widenInto(__m256i counts, uint16_t *wide, bool fresh) {
  const __m256i zero = _mm256_setzero_si256();
  auto *p = reinterpret_cast<__m256i *>(wide);
  const __m256i low = _mm256_unpacklo_epi8(counts, zero), high = _mm256_unpackhi_epi8(counts, zero);
  _mm256_store_si256(p, fresh ? low : _mm256_add_epi16(_mm256_load_si256(p), low));
  _mm256_store_si256(p + 1, fresh ? high : _mm256_add_epi16(_mm256_load_si256(p + 1), high));
}

// Moves the 16-bit counters into the 32-bit `acc` (`deep`: acc already holds a partial sum).
template <int MR, int NV>
void flushWide(uint16_t *wide, int32_t *acc, bool &deep) {
  for (int k = 0; k < MR * NV * kLutBlock; ++k) acc[k] = (deep ? acc[k] : 0) + wide[k], wide[k] = 0;
  deep = true;
}

// acc[i * NV * 32 + j * 32 + c] = sum over taps and depth bytes of popcount(x_i ^ w_{j,c}).
// pixel[i]: pixel i's tap 0 in the padded input (IndirectKernel::paddedInput), at its group's
// first word; tap t is tapStep[t] words on. w: NV filter blocks blockStride bytes apart, each
// [taps][bytes][64]; wide: scratch for MR * NV * 32 counters.
// Returns whether the counts are in acc (int32): always when `wantAcc` or when a depth needed
// the 32-bit flush, else they are left in `wide` (16-bit, the same layout) for a writer that
// reads them there (the straight passes' uint16_t variants: no conversion pass).
// Kept out of line: inlined into the tile loop, GCC allocates the counters' registers worse
// (measured 1.4x slower on 56x56x64).
template <int MR, int NV>
__attribute__((noinline)) bool lutAccumulate(const uint32_t *const *pixel, const int64_t *tapStep, int64_t taps,
                                              int64_t bytes, const uint8_t *w, int64_t blockStride, uint16_t *wide,
                                              int32_t *acc, bool wantAcc) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i counts[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) counts[i][j] = zero;
  int64_t steps = kStepsPerWiden;  // steps left before the byte counters must be widened
  int widens = kWidensPerFlush;
  bool deep = false, fresh = true;  // fresh: nothing widened into `wide` yet
  const uint8_t *wk = w;
  for (int64_t t = 0; t < taps; ++t) {
    const uint8_t *xp[MR];
    for (int i = 0; i < MR; ++i) xp[i] = reinterpret_cast<const uint8_t *>(pixel[i] + tapStep[t]);
    for (int64_t d = 0; d < bytes;) {
      const int64_t end = std::min(bytes, d + steps);
      steps -= end - d;
      for (; d < end; ++d, wk += 64) {
        // Up to 2 blocks, the filter vectors stay in registers for the MR pixels; with 4 blocks
        // they are read again for every pixel as memory operands of vpshufb (the empty asm hides
        // that they are the same), as 8 registers for them would push the counters out of the
        // 16 ymm registers.
        __m256i low[NV], high[NV];
        if (NV <= 2)
          for (int j = 0; j < NV; ++j) {
            low[j] = _mm256_load_si256(reinterpret_cast<const __m256i *>(wk + j * blockStride));
            high[j] = _mm256_load_si256(reinterpret_cast<const __m256i *>(wk + j * blockStride) + 1);
          }
        for (int i = 0; i < MR; ++i) {
          const uint8_t *row = kByteTables.t[xp[i][d]];
          const __m256i tableLow =
              _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i *>(row)));
          const __m256i tableHigh =
              _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i *>(row + 16)));
          const uint8_t *wi = wk;
          if (NV > 2) asm("" : "+r"(wi));
          for (int j = 0; j < NV; ++j) {
            const auto *wj = reinterpret_cast<const __m256i *>(wi + j * blockStride);
            const __m256i l = NV <= 2 ? low[j] : _mm256_load_si256(wj);
            const __m256i h = NV <= 2 ? high[j] : _mm256_load_si256(wj + 1);
            counts[i][j] = _mm256_add_epi8(counts[i][j], _mm256_shuffle_epi8(tableLow, l));
            counts[i][j] = _mm256_add_epi8(counts[i][j], _mm256_shuffle_epi8(tableHigh, h));
          }
        }
      }
      if (steps == 0) {
        for (int i = 0; i < MR; ++i)
          for (int j = 0; j < NV; ++j) widenInto(counts[i][j], wide + (i * NV + j) * kLutBlock, fresh), counts[i][j] = zero;
        fresh = false;
        if (--widens == 0) flushWide<MR, NV>(wide, acc, deep), widens = kWidensPerFlush;  // zeroes `wide`
        steps = kStepsPerWiden;
      }
    }
  }
  for (int i = 0; i < MR; ++i)  // the 16-bit counters go into acc 8 at a time below
    for (int j = 0; j < NV; ++j) widenInto(counts[i][j], wide + (i * NV + j) * kLutBlock, fresh);
  if (!wantAcc && !deep) return false;
  for (int k = 0; k < MR * NV * kLutBlock; k += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_load_si128(reinterpret_cast<const __m128i *>(wide + k)));
    auto *a = reinterpret_cast<__m256i *>(acc + k);
    _mm256_storeu_si256(a, deep ? _mm256_add_epi32(_mm256_loadu_si256(a), w) : w);
  }
  return true;
}

// 8 counts as int32: from the int32 counts, or widened from the 16-bit ones.
inline __m256i loadCounts8(const int32_t *a) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a)); }
inline __m256i loadCounts8(const uint16_t *a) {
  return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(a)));
}

// Float output, lanes a multiple of 8: writeOutput's math (conv = classBase[class] - 2 * acc,
// the plan's border classes folding zero padding's correction in, clamped in std::clamp's order,
// float32 multiply, then add, then the
// post ops and the fused Quantize bits of finishFloat) with AVX2, 8 channels at a time. (The
// generic loops in bconv2d_indirect_impl.h did not vectorize well inlined here: they took a
// quarter of the 56x56x64 layer's time.) The fields are read once into locals (the output
// stores could alias them), a residual ADD alone (QuickNet's block) has a straight path, and the
// Quantize bits of 32 channels are gathered in a register and written once.
void writeFloatTile(const TileContext &ctx, int64_t p0, int valid, const int64_t *qs, int64_t c0, int lanes,
                    const int32_t *acc, int stride) {
  const Bconv2dOutput &o = ctx.o;
  const int64_t C = ctx.s.channelsOut, words = packedWords(C);
  const float *const mult = ctx.mult, *const bias = ctx.bias;
  float *const out = o.writeFloat ? static_cast<float *>(ctx.out) : nullptr;
  uint32_t *const bits = reinterpret_cast<uint32_t *>(o.bits);
  const int opCount = o.postOpCount;
  PostOp ops[16];
  for (int k = 0; k < opCount && k < 16; ++k) ops[k] = o.postOps[k];
  const float *const residual = opCount == 1 && ops[0].kind == PostOp::Kind::kAddTensor ? ops[0].values : nullptr;
  const bool clamp = ctx.lo > -ctx.s.K || ctx.hi < ctx.s.K;
  const __m256i lo = _mm256_set1_epi32(ctx.lo32), hi = _mm256_set1_epi32(ctx.hi32);
  const __m256 zero = _mm256_setzero_ps();
  for (int i = 0; i < valid; ++i) {
    const int64_t pixel = p0 + i;
    const int32_t *base = ctx.plan.classBase.data() + ctx.plan.pixelClass[qs[i]] * C;
    for (int j0 = 0; j0 < lanes; j0 += 32) {
      const int jEnd = std::min(lanes, j0 + 32);
      uint32_t word = 0;  // the Quantize bits of channels c0 + j0 .. c0 + jEnd - 1
      for (int j = j0; j < jEnd; j += 8) {
        const int64_t c = c0 + j;
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(acc + i * stride + j));
        __m256i v = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(base + c)),
                                     _mm256_add_epi32(a, a));
        if (clamp) v = _mm256_blendv_epi8(_mm256_min_epi32(v, hi), lo, _mm256_cmpgt_epi32(lo, v));
        const __m256 scaled = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(mult + c));
        __m256 r = _mm256_add_ps(scaled, _mm256_loadu_ps(bias + c));
        if (residual) {
          r = _mm256_add_ps(r, _mm256_loadu_ps(residual + pixel * C + c));
        } else {
          for (int k = 0; k < opCount; ++k) {
            const PostOp &op = ops[k];
            switch (op.kind) {
              case PostOp::Kind::kMul: r = _mm256_mul_ps(r, _mm256_loadu_ps(op.values + c)); break;
              case PostOp::Kind::kAdd: r = _mm256_add_ps(r, _mm256_loadu_ps(op.values + c)); break;
              case PostOp::Kind::kAddTensor: r = _mm256_add_ps(r, _mm256_loadu_ps(op.values + pixel * C + c)); break;
              case PostOp::Kind::kClamp:
                r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(op.lo)), _mm256_set1_ps(op.hi));
                break;
            }
          }
        }
        if (out) _mm256_storeu_ps(out + pixel * C + c, r);
        if (bits) word |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(r, zero, _CMP_LT_OQ))) << (j - j0);
      }
      if (bits) {  // up to 32 bits at channel c0 + j0 (they may straddle two words)
        const int64_t c = c0 + j0;
        auto *w = bits + pixel * words + c / 32;
        const uint64_t shifted = static_cast<uint64_t>(word) << (c % 32);
        w[0] |= static_cast<uint32_t>(shifted);
        if (shifted >> 32) w[1] |= static_cast<uint32_t>(shifted >> 32);
      }
    }
  }
}

// writeFloatTile's most common chains written out, for whole 32-channel blocks at a word
// boundary (lanes % 32 == 0, c0 % 32 == 0): the float result written, no post op or a residual
// ADD (kResidual) optionally followed by a ReLU-family clamp (kAfterClamp: the last block of a
// QuickNet section), optionally the Quantize bits (kBits: 32 channels a word, stored once; run()
// zeroed them). The same float operations in the same order; the conditions are template
// parameters and the pointers are made per pixel (the generic loop's branches and index
// arithmetic per 8 channels were 3x its vector work: 1600 instructions per 4-pixel tile of
// 56x56x64).
// kClamp: 0 no clamp, 1 only the lower bound can bind (ReLU on the conv: max), 2 only the upper
// (min), 3 both (in std::clamp's order, as writeFloatTile).
template <int kClamp, bool kResidual, bool kAfterClamp, bool kBits, typename Count = int32_t>
void writeFloatTileFast(const TileContext &ctx, int64_t p0, int valid, const int64_t *qs, int64_t c0, int lanes,
                        const Count *acc, int stride) {
  const Bconv2dOutput &o = ctx.o;
  const int64_t C = ctx.s.channelsOut, words = packedWords(C);
  const float *const mult = ctx.mult + c0, *const bias = ctx.bias + c0;
  const __m256i lo = _mm256_set1_epi32(ctx.lo32), hi = _mm256_set1_epi32(ctx.hi32);
  const __m256 afterLo = _mm256_set1_ps(kAfterClamp ? o.postOps[1].lo : 0.0f);
  const __m256 afterHi = _mm256_set1_ps(kAfterClamp ? o.postOps[1].hi : 0.0f);
  const __m256 zero = _mm256_setzero_ps();
  for (int i = 0; i < valid; ++i) {
    const int64_t pixel = p0 + i;
    const int32_t *const base = ctx.plan.classBase.data() + ctx.plan.pixelClass[qs[i]] * C + c0;
    float *const y = static_cast<float *>(ctx.out) + pixel * C + c0;
    const float *const residual = kResidual ? o.postOps[0].values + pixel * C + c0 : nullptr;
    uint32_t *const word = kBits ? reinterpret_cast<uint32_t *>(o.bits) + pixel * words + c0 / 32 : nullptr;
    const Count *const a = acc + i * stride;
    for (int j0 = 0; j0 < lanes; j0 += 32) {
      uint32_t bits = 0;
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {  // 8 channels each
        const int j = j0 + 8 * q;
        const __m256i n = loadCounts8(a + j);
        __m256i v = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(base + j)),
                                     _mm256_add_epi32(n, n));
        if (kClamp == 1) v = _mm256_max_epi32(v, lo);  // v <= hi: std::clamp's value
        if (kClamp == 2) v = _mm256_min_epi32(v, hi);  // v >= lo
        if (kClamp == 3) v = _mm256_blendv_epi8(_mm256_min_epi32(v, hi), lo, _mm256_cmpgt_epi32(lo, v));  // as writeFloatTile
        __m256 r = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(mult + j)), _mm256_loadu_ps(bias + j));
        if (kResidual) r = _mm256_add_ps(r, _mm256_loadu_ps(residual + j));
        if (kAfterClamp) r = _mm256_min_ps(_mm256_max_ps(r, afterLo), afterHi);
        _mm256_storeu_ps(y + j, r);
        if (kBits) bits |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(r, zero, _CMP_LT_OQ))) << (8 * q);
      }
      if (kBits) word[j0 / 32] = bits;
    }
  }
}

template <typename Count>
using FloatTileFn = void (*)(const TileContext &, int64_t, int, const int64_t *, int64_t, int, const Count *, int);

// The straight float writer of a tile (int32 or 16-bit counts), or null where none applies.
template <typename Count>
FloatTileFn<Count> straightFloatWriter(const TileContext &ctx, int64_t c0, int lanes) {
  const Bconv2dOutput &o = ctx.o;
  const bool residual = o.postOpCount >= 1 && o.postOps[0].kind == PostOp::Kind::kAddTensor;
  const bool afterClamp = o.postOpCount == 2 && residual && o.postOps[1].kind == PostOp::Kind::kClamp;
  if (!ctx.floatOut || lanes % 32 != 0 || c0 % 32 != 0 || !o.writeFloat || !ctx.out ||
      !(o.postOpCount == 0 || (residual && o.postOpCount == 1) || afterClamp))
    return nullptr;
  const int clamp = (ctx.lo > -ctx.s.K ? 1 : 0) | (ctx.hi < ctx.s.K ? 2 : 0);
  const bool bits = o.bits != nullptr;
#define LCE_FAST(c, r, a) writeFloatTileFast<c, r, a, false, Count>, writeFloatTileFast<c, r, a, true, Count>
#define LCE_FAST_CLAMP(c) \
  {{{LCE_FAST(c, false, false)}, {LCE_FAST(c, false, true)}}, {{LCE_FAST(c, true, false)}, {LCE_FAST(c, true, true)}}}
  static constexpr FloatTileFn<Count> kFast[4][2][2][2] = {  // [clamp][residual][afterClamp][bits]
      LCE_FAST_CLAMP(0), LCE_FAST_CLAMP(1), LCE_FAST_CLAMP(2), LCE_FAST_CLAMP(3)};
#undef LCE_FAST_CLAMP
#undef LCE_FAST
  return kFast[clamp][residual][afterClamp][bits];
}

// Bitpacked output: the bit (K - conv) > 2 * threshold is acc > clamp(threshold, -1, K) +
// classHalfDelta[class] (bconv2d_indirect.cc), 8 channels per compare (the words were zeroed by
// run(); 8 bits may straddle two words when a group does not start a word).
void writeBitsTile(const TileContext &ctx, int64_t p0, int valid, const int64_t *qs, int64_t c0, int lanes,
                   const int32_t *acc, int stride) {
  const int64_t C = ctx.s.channelsOut, words = packedWords(C);
  const int32_t *threshold = ctx.o.threshold;
  const int32_t K = static_cast<int32_t>(ctx.s.K);
  const __m256i tlo = _mm256_set1_epi32(-1), thi = _mm256_set1_epi32(K);
  for (int i = 0; i < valid; ++i) {
    auto *w = reinterpret_cast<uint32_t *>(ctx.out) + (p0 + i) * words;
    const int32_t *delta = ctx.plan.classHalfDelta.data() + ctx.plan.pixelClass[qs[i]] * C;
    int j = 0;
    for (; j + 8 <= lanes; j += 8) {
      const int64_t c = c0 + j;
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(acc + i * stride + j));
      const __m256i t = _mm256_add_epi32(
          _mm256_max_epi32(_mm256_min_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(threshold + c)), thi), tlo),
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(delta + c)));
      const uint64_t m = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(a, t))));
      const uint64_t shifted = m << (c % 32);
      w[c / 32] |= static_cast<uint32_t>(shifted);
      if (shifted >> 32) w[c / 32 + 1] |= static_cast<uint32_t>(shifted >> 32);
    }
    for (; j < lanes; ++j) {
      const int64_t c = c0 + j;
      const int32_t t = std::max(-1, std::min(threshold[c], K)) + delta[c];
      if (acc[i * stride + j] > t) w[c / 32] |= 1u << (c % 32);
    }
  }
}

// writeBitsTile for whole 32-channel blocks at a word boundary, from int32 or 16-bit counts:
// `threshold` holds the run's clamp(threshold, -1, K) (made once per run of tiles), each pixel
// adds its class's classHalfDelta row; 32 channels a word, stored once (run() zeroed them).
template <typename Count>
void writeBitsTileFast(const TileContext &ctx, int64_t p0, int valid, const int64_t *qs, int64_t c0, int lanes,
                       const Count *acc, int stride, const int32_t *threshold) {
  const int64_t C = ctx.s.channelsOut, words = packedWords(C);
  for (int i = 0; i < valid; ++i) {
    uint32_t *const w = reinterpret_cast<uint32_t *>(ctx.out) + (p0 + i) * words + c0 / 32;
    const int32_t *const delta = ctx.plan.classHalfDelta.data() + ctx.plan.pixelClass[qs[i]] * C + c0;
    const Count *const a = acc + i * stride;
    for (int j0 = 0; j0 < lanes; j0 += 32) {
      uint32_t bits = 0;
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        const int j = j0 + 8 * q;
        const __m256i t = _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i *>(threshold + j)),
                                           _mm256_loadu_si256(reinterpret_cast<const __m256i *>(delta + j)));
        bits |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(loadCounts8(a + j), t))))
                << (8 * q);
      }
      w[j0 / 32] = bits;
    }
  }
}

// Output pixels [firstTile * kTilePixels, endTile * kTilePixels): per group and run of NV
// channel blocks (outer, so that the blocks' filter stays in cache), micro-tiles of MR pixels.
constexpr int kTilePixels = 12;  // a multiple of every MR

template <int MR, int NV>
void lutBlocks(const TileContext &ctx, const PackedFilter &filter, const LutGeometry &geo, int64_t firstPixel,
               int64_t endPixel, int64_t g, int64_t firstBlock) {
  const Bconv2dPlan &plan = ctx.plan;
  const int64_t blockStride = geo.blockStride;
  const uint8_t *w = filter.as<uint8_t>() + (g * geo.blocksPerGroup + firstBlock) * blockStride;
  const int64_t c0 = g * plan.outPerGroup + firstBlock * kLutBlock;
  const int lanes = static_cast<int>(std::min<int64_t>(NV * kLutBlock, plan.outPerGroup - firstBlock * kLutBlock));
  alignas(64) int32_t acc[MR * NV * kLutBlock];
  alignas(64) int32_t conv[MR * NV * kLutBlock];
  alignas(64) uint16_t wide[MR * NV * kLutBlock];
  // Float output: the straight writer reading the 16-bit counts (int32 ones after a deep
  // accumulation), else writeFloatTile.
  const FloatTileFn<uint16_t> writeFloat16 = straightFloatWriter<uint16_t>(ctx, c0, lanes);
  const FloatTileFn<int32_t> straight32 = straightFloatWriter<int32_t>(ctx, c0, lanes);
  const FloatTileFn<int32_t> writeFloat =
      straight32 ? straight32 : ctx.floatOut && lanes % 8 == 0 ? writeFloatTile : nullptr;
  // Bitpacked output of whole words: writeBitsTileFast (16-bit counts unless deep), with the
  // run's clamped thresholds.
  const bool bitsFast = ctx.o.type == OutputType::kBitpacked && c0 % 32 == 0 && lanes % 32 == 0;
  alignas(32) int32_t threshold[NV * kLutBlock];
  if (bitsFast)
    for (int j = 0; j < lanes; ++j)
      threshold[j] = std::max<int32_t>(-1, std::min<int32_t>(ctx.o.threshold[c0 + j], static_cast<int32_t>(ctx.s.K)));
  const bool generic = !writeFloat && ctx.o.type != OutputType::kBitpacked;  // writeTile: needs full, border
  const uint32_t *const groupInput = ctx.in + g * ctx.s.wordsPerGroup;
  for (int64_t p0 = firstPixel; p0 < endPixel; p0 += MR) {
    // The tile's pixels (a short last tile repeats its last pixel) in the padded input.
    int valid = static_cast<int>(std::min<int64_t>(MR, ctx.pixels - p0));
    int64_t qs[MR];
    int32_t full[MR];
    const uint32_t *pixel[MR];
    bool border = false;
    for (int i = 0; i < MR; ++i) {
      const int64_t p = p0 + std::min(i, valid - 1);
      const int64_t n = ctx.s.batch == 1 ? 0 : p / ctx.image, q = p - n * ctx.image;
      qs[i] = q;
      pixel[i] = groupInput + n * plan.paddedImageWords + plan.pixelBase[q];
      if (generic) {
        full[i] = static_cast<int32_t>(plan.counted[q] * ctx.s.channelsPerGroup);
        border |= plan.skippedBegin[q] != plan.skippedBegin[q + 1];
      }
    }
    const bool inAcc = lutAccumulate<MR, NV>(pixel, plan.tapStep.data(), ctx.taps, geo.bytes, w, blockStride, wide,
                                             acc, !writeFloat16 && !bitsFast);
    valid = std::min<int>(valid, static_cast<int>(endPixel - p0));
    if (!inAcc && bitsFast) writeBitsTileFast(ctx, p0, valid, qs, c0, lanes, wide, NV * kLutBlock, threshold);
    else if (!inAcc) writeFloat16(ctx, p0, valid, qs, c0, lanes, wide, NV * kLutBlock);
    else if (bitsFast) writeBitsTileFast(ctx, p0, valid, qs, c0, lanes, acc, NV * kLutBlock, threshold);
    else if (writeFloat) writeFloat(ctx, p0, valid, qs, c0, lanes, acc, NV * kLutBlock);
    else if (ctx.o.type == OutputType::kBitpacked) writeBitsTile(ctx, p0, valid, qs, c0, lanes, acc, NV * kLutBlock);
    else ctx.writeTile(p0, valid, qs, full, border, c0, lanes, acc, NV * kLutBlock, conv);
  }
}

void runLut(const Bconv2dPlan &plan, const PackedFilter &filter, const int32_t *input, const Bconv2dOutput &o,
            void *out, int64_t firstTile, int64_t endTile, const uint32_t ** /*x: unused, the input is padded*/) {
  const TileContext ctx(plan, input, o, out);
  const LutGeometry geo(plan);
  const int64_t firstPixel = firstTile * kTilePixels, endPixel = std::min(endTile * kTilePixels, ctx.pixels);
  for (int64_t g = 0; g < ctx.s.groups; ++g)
    for (int64_t b = 0; b < geo.blocksPerGroup;) {
      const int64_t left = geo.blocksPerGroup - b;
      if (left >= 4) lutBlocks<3, 4>(ctx, filter, geo, firstPixel, endPixel, g, b), b += 4;
      else if (left >= 2) lutBlocks<4, 2>(ctx, filter, geo, firstPixel, endPixel, g, b), b += 2;
      else lutBlocks<6, 1>(ctx, filter, geo, firstPixel, endPixel, g, b), b += 1;
    }
}

}  // namespace

const IndirectKernel &bconv2d_indirect_avx2() {
  static const IndirectKernel kernel{Isa::kAvx2, "avx2 byte-LUT (3x128, 4x64, 6x32 pixels x channels)", kTilePixels,
                                     packLutFilter, runLut, /*paddedInput=*/true};
  return kernel;
}

}  // namespace lce_kernels
