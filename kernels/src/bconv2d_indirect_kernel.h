// The kernel paths of the indirect Bconv2d (one descriptor per bconv2d_indirect_<isa>.cc), called
// by Bconv2dPlan::run (bconv2d_indirect.cc), which owns the table, the threads and the scratch.
#ifndef LCE_KERNELS_BCONV2D_INDIRECT_KERNEL_H
#define LCE_KERNELS_BCONV2D_INDIRECT_KERNEL_H

#include <cstdint>

#include "lce_kernels/kernels.h"

namespace lce_kernels {

// A Bconv2d kernel path: one per kernel file (bconv2d_indirect_<isa>.cc, built with its own
// flags), listed in the ISA table (isa_table.h, isa.cc). Adding an ISA adds a file and a row.
struct IndirectKernel {
  Isa isa;
  const char *name;  // what it is: ISA and register tile
  int tilePixels;    // output pixels per tile (the unit of the threads' split)
  // The path's own filter layout, from the plan's filter (OHWI, bitpacked per group).
  void (*pack)(const Bconv2dPlan &plan, PackedFilter &out);
  // Tiles [firstTile, endTile); `scratch` holds taps * tilePixels pointers.
  void (*run)(const Bconv2dPlan &plan, const PackedFilter &filter, const int32_t *input, const Bconv2dOutput &o,
              void *out, int64_t firstTile, int64_t endTile, const uint32_t **scratch);
  // run() reads `input` in the plan's padded geometry (Bconv2dPlan::pixelBase, tapStep): the
  // padded images, made by Bconv2dPlan::run, or the input itself when it needs no padding.
  bool paddedInput = false;
};

const IndirectKernel &bconv2d_indirect_portable();
#if defined(__x86_64__)
const IndirectKernel &bconv2d_indirect_popcnt();
const IndirectKernel &bconv2d_indirect_avx2();
const IndirectKernel &bconv2d_indirect_avx512();
#endif
#if defined(__aarch64__)
const IndirectKernel &bconv2d_indirect_neon();
const IndirectKernel &bconv2d_indirect_neon_dotprod();
#endif

}  // namespace lce_kernels

#endif  // LCE_KERNELS_BCONV2D_INDIRECT_KERNEL_H
