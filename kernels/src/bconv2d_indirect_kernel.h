// The per-ISA entry points of the indirect Bconv2d (bconv2d_indirect_<isa>.cc), called by
// Bconv2dPlan::run (bconv2d_indirect.cc), which owns the threads and the scratch memory.
#ifndef LCE_KERNELS_BCONV2D_INDIRECT_KERNEL_H
#define LCE_KERNELS_BCONV2D_INDIRECT_KERNEL_H

#include <cstdint>

#include "lce_kernels/kernels.h"

namespace lce_kernels {

struct IndirectKernel {
  int tilePixels;  // output pixels per tile
  // Tiles [firstTile, endTile); `scratch` holds taps * tilePixels pointers.
  void (*run)(const Bconv2dPlan &plan, const int32_t *input, const Bconv2dOutput &o, void *out, int64_t firstTile,
              int64_t endTile, const uint32_t **scratch);
};

IndirectKernel bconv2d_indirect_portable();
#if defined(__x86_64__)
IndirectKernel bconv2d_indirect_popcnt();
IndirectKernel bconv2d_indirect_avx2();
IndirectKernel bconv2d_indirect_avx512();
#endif

}  // namespace lce_kernels

#endif  // LCE_KERNELS_BCONV2D_INDIRECT_KERNEL_H
