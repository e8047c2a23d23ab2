// tfl-fold-dilated-conv: BATCH_TO_SPACE_ND(CONV_2D(SPACE_TO_BATCH_ND(x, block, pads), W, b), block,
// crops) becomes CONV_2D(x, W, b) with dilation = block, VALID or SAME.
//
// TensorFlow lowers a dilated convolution to this sandwich when it cannot keep the dilation
// (larq's one-padded dilated convs, and every zero-padded SAME one). For a stride-1 VALID conv
// with a k-tap filter, the sandwich computes exactly: zero-pad x by `pads`, convolve with the
// filter dilated by `block` (VALID), then cut `crops` off the result. Space-to-batch splits the
// padded x into block_h*block_w interleaved phases, each phase is convolved with the undilated
// filter, and batch-to-space interleaves the results back.
//
// Per spatial dimension, output row j of that reads input rows j - (pad_before - crop_before)
// + t*dilation (t < k), zeros outside x, and there are H + (pads - crops) - dilation*(k-1) rows.
// So with before = pad_before - crop_before and total = pads - crops:
//   - before = total = 0: the VALID dilated conv (TF adds padding and crops of equal sizes at
//     the end only to make the extent divisible by the block);
//   - total = dilation*(k-1) and before = total/2 (rounded down): the SAME dilated conv, whose
//     padding TFLite computes the same way, zero-padded ("pad_values=0", TF's default).
// Other paddings/crops are left alone.
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

// The [2, 2] int32 constant `v` (one (before, after) row per spatial dimension), else nullopt.
std::optional<std::vector<int32_t>> getPairs(Value v) {
  auto values = getConstI32(v);
  if (!values || values->size() != 4 || llvm::any_of(*values, [](int32_t x) { return x < 0; }))
    return std::nullopt;
  return values;
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
    auto pads = getPairs(stb->getOperand(2));
    auto crops = getPairs(bts->getOperand(2));
    if (!pads || !crops) return rewriter.notifyMatchFailure(bts, "paddings or crops are not constant");
    Value x = stb->getOperand(0);
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    auto outType = dyn_cast<RankedTensorType>(bts.getType(0));
    auto filterType = dyn_cast<RankedTensorType>(conv.getFilter().getType());
    if (!xType || !outType || xType.getRank() != 4 || outType.getRank() != 4 || !filterType ||
        filterType.getRank() != 4 || filterType.isDynamicDim(1) || filterType.isDynamicDim(2))
      return failure();
    bool valid = true, same = true;
    for (int d = 0; d < 2; ++d) {
      int64_t before = int64_t((*pads)[2 * d]) - (*crops)[2 * d];
      int64_t total = int64_t((*pads)[2 * d]) + (*pads)[2 * d + 1] - (*crops)[2 * d] - (*crops)[2 * d + 1];
      int64_t reach = int64_t((*block)[d]) * (filterType.getDimSize(1 + d) - 1);
      valid = valid && before == 0 && total == 0;
      same = same && total == reach && before == total / 2;
      // With static shapes, the sandwich's extent must be the folded conv's.
      int64_t in = xType.getDimSize(1 + d), out = outType.getDimSize(1 + d);
      if (!ShapedType::isDynamic(in) && !ShapedType::isDynamic(out) && out != in + total - reach)
        return rewriter.notifyMatchFailure(bts, "output extent does not match the paddings and crops");
    }
    if (!valid && !same)
      return rewriter.notifyMatchFailure(bts, "paddings/crops are neither VALID nor SAME");
    OperationState state(conv.getLoc(), tfl::Conv2dOp::getOperationName());
    state.addOperands({x, conv.getFilter(), conv.getBias()});
    state.addTypes(outType);
    state.addAttributes(conv->getAttrs());
    state.attributes.set("dilation_h_factor", rewriter.getI32IntegerAttr((*block)[0]));
    state.attributes.set("dilation_w_factor", rewriter.getI32IntegerAttr((*block)[1]));
    state.attributes.set("padding", rewriter.getStringAttr(valid ? "VALID" : "SAME"));
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
