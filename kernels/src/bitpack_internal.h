// Per-ISA row kernels of bitpacking; the dispatcher in bitpack.cc picks one table.
#ifndef LCE_KERNELS_BITPACK_INTERNAL_H
#define LCE_KERNELS_BITPACK_INTERNAL_H

#include <cstdint>

namespace lce_kernels {

// Pack one row of `channels` values into ceil(channels/32) words (tail bits 0).
using PackRowF32 = void (*)(const float *in, int64_t channels, int32_t *out);
using PackRowS8 = void (*)(const int8_t *in, int64_t channels, int8_t zeroPoint, int32_t *out);

void bitpack_row_f32_portable(const float *in, int64_t channels, int32_t *out);
void bitpack_row_s8_portable(const int8_t *in, int64_t channels, int8_t zeroPoint, int32_t *out);
void bitpack_row_f32_avx2(const float *in, int64_t channels, int32_t *out);
void bitpack_row_s8_avx2(const int8_t *in, int64_t channels, int8_t zeroPoint, int32_t *out);
void bitpack_row_f32_avx512(const float *in, int64_t channels, int32_t *out);
void bitpack_row_s8_avx512(const int8_t *in, int64_t channels, int8_t zeroPoint, int32_t *out);

// The words from `firstWord` on, portably (tails of the SIMD paths).
void bitpack_row_f32_from(const float *in, int64_t channels, int64_t firstWord, int32_t *out);
void bitpack_row_s8_from(const int8_t *in, int64_t channels, int8_t zeroPoint, int64_t firstWord,
                         int32_t *out);

}  // namespace lce_kernels

#endif  // LCE_KERNELS_BITPACK_INTERNAL_H
