// lq-binary-maxpool: lq.Quantize(tfl.max_pool_2d(x)) becomes lq.BMaxPool2d(lq.Quantize(x)).
//
// Binarizing is monotone (bit = x < 0), so the sign of a window's maximum is the maximum of the
// signs: the output is -1 only if every tap is negative, i.e. the AND of the taps' bits, which is
// what BMaxPool2d computes (semantics.md). Out-of-bounds taps of SAME pooling are ignored by both.
// Moving the Quantize in front lets the producer (often a Bconv2d) write bitpacked output.
#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_BINARYMAXPOOL
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

struct QuantizeOfMaxPool : OpRewritePattern<lq::QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(lq::QuantizeOp quantize, PatternRewriter &rewriter) const override {
    auto pool = quantize.getX().getDefiningOp<tfl::MaxPool2dOp>();
    if (!pool || pool.getFusedActivationFunction() != "NONE")
      return rewriter.notifyMatchFailure(quantize, "not Quantize of a plain max pool");
    auto inType = dyn_cast<RankedTensorType>(pool.getInput().getType());
    if (!inType || inType.getRank() != 4 || !inType.getElementType().isF32() || inType.isDynamicDim(3))
      return rewriter.notifyMatchFailure(quantize, "needs float32 NHWC input with static channels");
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
