// Indirect-BGEMM Bconv2d, aarch64 Advanced SIMD: 4 pixels x 8 channels, EOR + CNT + ADDP/UADALP
// (bconv2d_indirect_neon_impl.h).
#include "bconv2d_indirect_neon_impl.h"

namespace lce_kernels {
const IndirectKernel &bconv2d_indirect_neon() {
  static const IndirectKernel kernel{Isa::kNeon, "neon (4 pixels x 8 channels, EOR + CNT + ADDP/UADALP)", kNeonPixels,
                                     packNeonFilter, runTiles<NeonMicro<NeonPairwise>>};
  return kernel;
}
}  // namespace lce_kernels
