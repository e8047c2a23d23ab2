// The kernel paths of this build, one row per ISA: what the CPU must have, and the row kernels
// of every operator for that ISA. The rows live in isa.cc (one list per architecture); the
// operators (bitpack.cc, bconv2d_indirect.cc, bmaxpool.cc) look their kernels up here and
// have no ISA switch of their own. Adding an ISA means adding its kernel files and one row.
#ifndef LCE_KERNELS_ISA_TABLE_H
#define LCE_KERNELS_ISA_TABLE_H

#include <cstdint>

#include "bitpack_internal.h"
#include "bconv2d_indirect_kernel.h"
#include "lce_kernels/kernels.h"

namespace lce_kernels {

// LceDequantize of one row: bit 0 -> +1, bit 1 -> -1 (int8: the given codes of +1 and -1).
using UnpackRowF32 = void (*)(const int32_t *in, int64_t channels, float *out);
using UnpackRowS8 = void (*)(const int32_t *in, int64_t channels, int8_t plus, int8_t minus, int8_t *out);
// BMaxPool2d's tap step: dst[k] &= src[k] for k < words.
using AndWords = void (*)(int32_t *dst, const int32_t *src, int64_t words);

struct IsaPaths {
  Isa isa;
  bool (*available)();  // from CPUID (x86) or getauxval(AT_HWCAP) (aarch64)
  const IndirectKernel &(*bconv)();
  PackRowF32 packF32;
  PackRowS8 packS8;
  UnpackRowF32 unpackF32;
  UnpackRowS8 unpackS8;
  AndWords andWords;
};

// The row of `isa`; std::invalid_argument for an ISA of another architecture.
const IsaPaths &isaPaths(Isa isa);
// The active path's row (activeIsa()).
inline const IsaPaths &activePaths() { return isaPaths(activeIsa()); }

// Portable row kernels (bitpack.cc, bmaxpool.cc), the rows' default.
void unpack_row_f32_portable(const int32_t *in, int64_t channels, float *out);
void unpack_row_s8_portable(const int32_t *in, int64_t channels, int8_t plus, int8_t minus, int8_t *out);
void and_words_portable(int32_t *dst, const int32_t *src, int64_t words);
#if defined(__aarch64__)
void bitpack_row_f32_neon(const float *in, int64_t channels, int32_t *out);
void bitpack_row_s8_neon(const int8_t *in, int64_t channels, int8_t zeroPoint, int32_t *out);
void unpack_row_f32_neon(const int32_t *in, int64_t channels, float *out);
void unpack_row_s8_neon(const int32_t *in, int64_t channels, int8_t plus, int8_t minus, int8_t *out);
void and_words_neon(int32_t *dst, const int32_t *src, int64_t words);
#endif

}  // namespace lce_kernels

#endif  // LCE_KERNELS_ISA_TABLE_H
