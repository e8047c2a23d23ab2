// lq-strip-output-dequantize: makes a model output the bitpacked int32 tensor instead of its
// lq.Dequantize (LCE's strip_lcedequantize_ops), in every entry function (not in control-flow
// bodies, whose signatures their WHILE/IF ops fix). Only outputs produced directly by an
// lq.Dequantize change; the function type follows, and the dead Dequantize is erased.
#include "ir/LqOps.h"
#include "transforms/EntryFunctions.h"
#include "transforms/Passes.h"

namespace lce {

#define GEN_PASS_DEF_STRIPOUTPUTDEQUANTIZE
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

struct StripOutputDequantizePass : impl::StripOutputDequantizeBase<StripOutputDequantizePass> {
  void runOnOperation() override {
    for (func::FuncOp f : entryFunctions(getOperation())) {
      auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
      for (OpOperand &operand : ret->getOpOperands()) {
        auto dequantize = operand.get().getDefiningOp<lq::DequantizeOp>();
        if (!dequantize) continue;
        operand.set(dequantize.getX());
        if (dequantize->use_empty()) dequantize->erase();
      }
      f.setFunctionType(FunctionType::get(&getContext(), f.getArgumentTypes(), ret->getOperandTypes()));
    }
  }
};

}  // namespace
}  // namespace lce
