// lq-binary-maxpool: lq.Quantize(tfl.max_pool_2d(x)) becomes lq.BMaxPool2d(lq.Quantize(x)).
//
// Binarizing is monotone (bit = x < 0), so the sign of a window's maximum is the maximum of the
// signs: the output is -1 only if every tap is negative, i.e. the AND of the taps' bits, which is
// what BMaxPool2d computes (semantics.md). Out-of-bounds taps of SAME pooling are ignored by both.
// Moving the Quantize in front lets the producer (often a Bconv2d) write bitpacked output.
// int8 pools qualify when input and output have the same per-tensor scale and zero point (as
// TFLite's int8 MAX_POOL_2D requires): the int8 rule bit = q < zero point is monotone too.
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_BINARYMAXPOOL
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

// float32, or per-tensor int8 with the pool's output quantization equal to its input's.
bool binarizableElements(Type in, Type out) {
  if (in.isF32()) return true;
  auto q = dyn_cast<quant::UniformQuantizedType>(in);
  return q && in == out && q.isSigned() && q.getStorageTypeIntegralWidth() == 8;
}

struct QuantizeOfMaxPool : OpRewritePattern<lq::QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(lq::QuantizeOp quantize, PatternRewriter &rewriter) const override {
    auto pool = quantize.getX().getDefiningOp<tfl::MaxPool2dOp>();
    if (!pool || pool.getFusedActivationFunction() != "NONE")
      return rewriter.notifyMatchFailure(quantize, "not Quantize of a plain max pool");
    auto inType = dyn_cast<RankedTensorType>(pool.getInput().getType());
    auto outType = dyn_cast<ShapedType>(pool.getType());
    if (!inType || !outType || inType.getRank() != 4 || inType.isDynamicDim(3) ||
        !binarizableElements(inType.getElementType(), outType.getElementType()))
      return rewriter.notifyMatchFailure(quantize, "needs float32 (or int8, same quantization in and out) NHWC "
                                                   "input with static channels");
    Location loc = pool.getLoc();
    Value packed = lq::QuantizeOp::create(rewriter, loc, packedType(inType), pool.getInput());
    OperationState state(loc, lq::BMaxPool2dOp::getOperationName());
    state.addOperands(packed);
    state.addTypes(quantize.getType());
    state.addAttribute("padding", pool.getPaddingAttr());
    state.addAttribute("stride_width", pool.getStrideWAttr());
    state.addAttribute("stride_height", pool.getStrideHAttr());
    state.addAttribute("filter_width", pool.getFilterWidthAttr());
    state.addAttribute("filter_height", pool.getFilterHeightAttr());
    rewriter.replaceOp(quantize, rewriter.create(state)->getResults());
    return success();
  }
};

struct BinaryMaxPoolPass : impl::BinaryMaxPoolBase<BinaryMaxPoolPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<QuantizeOfMaxPool>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
