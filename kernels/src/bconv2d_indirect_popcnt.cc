// Indirect-BGEMM Bconv2d, built with -mpopcnt (scalar hardware POPCNT).
#include "bconv2d_indirect_impl.h"

namespace lce_kernels {
void bconv2d_indirect_popcnt(const Bconv2dPlan &plan, const int32_t *input, const Bconv2dOutput &o, void *out,
                             int threads) {
  runPlan<ScalarMicro>(plan, input, o, out, threads);
}
}  // namespace lce_kernels
