// The converter's pass pipelines, registered by name so that the Python converter, lce-opt and
// the lit tests run the same sequence:
//
//   lq-binarize{bitpacked-activations=false lce-compatible=true target=arm}
//     TensorFlow's float (or quantization-aware) graph -> lq ops: fold filters and dilated
//     convs, find larq's binarizing quantizers, fuse binary convs/dense layers with the steps
//     after them, bitpack the filters, cancel Dequantize/Quantize pairs.
//   lq-fuse-quantized{lce-compatible=true}
//     After TensorFlow's post-training quantizer (experimental_default_int8_range): binary ops
//     take and give int8 where the quantizer left DEQUANTIZE/QUANTIZE around them.
//
// Both are module pipelines whose passes run on every function. `lce-compatible=false` lets
// zero-padded binary convs fuse activations, affine steps, bitpacked and int8 output (our
// runtime corrects zero padding in the accumulator; LCE 0.16's cannot run these ops).
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "transforms/Passes.h"

namespace lce {

void buildBinarizePipeline(mlir::OpPassManager &pm, const BinarizeOptions &options) {
  const bool zeroPadding = !options.lceCompatible;
  mlir::OpPassManager &f = pm.nest<mlir::func::FuncOp>();
  f.addPass(createFoldFilters());
  f.addPass(createFoldDilatedConv());
  f.addPass(createDetectBinarize());
  f.addPass(createFuseBconv2d(FuseBconv2dOptions{zeroPadding}));
  f.addPass(createFuseBconvAffine(FuseBconvAffineOptions{zeroPadding}));
  f.addPass(createFuseInt8(FuseInt8Options{zeroPadding}));
  if (options.bitpackedActivations) {
    // LCE 0.16's xcore conversion has no LceBMaxPool2d: max-pools stay float, before the Quantize.
    if (options.target != "xcore") f.addPass(createBinaryMaxPool());
    f.addPass(createFuseBitpackedOutput(FuseBitpackedOutputOptions{zeroPadding}));
  }
  f.addPass(createBitpackFilters());
  f.addPass(createCancelDequantizeQuantize());
  f.addPass(mlir::createCanonicalizerPass());
}

void buildFuseQuantizedPipeline(mlir::OpPassManager &pm, const FuseQuantizedOptions &options) {
  mlir::OpPassManager &f = pm.nest<mlir::func::FuncOp>();
  f.addPass(createFuseInt8(FuseInt8Options{!options.lceCompatible}));
  f.addPass(createCancelDequantizeQuantize());
  f.addPass(mlir::createCanonicalizerPass());
}

namespace {

// Like mlir::PassPipelineRegistration, but an invalid option string fails with a message that
// names the pipeline and the option (PassPipelineRegistration prints to stderr and reports only
// "failed to add"), and `check` can refuse option values.
template <typename Options>
void registerPipeline(llvm::StringRef arg, llvm::StringRef description,
                      void (*build)(mlir::OpPassManager &, const Options &),
                      std::string (*check)(const Options &)) {
  std::string name = arg.str();
  mlir::registerPassPipeline(
      arg, description,
      [=](mlir::OpPassManager &pm, llvm::StringRef text,
          llvm::function_ref<mlir::LogicalResult(const llvm::Twine &)> errorHandler) {
        Options options;
        std::string err;
        llvm::raw_string_ostream os(err);
        if (mlir::failed(options.parseFromString(text, os)))
          return errorHandler(name + ": invalid options '" + text + "': " + llvm::StringRef(err).trim());
        std::string bad = check(options);
        if (!bad.empty()) return errorHandler(name + ": " + bad);
        build(pm, options);
        return mlir::success();
      },
      [](llvm::function_ref<void(const mlir::detail::PassOptions &)> handler) { handler(Options()); });
}

std::string checkBinarize(const BinarizeOptions &options) {
  if (options.target != "arm" && options.target != "xcore")
    return "target must be 'arm' or 'xcore', got '" + options.target.getValue() + "'";
  return "";
}

std::string checkNothing(const FuseQuantizedOptions &) { return ""; }

}  // namespace

void registerLcePipelines() {
  registerPipeline<BinarizeOptions>(
      "lq-binarize", "The converter's binarization: TensorFlow's TFLite graph -> lq ops",
      buildBinarizePipeline, checkBinarize);
  registerPipeline<FuseQuantizedOptions>(
      "lq-fuse-quantized",
      "After TensorFlow's int8 quantizer: binary ops read and write int8 where that is exact",
      buildFuseQuantizedPipeline, checkNothing);
}

}  // namespace lce
