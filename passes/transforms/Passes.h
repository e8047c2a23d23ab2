// Pass declarations and registration for lce_convert (generated from Passes.td).
#ifndef LCE_TRANSFORMS_PASSES_H
#define LCE_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace lce {

#define GEN_PASS_DECL
#include "transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "transforms/Passes.h.inc"

// Options of the lq-binarize pipeline (Pipelines.cpp).
struct BinarizeOptions : mlir::PassPipelineOptions<BinarizeOptions> {
  Option<bool> bitpackedActivations{
      *this, "bitpacked-activations", llvm::cl::init(false),
      llvm::cl::desc("Binary convs whose only consumer binarizes write bitpacked int32; binary max-pools run on bits")};
  Option<bool> lceCompatible{
      *this, "lce-compatible", llvm::cl::init(true),
      llvm::cl::desc("Only ops LCE 0.16's runtime runs (false: zero-padded convs also fuse activations, affine steps, bitpacked/int8 output)")};
  // "arm" or "xcore" (LCE's targets). xcore, as in LCE 0.16: no binary max-pool (with bitpacked
  // activations the max-pool stays float, before its Quantize). LCE's xcore also keeps
  // zero-padded SAME binary convs float; the Python converter refuses those for xcore.
  Option<std::string> target{*this, "target", llvm::cl::init("arm"),
                             llvm::cl::desc("The runtime the model is for: arm (and x86) or xcore")};
};

// Options of the lq-fuse-quantized pipeline.
struct FuseQuantizedOptions : mlir::PassPipelineOptions<FuseQuantizedOptions> {
  Option<bool> lceCompatible{*this, "lce-compatible", llvm::cl::init(true),
                             llvm::cl::desc("As in lq-binarize")};
};

void buildBinarizePipeline(mlir::OpPassManager &pm, const BinarizeOptions &options);
void buildFuseQuantizedPipeline(mlir::OpPassManager &pm, const FuseQuantizedOptions &options);

// Registers lq-binarize and lq-fuse-quantized (called by registerAllPasses).
void registerLcePipelines();

// Adds every dialect that lce_convert modules use (func, quant, tfl, lq) to `registry`.
void registerAllDialects(mlir::DialectRegistry &registry);

// Registers our passes and pipelines and MLIR's generic transforms (canonicalize, cse, ...) once.
void registerAllPasses();

}  // namespace lce

#endif // LCE_TRANSFORMS_PASSES_H
