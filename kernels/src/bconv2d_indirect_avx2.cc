// Indirect-BGEMM Bconv2d, AVX2 microkernel (built with -mavx2 -mpopcnt): a tile of 4 output
// pixels x 8 output channels (two ymm of 4 x 64-bit lanes, lane = channel). Per 64-bit depth
// word each pixel's input word is broadcast, XORed with the two filter vectors, and counted with
// the nibble lookup table (vpshufb on the low and high nibbles; Mula, Kurz, Lemire 2018) into
// byte counters. At most kMaxSteps steps of at most 8 per byte keep the byte counters below 256;
// then vpsadbw against zero sums each lane's 8 bytes into its 64-bit lane total.
#include <immintrin.h>

#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
namespace {

struct Avx2Micro {
  static constexpr int kPixels = 4;
  static constexpr int kMaxSteps = 31;  // 31 * 8 = 248 < 256

  static inline __m256i popcountBytes(__m256i v, __m256i lut, __m256i low) {
    const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
    const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    return _mm256_add_epi8(lo, hi);
  }

  static void accumulate(const uint32_t *const *x, int64_t taps, int64_t groupOffset, const uint64_t *w,
                         int64_t words32, int32_t *acc) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    const int64_t full = words32 / 2, words64 = (words32 + 1) / 2;
    __m256i bytes[kPixels][2], sums[kPixels][2];
    for (int i = 0; i < kPixels; ++i)
      for (int j = 0; j < 2; ++j) bytes[i][j] = zero, sums[i][j] = zero;
    int budget = kMaxSteps;
    auto flush = [&] {
      for (int i = 0; i < kPixels; ++i)
        for (int j = 0; j < 2; ++j) {
          sums[i][j] = _mm256_add_epi64(sums[i][j], _mm256_sad_epu8(bytes[i][j], zero));
          bytes[i][j] = zero;
        }
      budget = kMaxSteps;
    };
    for (int64_t t = 0; t < taps; ++t) {
      const uint32_t *xp[kPixels];
      for (int i = 0; i < kPixels; ++i) xp[i] = x[t * kPixels + i] + groupOffset;
      const uint64_t *wt = w + t * words64 * kBlock;
      // One 64-bit depth word: `word(i)` is pixel i's input word.
      auto step = [&](const uint64_t *wk, auto word) {
        if (budget-- == 0) flush(), --budget;
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(wk));
        const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(wk + 4));
        for (int i = 0; i < kPixels; ++i) {
          const __m256i a = _mm256_set1_epi64x(static_cast<long long>(word(i)));
          bytes[i][0] = _mm256_add_epi8(bytes[i][0], popcountBytes(_mm256_xor_si256(a, w0), lut, low));
          bytes[i][1] = _mm256_add_epi8(bytes[i][1], popcountBytes(_mm256_xor_si256(a, w1), lut, low));
        }
      };
      int64_t k = 0;
      for (; k < full; ++k) step(wt + k * kBlock, [&](int i) { return load64(xp[i] + 2 * k); });
      // The odd last word of a group is read alone (high half 0, as in the packed filter).
      if (k < words64) step(wt + k * kBlock, [&](int i) { return static_cast<uint64_t>(xp[i][2 * k]); });
    }
    flush();
    for (int i = 0; i < kPixels; ++i) {  // the low 32 bits of the 8 lane totals, in channel order
      const __m256i lows = _mm256_castps_si256(_mm256_shuffle_ps(
          _mm256_castsi256_ps(sums[i][0]), _mm256_castsi256_ps(sums[i][1]), _MM_SHUFFLE(2, 0, 2, 0)));
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(acc + i * kBlock),
                          _mm256_permute4x64_epi64(lows, _MM_SHUFFLE(3, 1, 2, 0)));
    }
  }
};

}  // namespace

IndirectKernel bconv2d_indirect_avx2() { return {Avx2Micro::kPixels, runTiles<Avx2Micro>}; }

}  // namespace lce_kernels
