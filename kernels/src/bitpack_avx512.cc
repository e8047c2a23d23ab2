// Bitpacking, AVX-512: 16 floats per compare into a mask register (x < 0, ordered), two per
// word; 64 int8 per compare (AVX-512BW), two words.
#include <immintrin.h>

#include "bitpack_internal.h"
#include "lce_kernels/kernels.h"

namespace lce_kernels {

__attribute__((target("avx512f"))) void bitpack_row_f32_avx512(const float *in, int64_t channels,
                                                               int32_t *out) {
  const __m512 zero = _mm512_setzero_ps();
  const int64_t full = channels / 32;
  for (int64_t w = 0; w < full; ++w) {
    const __mmask16 lo = _mm512_cmp_ps_mask(_mm512_loadu_ps(in + 32 * w), zero, _CMP_LT_OQ);
    const __mmask16 hi = _mm512_cmp_ps_mask(_mm512_loadu_ps(in + 32 * w + 16), zero, _CMP_LT_OQ);
    out[w] = static_cast<int32_t>(static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16));
  }
  bitpack_row_f32_from(in, channels, full, out);
}

__attribute__((target("avx512f,avx512bw"))) void bitpack_row_s8_avx512(const int8_t *in, int64_t channels,
                                                                       int8_t zeroPoint, int32_t *out) {
  const __m512i zp = _mm512_set1_epi8(zeroPoint);
  const int64_t pairs = channels / 64;
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512i v = _mm512_loadu_si512(in + 64 * p);
    const uint64_t bits = _mm512_cmplt_epi8_mask(v, zp);
    out[2 * p] = static_cast<int32_t>(static_cast<uint32_t>(bits));
    out[2 * p + 1] = static_cast<int32_t>(static_cast<uint32_t>(bits >> 32));
  }
  bitpack_row_s8_from(in, channels, zeroPoint, 2 * pairs, out);
}

}  // namespace lce_kernels
