// Bitpacking, AVX2: 32 floats -> 4 compares (x < 0, ordered: NaN gives 0) + movemask per word;
// 32 int8 -> one signed compare with the zero point + movemask.
#include <immintrin.h>

#include "bitpack_internal.h"
#include "lce_kernels/kernels.h"

namespace lce_kernels {

__attribute__((target("avx2"))) void bitpack_row_f32_avx2(const float *in, int64_t channels, int32_t *out) {
  const __m256 zero = _mm256_setzero_ps();
  const int64_t full = channels / 32;
  for (int64_t w = 0; w < full; ++w) {
    const float *p = in + 32 * w;
    uint32_t bits = 0;
    for (int k = 0; k < 4; ++k) {
      const __m256 v = _mm256_loadu_ps(p + 8 * k);
      bits |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ))) << (8 * k);
    }
    out[w] = static_cast<int32_t>(bits);
  }
  bitpack_row_f32_from(in, channels, full, out);
}

__attribute__((target("avx2"))) void bitpack_row_s8_avx2(const int8_t *in, int64_t channels, int8_t zeroPoint,
                                                         int32_t *out) {
  const __m256i zp = _mm256_set1_epi8(zeroPoint);
  const int64_t full = channels / 32;
  for (int64_t w = 0; w < full; ++w) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(in + 32 * w));
    out[w] = _mm256_movemask_epi8(_mm256_cmpgt_epi8(zp, v));  // zp > q  <=>  q < zp
  }
  bitpack_row_s8_from(in, channels, zeroPoint, full, out);
}

}  // namespace lce_kernels
