// Indirect-BGEMM Bconv2d, portable build (compiler's generic popcount).
#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
const IndirectKernel &bconv2d_indirect_portable() {
  static const IndirectKernel kernel{Isa::kPortable, "portable (1 pixel x 8 channels, 64-bit XOR + popcount)", ScalarMicro::kPixels,
                                     packScalarFilter, runTiles<ScalarMicro>};
  return kernel;
}
}  // namespace lce_kernels
