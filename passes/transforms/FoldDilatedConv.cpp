// tfl-fold-dilated-conv: BATCH_TO_SPACE_ND(CONV_2D(SPACE_TO_BATCH_ND(x, block, 0), W, b), block, 0)
// becomes CONV_2D(x, W, b) with dilation = block.
//
// TensorFlow lowers a dilated convolution to this sandwich when it cannot keep the dilation
// (larq's one-padded dilated convs are such a case). With zero paddings and crops and a VALID
// conv, the sandwich computes exactly the VALID conv of x with dilation `block`: space-to-batch
// splits x into block_h*block_w interleaved phases, each phase is convolved with the undilated
// filter, and batch-to-space interleaves the results back. Other paddings/crops are left alone.
#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_FOLDDILATEDCONV
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

bool isBuiltin(Operation *op, StringRef name) {
  auto b = dyn_cast_or_null<tfl::BuiltinOp>(op);
  return b && b.getName() == name && b->getNumOperands() == 3 && b->getNumResults() == 1 &&
         !b->hasAttr("options") && !b->hasAttr("options2");
}

bool allZero(Value v, size_t size) {
  auto values = getConstI32(v);
  return values && values->size() == size &&
         llvm::all_of(*values, [](int32_t x) { return x == 0; });
}

struct FoldSandwich : OpRewritePattern<tfl::BuiltinOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tfl::BuiltinOp bts, PatternRewriter &rewriter) const override {
    if (!isBuiltin(bts, "BATCH_TO_SPACE_ND")) return failure();
    auto conv = bts->getOperand(0).getDefiningOp<tfl::Conv2dOp>();
    if (!conv || !conv->hasOneUse() || conv.getPadding() != "VALID" || conv.getDilationHFactor() != 1 ||
        conv.getDilationWFactor() != 1 || conv.getStrideH() != 1 || conv.getStrideW() != 1)
      return rewriter.notifyMatchFailure(bts, "not BATCH_TO_SPACE_ND of a plain VALID conv");
    Operation *stb = conv.getInput().getDefiningOp();
    if (!isBuiltin(stb, "SPACE_TO_BATCH_ND") || !stb->hasOneUse())
      return rewriter.notifyMatchFailure(bts, "conv input is not SPACE_TO_BATCH_ND");
    auto block = getConstI32(bts->getOperand(1));
    auto block2 = getConstI32(stb->getOperand(1));
    if (!block || !block2 || *block != *block2 || block->size() != 2 || (*block)[0] < 1 || (*block)[1] < 1)
      return rewriter.notifyMatchFailure(bts, "block shapes differ or are not constant");
    if (!allZero(stb->getOperand(2), 4) || !allZero(bts->getOperand(2), 4))
      return rewriter.notifyMatchFailure(bts, "non-zero paddings or crops");
    Value x = stb->getOperand(0);
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    auto outType = dyn_cast<RankedTensorType>(bts.getType(0));
    if (!xType || !outType || xType.getRank() != 4) return failure();
    OperationState state(conv.getLoc(), tfl::Conv2dOp::getOperationName());
    state.addOperands({x, conv.getFilter(), conv.getBias()});
    state.addTypes(outType);
    state.addAttributes(conv->getAttrs());
    state.attributes.set("dilation_h_factor", rewriter.getI32IntegerAttr((*block)[0]));
    state.attributes.set("dilation_w_factor", rewriter.getI32IntegerAttr((*block)[1]));
    rewriter.replaceOp(bts, rewriter.create(state)->getResults());
    // The undilated conv and the SPACE_TO_BATCH_ND are dead now. A generic tfl.builtin has
    // unknown effects, so nothing else would remove it (and its PADV2 producer would stay).
    rewriter.eraseOp(conv);
    rewriter.eraseOp(stb);
    return success();
  }
};

struct FoldDilatedConvPass : impl::FoldDilatedConvBase<FoldDilatedConvPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldSandwich>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
