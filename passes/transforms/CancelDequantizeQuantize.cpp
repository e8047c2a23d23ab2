// lq-cancel-dequantize-quantize: matches lq.Quantize whose operand is an lq.Dequantize of a
// bitpacked tensor of the same type and forwards that tensor. This is the identity exactly when
// Dequantize's encodings of +1 and -1 re-binarize to bits 0 and 1 (semantics.md, "Quantize /
// Dequantize"): always for float32, and for int8 only if round(1/scale) >= 1 and the zero
// point is above -128 (otherwise -1 saturates onto the zero point and would read back as +1).
#include <cmath>

#include "ir/LqOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "transforms/Passes.h"

namespace lce {

#define GEN_PASS_DEF_CANCELDEQUANTIZEQUANTIZE
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

// True if binarizing the dequantized values gives back the original bits.
bool roundTripsExactly(Type unpackedElement) {
  if (unpackedElement.isF32()) return true;
  auto q = dyn_cast<quant::UniformQuantizedType>(unpackedElement);
  if (!q) return false;  // plain i8 has no zero point/scale to reason about
  const double magnitude = std::round(1.0 / q.getScale());
  return magnitude >= 1.0 && q.getZeroPoint() > -128;
}

struct CancelPair : OpRewritePattern<lq::QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(lq::QuantizeOp op, PatternRewriter &rewriter) const override {
    auto dequantize = op.getX().getDefiningOp<lq::DequantizeOp>();
    if (!dequantize || dequantize.getX().getType() != op.getType()) return failure();
    auto unpacked = cast<ShapedType>(dequantize.getType()).getElementType();
    if (!roundTripsExactly(unpacked)) return failure();
    rewriter.replaceOp(op, dequantize.getX());
    return success();
  }
};

struct CancelDequantizeQuantizePass
    : impl::CancelDequantizeQuantizeBase<CancelDequantizeQuantizePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<CancelPair>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
