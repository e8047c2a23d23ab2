// Indirect-BGEMM Bconv2d, aarch64 Advanced SIMD with the ARMv8.2 dot product (built with
// +dotprod; run only when getauxval reports asimddp): 4 pixels x 8 channels, EOR + CNT + ADDP +
// UDOT (bconv2d_indirect_neon_impl.h).
#include "bconv2d_indirect_neon_impl.h"

namespace lce_kernels {
const IndirectKernel &bconv2d_indirect_neon_dotprod() {
  static const IndirectKernel kernel{Isa::kNeonDotprod, "neon_dotprod (4 pixels x 8 channels, EOR + CNT + ADDP + UDOT)",
                                     kNeonPixels, packNeonFilter, runTiles<NeonMicro<NeonDot>>};
  return kernel;
}
}  // namespace lce_kernels
