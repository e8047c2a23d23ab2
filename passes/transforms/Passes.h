// Pass declarations and registration for lce_convert (generated from Passes.td).
#ifndef LCE_TRANSFORMS_PASSES_H
#define LCE_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/Pass.h"

namespace lce {

#define GEN_PASS_DECL
#include "transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "transforms/Passes.h.inc"

// Adds every dialect that lce_convert modules use (func, quant, tfl, lq) to `registry`.
void registerAllDialects(mlir::DialectRegistry &registry);

// Registers our passes and MLIR's generic transforms (canonicalize, cse, ...) once.
void registerAllPasses();

}  // namespace lce

#endif // LCE_TRANSFORMS_PASSES_H
