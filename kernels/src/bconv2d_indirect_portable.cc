// Indirect-BGEMM Bconv2d, portable build (compiler's generic popcount).
#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
IndirectKernel bconv2d_indirect_portable() { return {ScalarMicro::kPixels, runTiles<ScalarMicro>}; }
}  // namespace lce_kernels
