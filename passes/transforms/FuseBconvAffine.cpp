// lq-fuse-bconv-affine: folds what follows a float-output lq.Bconv2d into it.
//
// y = clamp(conv, lo, hi) * m + b, so a following MUL/DIV by a constant c (per channel or
// scalar) gives m*c, b*c (m/c, b/c) and ADD/SUB of a constant d gives b+d (b-d), whatever the
// Bconv2d's own clamp is: the affine step comes after the clamp. The folded values agree with
// the unfused graph to float32 rounding (semantics.md). An activation after the Bconv2d moves
// into its clamp only where that is exact: RELU needs m > 0 and b = 0
// (max(conv*m, 0) = max(conv, 0)*m); RELU6 and RELU_N1_TO_1 need m = 1 and b = 0.
// An affine op with a fused RELU/RELU6/RELU_N1_TO_1 of its own folds the same way and leaves
// that activation as a separate op after the Bconv2d (which the activation patterns then fold
// where exact): TensorFlow gives ADD(RELU) where it could not fold a BatchNorm's scale into the
// conv's weights. Ops with another fused activation, or a Bconv2d with other users, are left
// alone; so are activations after zero-padded Bconv2d unless allow-zero-padding is set (LCE
// 0.16's runtime corrects zero padding only without a fused activation).
#include <cmath>

#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_FUSEBCONVAFFINE
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

// The float Bconv2d feeding `v` with its multiplier and bias, if it has no other user.
struct FloatBconv {
  lq::Bconv2dOp op;
  std::vector<float> mult, bias;
};

std::optional<FloatBconv> floatBconv(Value v) {
  auto op = v.getDefiningOp<lq::Bconv2dOp>();
  if (!op || !op->hasOneUse() || !cast<ShapedType>(op.getType()).getElementType().isF32())
    return std::nullopt;
  auto ft = cast<ShapedType>(op.getFilter().getType());
  if (!ft.hasStaticShape()) return std::nullopt;
  const int64_t channels = ft.getDimSize(0);
  FloatBconv b{op, std::vector<float>(channels, 1.0f), std::vector<float>(channels, 0.0f)};
  if (!isNoValue(op.getPostActivationMultiplier())) {
    auto m = getConstF32(op.getPostActivationMultiplier());
    if (!m || static_cast<int64_t>(m->size()) != channels) return std::nullopt;
    b.mult = *m;
  }
  if (!isNoValue(op.getPostActivationBias())) {
    auto c = getConstF32(op.getPostActivationBias());
    if (!c || static_cast<int64_t>(c->size()) != channels) return std::nullopt;
    b.bias = *c;
  }
  return b;
}

// Per-channel values of a constant that broadcasts along the channel axis only.
std::optional<std::vector<float>> channelConstant(Value v, size_t channels) {
  auto values = getConstF32(v);
  auto type = dyn_cast<ShapedType>(v.getType());
  if (!values || !type || !type.hasStaticShape()) return std::nullopt;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    if (type.getDimSize(i) != 1) return std::nullopt;
  if (values->size() == 1) return std::vector<float>(channels, values->front());
  if (values->size() != channels) return std::nullopt;
  return values;
}

// The standalone op of a fused activation, or "" for none and for those without one.
StringRef activationOpName(StringRef activation) {
  if (activation == "RELU") return tfl::ReluOp::getOperationName();
  if (activation == "RELU6") return tfl::Relu6Op::getOperationName();
  if (activation == "RELU_N1_TO_1") return tfl::ReluN1To1Op::getOperationName();
  return "";
}

void rebuild(PatternRewriter &rewriter, Operation *replaced, FloatBconv &b, StringRef activation,
             StringRef separateActivation = "") {
  Location loc = b.op.getLoc();
  const int64_t channels = b.mult.size();
  Value mult = makeConstF32(rewriter, loc, {channels}, b.mult);
  Value bias = makeConstF32(rewriter, loc, {channels}, b.bias);
  rewriter.modifyOpInPlace(b.op, [&] {
    b.op->setOperand(2, mult);
    b.op->setOperand(3, bias);
    b.op->setAttr("fused_activation_function", rewriter.getStringAttr(activation));
  });
  if (separateActivation.empty()) {
    rewriter.replaceOp(replaced, b.op->getResults());
    return;
  }
  OperationState act(replaced->getLoc(), activationOpName(separateActivation));
  act.addOperands(b.op->getResult(0));
  act.addTypes(b.op->getResult(0).getType());
  rewriter.replaceOp(replaced, rewriter.create(act)->getResults());
}

template <typename OpTy>
struct FoldBinary : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op, PatternRewriter &rewriter) const override {
    StringRef activation = op.getFusedActivationFunction();
    if ((activation != "NONE" && activationOpName(activation).empty()) || op.getType() != op.getLhs().getType())
      return failure();
    auto b = floatBconv(op.getLhs());
    if (!b) return failure();
    auto c = channelConstant(op.getRhs(), b->mult.size());
    if (!c) return failure();
    for (size_t o = 0; o < c->size(); ++o) {
      const float x = (*c)[o];
      if constexpr (std::is_same_v<OpTy, tfl::MulOp>) {
        b->mult[o] *= x;
        b->bias[o] *= x;
      } else if constexpr (std::is_same_v<OpTy, tfl::DivOp>) {
        b->mult[o] /= x;
        b->bias[o] /= x;
      } else if constexpr (std::is_same_v<OpTy, tfl::AddOp>) {
        b->bias[o] += x;
      } else {
        b->bias[o] -= x;
      }
    }
    for (size_t o = 0; o < c->size(); ++o)
      if (!std::isfinite(b->mult[o]) || !std::isfinite(b->bias[o])) return failure();
    rebuild(rewriter, op, *b, b->op.getFusedActivationFunction(), activation == "NONE" ? "" : activation);
    return success();
  }
};

template <typename OpTy>
struct FoldActivation : OpRewritePattern<OpTy> {
  FoldActivation(MLIRContext *ctx, StringRef name, bool allowZeroPadding)
      : OpRewritePattern<OpTy>(ctx), name(name.str()), allowZeroPadding(allowZeroPadding) {}
  LogicalResult matchAndRewrite(OpTy op, PatternRewriter &rewriter) const override {
    auto b = floatBconv(op.getX());
    if (!b || b->op.getFusedActivationFunction() != "NONE") return failure();
    if (!allowZeroPadding && b->op.getPadding() == "SAME" && b->op.getPadValues() == 0) return failure();
    for (size_t o = 0; o < b->mult.size(); ++o) {
      const bool ok = b->bias[o] == 0.0f &&
                      (name == "RELU" ? b->mult[o] > 0.0f : b->mult[o] == 1.0f);
      if (!ok) return failure();
    }
    rebuild(rewriter, op, *b, name);
    return success();
  }
  std::string name;
  bool allowZeroPadding;
};

struct FuseBconvAffinePass : impl::FuseBconvAffineBase<FuseBconvAffinePass> {
  using FuseBconvAffineBase::FuseBconvAffineBase;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<FoldBinary<tfl::MulOp>, FoldBinary<tfl::DivOp>, FoldBinary<tfl::AddOp>,
                 FoldBinary<tfl::SubOp>>(ctx);
    patterns.add<FoldActivation<tfl::ReluOp>>(ctx, "RELU", allowZeroPadding);
    patterns.add<FoldActivation<tfl::Relu6Op>>(ctx, "RELU6", allowZeroPadding);
    patterns.add<FoldActivation<tfl::ReluN1To1Op>>(ctx, "RELU_N1_TO_1", allowZeroPadding);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
