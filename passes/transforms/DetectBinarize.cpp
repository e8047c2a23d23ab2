// lq-detect-binarize: finds larq's binarizing activation quantizers in a TFLite graph and makes
// the binarization explicit as lq.Dequantize(lq.Quantize(x)).
//
// larq's ste_sign (and approx_sign/swish_sign, whose forward pass is the same) reaches TFLite as
// SIGN(ADD(SIGN(x), c)) with 0 < c < 1: sign(x) is -1, 0 or +1, adding c gives -1+c < 0, c > 0
// or 1+c > 0, so the result is -1 exactly when x < 0 and +1 otherwise (x = 0 gives +1), which
// is the bit rule of semantics.md. Any c outside (0, 1) changes the mapping and is not matched.
// Hand-written signs reach TFLite as SELECT(_V2)(LESS(x, 0), -1, +1) or
// SELECT(_V2)(GREATER_EQUAL(x, 0), +1, -1) (branch constants possibly BROADCAST_TO the shape of
// x); both are matched too. (For NaN inputs the GREATER_EQUAL form gives -1 where our rule gives
// +1; NaN activations carry no meaning in either.)
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

// The value of a splat float constant, looking through BROADCAST_TO.
std::optional<float> splatValue(Value v) {
  if (auto b = v.getDefiningOp<tfl::BuiltinOp>(); b && b.getName() == "BROADCAST_TO" && b->getNumOperands() == 2)
    v = b->getOperand(0);
  auto values = getConstF32(v);
  if (!values || values->empty()) return std::nullopt;
  for (float x : *values)
    if (x != values->front()) return std::nullopt;
  return values->front();
}

struct SelectSign : OpRewritePattern<tfl::BuiltinOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tfl::BuiltinOp select, PatternRewriter &rewriter) const override {
    if ((select.getName() != "SELECT_V2" && select.getName() != "SELECT") || select->getNumOperands() != 3 ||
        select->getNumResults() != 1)
      return failure();
    auto compare = select->getOperand(0).getDefiningOp<tfl::BuiltinOp>();
    if (!compare || compare->getNumOperands() != 2) return failure();
    std::optional<float> zero = splatValue(compare->getOperand(1));
    if (!zero || *zero != 0.0f) return failure();
    float whenTrue;
    if (compare.getName() == "LESS") whenTrue = -1.0f;               // x < 0 ? -1 : +1
    else if (compare.getName() == "GREATER_EQUAL") whenTrue = 1.0f;  // x >= 0 ? +1 : -1
    else return failure();
    auto a = splatValue(select->getOperand(1)), b = splatValue(select->getOperand(2));
    if (!a || !b || *a != whenTrue || *b != -whenTrue) return failure();
    Value x = compare->getOperand(0);
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    if (!xType || xType != select->getResult(0).getType() || !xType.getElementType().isF32() ||
        xType.getRank() == 0 || ShapedType::isDynamic(xType.getShape().back()))
      return rewriter.notifyMatchFailure(select, "needs a float32 tensor with static channels");
    auto q = lq::QuantizeOp::create(rewriter, select.getLoc(), packedType(xType), x);
    rewriter.replaceOpWithNewOp<lq::DequantizeOp>(select, xType, q);
    return success();
  }
};

struct DetectBinarizePass : impl::DetectBinarizeBase<DetectBinarizePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SignAddSign, SelectSign>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
