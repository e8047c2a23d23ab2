// tfl-int8-io: makes the float32 inputs and outputs of an int8-quantized model int8 (LCE's and
// TF's modify_integer_quantized_model_io_type), in every entry function.
//  - input-int8: an argument whose only user is tfl.quantize (float32 -> int8) takes the int8
//    quantized type and replaces the quantize;
//  - output-int8: a returned tfl.dequantize (int8 -> float32) is replaced by its int8 input.
// Arguments and outputs of other types are left alone.
#include "ir/TflOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "transforms/EntryFunctions.h"
#include "transforms/Passes.h"

namespace lce {

#define GEN_PASS_DEF_INT8INPUTOUTPUT
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

bool isInt8Quantized(Type t) {
  auto q = dyn_cast<quant::QuantizedType>(cast<ShapedType>(t).getElementType());
  return q && q.getStorageTypeIntegralWidth() == 8 && q.isSigned();
}

bool isF32(Type t) { return cast<ShapedType>(t).getElementType().isF32(); }

struct Int8InputOutputPass : impl::Int8InputOutputBase<Int8InputOutputPass> {
  using Int8InputOutputBase::Int8InputOutputBase;
  void runOnOperation() override {
    for (func::FuncOp f : entryFunctions(getOperation())) {
      Block &block = f.getBody().front();
      if (inputInt8) {
        for (BlockArgument arg : block.getArguments()) {
          if (!arg.hasOneUse() || !isa<ShapedType>(arg.getType()) || !isF32(arg.getType())) continue;
          auto quantize = dyn_cast<tfl::QuantizeOp>(*arg.getUsers().begin());
          if (!quantize || !isInt8Quantized(quantize.getType())) continue;
          arg.setType(quantize.getType());
          quantize.getOutput().replaceAllUsesWith(arg);
          quantize->erase();
        }
      }
      auto ret = cast<func::ReturnOp>(block.getTerminator());
      if (outputInt8) {
        for (OpOperand &operand : ret->getOpOperands()) {
          auto dequantize = operand.get().getDefiningOp<tfl::DequantizeOp>();
          if (!dequantize || !isInt8Quantized(dequantize.getInput().getType()) || !isF32(dequantize.getType()))
            continue;
          operand.set(dequantize.getInput());
          if (dequantize->use_empty()) dequantize->erase();
        }
      }
      f.setFunctionType(FunctionType::get(&getContext(), block.getArgumentTypes(), ret->getOperandTypes()));
    }
  }
};

}  // namespace
}  // namespace lce
