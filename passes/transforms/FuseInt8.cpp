// lq-fuse-int8: lets the binary ops of an int8-quantized model consume and produce int8 where
// TFLite's quantizer left float islands around them (LCE 0.16's LCEQuantize patterns):
//  - lq.Quantize(tfl.dequantize(x)) -> lq.Quantize(x) for per-tensor int8 x: (q - zp) * scale
//    is negative exactly when q < zp (scale > 0), which is the int8 rule of Quantize
//    (semantics.md, "Bitpacking"), so the bits are the same;
//  - tfl.quantize(lq.Bconv2d) with float32 output used only there -> lq.Bconv2d with the int8
//    result type: semantics.md defines int8 output as the float y rounded and saturated to the
//    output's scale and zero point, which is what QUANTIZE does to y;
//  - tfl.quantize(lq.Dequantize) with float32 output used only there -> lq.Dequantize with the
//    int8 result type: QUANTIZE maps +-1 to zp + round(+-1/scale), saturated, as Dequantize's
//    int8 mode does (rounding is half away from zero, symmetric in the sign).
// Zero-padded SAME convs keep float output unless allow-zero-padding is set (LCE 0.16's runtime
// corrects zero padding only for float output; ours corrects it in the accumulator).
#include "ir/LqOps.h"
#include "ir/TflOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "transforms/Passes.h"

namespace lce {

#define GEN_PASS_DEF_FUSEINT8
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

// True if `t` is a tensor of per-tensor int8 (signed 8-bit storage, positive scale).
bool isPerTensorInt8(Type t) {
  auto shaped = dyn_cast<ShapedType>(t);
  if (!shaped) return false;
  auto q = dyn_cast<quant::UniformQuantizedType>(shaped.getElementType());
  return q && q.isSigned() && q.getStorageTypeIntegralWidth() == 8 && q.getScale() > 0.0;
}

bool isF32Tensor(Type t) {
  auto shaped = dyn_cast<ShapedType>(t);
  return shaped && shaped.getElementType().isF32();
}

struct QuantizeOfDequantize : OpRewritePattern<lq::QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(lq::QuantizeOp op, PatternRewriter &rewriter) const override {
    auto dequantize = op.getX().getDefiningOp<tfl::DequantizeOp>();
    if (!dequantize || !isPerTensorInt8(dequantize.getInput().getType()) ||
        !isF32Tensor(dequantize.getType()))
      return rewriter.notifyMatchFailure(op, "not Quantize of a per-tensor int8 DEQUANTIZE");
    rewriter.modifyOpInPlace(op, [&] { op->setOperand(0, dequantize.getInput()); });
    return success();
  }
};

struct Int8OutputBconv : OpRewritePattern<tfl::QuantizeOp> {
  Int8OutputBconv(MLIRContext *ctx, bool allowZeroPadding)
      : OpRewritePattern(ctx), allowZeroPadding(allowZeroPadding) {}

  LogicalResult matchAndRewrite(tfl::QuantizeOp op, PatternRewriter &rewriter) const override {
    auto bconv = op.getInput().getDefiningOp<lq::Bconv2dOp>();
    if (!bconv || !bconv->hasOneUse() || !isF32Tensor(bconv.getType()) || !isPerTensorInt8(op.getType()))
      return rewriter.notifyMatchFailure(op, "not an int8 QUANTIZE of a float Bconv2d used once");
    if (bconv.getPadding() == "SAME" && bconv.getPadValues() == 0 && !allowZeroPadding)
      return rewriter.notifyMatchFailure(op, "zero padding needs float output");
    rewriter.modifyOpInPlace(bconv, [&] { bconv->getResult(0).setType(op.getType()); });
    rewriter.replaceOp(op, bconv.getOutput());
    return success();
  }

  bool allowZeroPadding;
};

struct Int8OutputDequantize : OpRewritePattern<tfl::QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tfl::QuantizeOp op, PatternRewriter &rewriter) const override {
    auto dequantize = op.getInput().getDefiningOp<lq::DequantizeOp>();
    if (!dequantize || !dequantize->hasOneUse() || !isF32Tensor(dequantize.getType()) ||
        !isPerTensorInt8(op.getType()))
      return rewriter.notifyMatchFailure(op, "not an int8 QUANTIZE of a float lq.Dequantize used once");
    rewriter.modifyOpInPlace(dequantize, [&] { dequantize->getResult(0).setType(op.getType()); });
    rewriter.replaceOp(op, dequantize.getY());
    return success();
  }
};

struct FuseInt8Pass : impl::FuseInt8Base<FuseInt8Pass> {
  using FuseInt8Base::FuseInt8Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<QuantizeOfDequantize, Int8OutputDequantize>(&getContext());
    patterns.add<Int8OutputBconv>(&getContext(), allowZeroPadding);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
