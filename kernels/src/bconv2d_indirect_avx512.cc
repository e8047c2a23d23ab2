// Indirect-BGEMM Bconv2d, AVX-512 microkernel (built with -mavx512f -mavx512bw
// -mavx512vpopcntdq; dispatched only when CPUID reports all three): a tile of 8 output pixels x
// 8 output channels (one zmm of 8 x 64-bit lanes, lane = channel). Per 64-bit depth word each
// pixel's input word is broadcast, XORed with the filter vector and counted by vpopcntq straight
// into 64-bit lane totals (no overflow handling needed).
#include <immintrin.h>

#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
namespace {

struct Avx512Micro {
  static constexpr int kPixels = 8;

  static void accumulate(const uint32_t *const *x, int64_t taps, int64_t groupOffset, const uint64_t *w,
                         int64_t words32, int32_t *acc) {
    const int64_t full = words32 / 2, words64 = (words32 + 1) / 2;
    __m512i sums[kPixels];
    for (int i = 0; i < kPixels; ++i) sums[i] = _mm512_setzero_si512();
    for (int64_t t = 0; t < taps; ++t) {
      const uint32_t *xp[kPixels];
      for (int i = 0; i < kPixels; ++i) xp[i] = x[t * kPixels + i] + groupOffset;
      const uint64_t *wt = w + t * words64 * kBlock;
      // One 64-bit depth word: `word(i)` is pixel i's input word.
      auto step = [&](const uint64_t *wk, auto word) {
        const __m512i wv = _mm512_loadu_si512(wk);
        for (int i = 0; i < kPixels; ++i) {
          const __m512i a = _mm512_set1_epi64(static_cast<long long>(word(i)));
          sums[i] = _mm512_add_epi64(sums[i], _mm512_popcnt_epi64(_mm512_xor_si512(a, wv)));
        }
      };
      int64_t k = 0;
      for (; k < full; ++k) step(wt + k * kBlock, [&](int i) { return load64(xp[i] + 2 * k); });
      // The odd last word of a group is read alone (high half 0, as in the packed filter).
      if (k < words64) step(wt + k * kBlock, [&](int i) { return static_cast<uint64_t>(xp[i][2 * k]); });
    }
    for (int i = 0; i < kPixels; ++i)  // the low 32 bits of the 8 lane totals
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(acc + i * kBlock), _mm512_cvtepi64_epi32(sums[i]));
  }
};

}  // namespace

IndirectKernel bconv2d_indirect_avx512() { return {Avx512Micro::kPixels, runTiles<Avx512Micro>}; }

}  // namespace lce_kernels
