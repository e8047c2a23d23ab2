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
// nibbles are prepared once (Bconv2dPlan::lutFilter).
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

constexpr int kLutBlock = Bconv2dPlan::kLutBlock;

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

// Adds the byte counters into the 16-bit counters `wide` ([MR][NV][32], channel order) and
// clears them; every kWidensPerFlush calls also moves `wide` into the 32-bit `acc` (`deep`
// tells that acc holds such a partial sum).
constexpr int kStepsPerWiden = 31, kWidensPerFlush = 256;

template <int MR, int NV>
inline void widen(__m256i (&counts)[MR][NV], uint16_t *wide, int32_t *acc, int &widens, bool &deep) {
  const __m256i zero = _mm256_setzero_si256();
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) {
      auto *p = reinterpret_cast<__m256i *>(wide + (i * NV + j) * kLutBlock);
      _mm256_store_si256(p, _mm256_add_epi16(_mm256_load_si256(p), _mm256_unpacklo_epi8(counts[i][j], zero)));
      _mm256_store_si256(p + 1, _mm256_add_epi16(_mm256_load_si256(p + 1), _mm256_unpackhi_epi8(counts[i][j], zero)));
      counts[i][j] = zero;
    }
  if (--widens == 0) {
    for (int k = 0; k < MR * NV * kLutBlock; ++k) acc[k] = (deep ? acc[k] : 0) + wide[k], wide[k] = 0;
    deep = true;
    widens = kWidensPerFlush;
  }
}

// acc[i * NV * 32 + j * 32 + c] = sum over taps and depth bytes of popcount(x_i ^ w_{j,c}).
// x: [taps][MR] input pixel addresses, groupOffset: the group's first word, w: NV filter blocks
// blockStride bytes apart, each [taps][bytes][64]; wide: scratch for MR * NV * 32 counters.
template <int MR, int NV>
void lutAccumulate(const uint32_t *const *x, int64_t taps, int64_t groupOffset, int64_t bytes, const uint8_t *w,
                   int64_t blockStride, uint16_t *wide, int32_t *acc) {
  __m256i counts[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) counts[i][j] = _mm256_setzero_si256();
  std::memset(wide, 0, sizeof(uint16_t) * MR * NV * kLutBlock);
  int64_t steps = kStepsPerWiden;  // steps left before the byte counters must be widened
  int widens = kWidensPerFlush;
  bool deep = false;
  const uint8_t *wk = w;
  for (int64_t t = 0; t < taps; ++t) {
    const uint8_t *xp[MR];
    for (int i = 0; i < MR; ++i) xp[i] = reinterpret_cast<const uint8_t *>(x[t * MR + i] + groupOffset);
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
      if (steps == 0) widen<MR, NV>(counts, wide, acc, widens, deep), steps = kStepsPerWiden;
    }
  }
  widens = 0;  // no flush below: the 16-bit counters are added into acc here, 8 at a time
  widen<MR, NV>(counts, wide, acc, widens, deep);
  for (int k = 0; k < MR * NV * kLutBlock; k += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_load_si128(reinterpret_cast<const __m128i *>(wide + k)));
    auto *a = reinterpret_cast<__m256i *>(acc + k);
    _mm256_storeu_si256(a, deep ? _mm256_add_epi32(_mm256_loadu_si256(a), w) : w);
  }
}

// Output pixels [firstTile * kTilePixels, endTile * kTilePixels): per group and run of NV
// channel blocks (outer, so that the blocks' filter stays in cache), micro-tiles of MR pixels.
constexpr int kTilePixels = 12;  // a multiple of every MR

template <int MR, int NV>
void lutBlocks(const TileContext &ctx, int64_t firstPixel, int64_t endPixel, int64_t g, int64_t firstBlock,
               const uint32_t **x) {
  const Bconv2dPlan &plan = ctx.plan;
  const int64_t blockStride = ctx.taps * plan.lutBytes * 64;
  const uint8_t *w = plan.lutFilter.data() + (g * plan.lutBlocksPerGroup + firstBlock) * blockStride;
  const int64_t c0 = g * plan.outPerGroup + firstBlock * kLutBlock;
  const int lanes = static_cast<int>(std::min<int64_t>(NV * kLutBlock, plan.outPerGroup - firstBlock * kLutBlock));
  alignas(64) int32_t acc[MR * NV * kLutBlock];
  alignas(64) int32_t conv[MR * NV * kLutBlock];
  alignas(64) uint16_t wide[MR * NV * kLutBlock];
  for (int64_t p0 = firstPixel; p0 < endPixel; p0 += MR) {
    int valid;
    int64_t qs[MR];
    int32_t full[MR];
    const bool border = ctx.setupTile<MR>(p0, valid, qs, full, x);
    lutAccumulate<MR, NV>(x, ctx.taps, g * ctx.s.wordsPerGroup, plan.lutBytes, w, blockStride, wide, acc);
    ctx.writeTile(p0, std::min<int>(valid, static_cast<int>(endPixel - p0)), qs, full, border, c0, lanes, acc,
                  NV * kLutBlock, conv);
  }
}

void runLut(const Bconv2dPlan &plan, const int32_t *input, const Bconv2dOutput &o, void *out, int64_t firstTile,
            int64_t endTile, const uint32_t **x) {
  const TileContext ctx(plan, input, o, out);
  const int64_t firstPixel = firstTile * kTilePixels, endPixel = std::min(endTile * kTilePixels, ctx.pixels);
  for (int64_t g = 0; g < ctx.s.groups; ++g)
    for (int64_t b = 0; b < plan.lutBlocksPerGroup;) {
      const int64_t left = plan.lutBlocksPerGroup - b;
      if (left >= 4) lutBlocks<3, 4>(ctx, firstPixel, endPixel, g, b, x), b += 4;
      else if (left >= 2) lutBlocks<4, 2>(ctx, firstPixel, endPixel, g, b, x), b += 2;
      else lutBlocks<6, 1>(ctx, firstPixel, endPixel, g, b, x), b += 1;
    }
}

}  // namespace

IndirectKernel bconv2d_indirect_avx2() { return {kTilePixels, runLut}; }

}  // namespace lce_kernels
