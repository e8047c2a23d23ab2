// lq-strip-output-dequantize: makes a model output the bitpacked int32 tensor instead of its
// lq.Dequantize (LCE's strip_lcedequantize_ops), in every entry function (not in control-flow
// bodies, whose signatures their WHILE/IF ops fix). Only outputs produced by an lq.Dequantize
// change, directly or through the int8 DEQUANTIZE (int8 -> float32) of an int8 lq.Dequantize
// that a quantized model with float outputs has (LCE strips that one first, then the
// LceDequantize); the function type follows, and the dead ops are erased.
#include "ir/LqOps.h"
#include "ir/TflOps.h"
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
        auto floatOutput = operand.get().getDefiningOp<tfl::DequantizeOp>();
        Value unpacked = floatOutput ? floatOutput.getInput() : operand.get();
        auto dequantize = unpacked.getDefiningOp<lq::DequantizeOp>();
        if (!dequantize) continue;
        operand.set(dequantize.getX());
        if (floatOutput && floatOutput->use_empty()) floatOutput->erase();
        if (dequantize->use_empty()) dequantize->erase();
      }
      f.setFunctionType(FunctionType::get(&getContext(), f.getArgumentTypes(), ret->getOperandTypes()));
    }
  }
};

}  // namespace
}  // namespace lce
