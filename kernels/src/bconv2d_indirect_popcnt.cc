// Indirect-BGEMM Bconv2d, built with -mpopcnt (scalar hardware POPCNT).
#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
const IndirectKernel &bconv2d_indirect_popcnt() {
  static const IndirectKernel kernel{Isa::kPopcnt, "popcnt (1 pixel x 8 channels, 64-bit XOR + popcount)", ScalarMicro::kPixels,
                                     packScalarFilter, runTiles<ScalarMicro>};
  return kernel;
}
}  // namespace lce_kernels
