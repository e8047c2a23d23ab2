// Bconv2d by indirect BGEMM: for each output pixel an indirection table holds, per filter tap,
// the address of the input pixel's packed words (one padding: a row of zero words, which read
// as +1; zero padding: no entry, the tap is skipped). A block of 4 output channels is then
// accumulated over the pixel's taps with XOR + POPCNT on 64-bit lanes, and
//   conv = counted_taps * C_g - 2 * accum
// equals semantics.md's conv exactly (skipped zero-padding taps contribute 0; no correction
// term is needed). The output transform is the reference's (see bconv2d_reference.cc).
// The implementation is in bconv2d_indirect_impl.h, compiled once per ISA; this file dispatches.
#include "lce_kernels/kernels.h"

namespace lce_kernels {

void bconv2d_indirect_portable(const Bconv2dShape &, const int32_t *, const int32_t *, const Bconv2dOutput &,
                               void *, int);
void bconv2d_indirect_popcnt(const Bconv2dShape &, const int32_t *, const int32_t *, const Bconv2dOutput &,
                             void *, int);

void bconv2dIndirect(const Bconv2dShape &s, const int32_t *input, const int32_t *filter, const Bconv2dOutput &o,
                     void *out, int threads) {
#if defined(__x86_64__)
  if (activeIsa() != Isa::kPortable) return bconv2d_indirect_popcnt(s, input, filter, o, out, threads);
#endif
  bconv2d_indirect_portable(s, input, filter, o, out, threads);
}

}  // namespace lce_kernels
