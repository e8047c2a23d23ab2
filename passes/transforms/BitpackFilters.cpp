// lq-bitpack-filters: replaces the float +-1 filter of each lq.Bconv2d by its bitpacked int32
// form, OHW[ceil(I/32)] with I the channels per group, packed per group: channel c is bit c % 32
// of word c / 32, 1 for -1, tail bits 0 (semantics.md, "Bitpacking").
#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_BITPACKFILTERS
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

struct PackFilter : OpRewritePattern<lq::Bconv2dOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(lq::Bconv2dOp op, PatternRewriter &rewriter) const override {
    auto values = getConstF32(op.getFilter());
    auto ft = cast<ShapedType>(op.getFilter().getType());
    if (!values || !ft.hasStaticShape() || ft.getRank() != 4)
      return rewriter.notifyMatchFailure(op, "filter is not an unpacked float constant");
    const int64_t depth = ft.getDimSize(3), words = lq::packedWords(depth);
    const int64_t pixels = ft.getNumElements() / depth;
    std::vector<int32_t> packed(pixels * words, 0);
    for (int64_t p = 0; p < pixels; ++p)
      for (int64_t c = 0; c < depth; ++c)
        if ((*values)[p * depth + c] < 0.0f)
          packed[p * words + c / 32] |= static_cast<int32_t>(1u << (c % 32));
    Value filter = makeConstI32(rewriter, op.getLoc(),
                                {ft.getDimSize(0), ft.getDimSize(1), ft.getDimSize(2), words}, packed);
    rewriter.modifyOpInPlace(op, [&] { op->setOperand(1, filter); });
    return success();
  }
};

struct BitpackFiltersPass : impl::BitpackFiltersBase<BitpackFiltersPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PackFilter>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
