// lq-detect-binarize: finds larq's binarizing activation quantizers in a TFLite graph and makes
// the binarization explicit as lq.Dequantize(lq.Quantize(x)).
//
// larq's ste_sign (and approx_sign/swish_sign, whose forward pass is the same) reaches TFLite as
// SIGN(ADD(SIGN(x), c)) with 0 < c < 1: sign(x) is -1, 0 or +1, adding c gives -1+c < 0, c > 0
// or 1+c > 0, so the result is -1 exactly when x < 0 and +1 otherwise (x = 0 gives +1), which
// is the bit rule of semantics.md. Any c outside (0, 1) changes the mapping and is not matched.
// The Quantize/Dequantize pair is what the conv fusion patterns look for; the pair cancels away
// wherever nothing float needs the +-1 values.
#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_DETECTBINARIZE
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

// True if `v` is a constant that broadcasts a single value c with 0 < c < 1.
bool isOffsetInOpenUnitInterval(Value v) {
  auto values = getConstF32(v);
  if (!values || values->empty()) return false;
  const float c = values->front();
  for (float x : *values)
    if (x != c) return false;
  auto type = cast<ShapedType>(v.getType());
  for (int64_t d : type.getShape())
    if (d != 1) return false;
  return c > 0.0f && c < 1.0f;
}

struct SignAddSign : OpRewritePattern<tfl::SignOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tfl::SignOp outer, PatternRewriter &rewriter) const override {
    auto add = outer.getX().getDefiningOp<tfl::AddOp>();
    if (!add || add.getFusedActivationFunction() != "NONE") return failure();
    tfl::SignOp inner;
    Value offset;
    for (auto [a, b] : {std::pair{add.getLhs(), add.getRhs()}, {add.getRhs(), add.getLhs()}}) {
      if (auto s = a.getDefiningOp<tfl::SignOp>(); s && isOffsetInOpenUnitInterval(b)) {
        inner = s;
        offset = b;
        break;
      }
    }
    if (!inner) return rewriter.notifyMatchFailure(outer, "not SIGN(ADD(SIGN(x), c)), 0<c<1");
    auto xType = dyn_cast<RankedTensorType>(inner.getX().getType());
    auto outType = dyn_cast<RankedTensorType>(outer.getType());
    if (!xType || !outType || xType != outType || !xType.getElementType().isF32() ||
        xType.getRank() == 0 || ShapedType::isDynamic(xType.getShape().back()))
      return rewriter.notifyMatchFailure(outer, "needs a float32 tensor with static channels");
    Location loc = outer.getLoc();
    auto q = lq::QuantizeOp::create(rewriter, loc, packedType(xType), inner.getX());
    rewriter.replaceOpWithNewOp<lq::DequantizeOp>(outer, outType, q);
    return success();
  }
};

struct DetectBinarizePass : impl::DetectBinarizeBase<DetectBinarizePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SignAddSign>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
