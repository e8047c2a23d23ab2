// Indirect-BGEMM Bconv2d, built with -mpopcnt (scalar hardware POPCNT).
#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
IndirectKernel bconv2d_indirect_popcnt() { return {ScalarMicro::kPixels, runTiles<ScalarMicro>}; }
}  // namespace lce_kernels
