// lq-fuse-bconv2d: turns float convolutions and dense layers on binarized inputs with binary
// weights into lq.Bconv2d.
//
// Matches tfl.conv_2d(X, W, b) and tfl.fully_connected(X, W, b) where
//  - X is lq.Dequantize(q), optionally through tfl.padv2(.., 1.0) (larq's pad_values=1) or
//    tfl.pad (zero padding) whose paddings equal TF's SAME padding for a VALID conv;
//  - W is a float32 constant whose output channel o holds only +alpha_o and -alpha_o. TensorFlow
//    folds a BatchNorm that follows a binary conv into its weights, so alpha_o is the BN scale; it
//    is read back exactly (|w| must be bitwise equal across the channel, no tolerance).
// The result is Bconv2d(q, sign(W), multiplier alpha, bias b): conv*alpha + b equals the float
// conv on +-1 values up to float32 rounding. A fused RELU/RELU6/RELU_N1_TO_1 moves into the
// Bconv2d only when it is exact there (alpha = 1, b = 0: the Bconv2d clamps before its affine
// step); otherwise it stays a separate op after the Bconv2d. Dense layers become a 1x1 Bconv2d
// between reshapes, an encoding LCE 0.16's interpreter also runs.
//
// Every conv/dense that stays float gets an `lq.not_binarized` attribute with the reason, for the
// conversion report.
#include <cmath>

#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_FUSEBCONV2D
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

struct Plan {
  Value packedInput;
  int64_t channelsIn = 0;
  SmallVector<int64_t, 4> filterShape;  // O, KH, KW, I (I = channels per group)
  std::vector<float> signs, mult, bias;
  std::string padding = "VALID";
  int32_t padValues = 0;
  int32_t strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  std::string fusedActivation = "NONE";
  std::string separateActivation;  // applied by its own op after the Bconv2d, or ""
};

// Reads W (and b) into the plan: signs, per-channel magnitude alpha and bias.
LogicalResult analyzeWeights(Value filter, Value bias, Plan &p, std::string &reason) {
  auto w = getConstF32(filter);
  if (!w) return reason = "weights are not a float32 constant", failure();
  const int64_t outChannels = p.filterShape[0];
  if (outChannels == 0 || w->size() % outChannels != 0)
    return reason = "unexpected weight shape", failure();
  const size_t perChannel = w->size() / outChannels;
  p.signs.resize(w->size());
  p.mult.resize(outChannels);
  for (int64_t o = 0; o < outChannels; ++o) {
    const float alpha = std::fabs((*w)[o * perChannel]);
    if (!std::isfinite(alpha)) return reason = "weights are not finite", failure();
    for (size_t i = 0; i < perChannel; ++i) {
      const float x = (*w)[o * perChannel + i];
      if (std::fabs(x) != alpha) {
        reason = "weights are not +-alpha per output channel (channel " + std::to_string(o) + ")";
        return failure();
      }
      p.signs[o * perChannel + i] = (alpha != 0.0f && x < 0.0f) ? -1.0f : 1.0f;
    }
    p.mult[o] = alpha;
  }
  p.bias.assign(outChannels, 0.0f);
  if (!isNoValue(bias)) {
    auto b = getConstF32(bias);
    if (!b || static_cast<int64_t>(b->size()) != outChannels)
      return reason = "bias is not a float32 constant", failure();
    for (float x : *b)
      if (!std::isfinite(x)) return reason = "bias is not finite", failure();
    p.bias = *b;
  }
  return success();
}

// Decides how the fused activation of the float op carries over. LCE 0.16's runtime corrects
// zero padding only without a fused activation, so unless allowed, zero-padded convs keep
// their activation as a separate op.
LogicalResult planActivation(StringRef act, Plan &p, bool allowZeroPadding, std::string &reason) {
  const auto *activation = activationNamed(act);
  if (activation && activation->code == lce_kernels::semantics::kNone) return success();
  if (!activation)  // TANH, SIGN_BIT, ...: no clamp form
    return reason = ("fused activation " + act + " cannot be binarized").str(), failure();
  bool identityAffine = allowZeroPadding || p.padding != "SAME" || p.padValues != 0;
  for (size_t o = 0; o < p.mult.size(); ++o)
    identityAffine &= p.mult[o] == 1.0f && p.bias[o] == 0.0f;
  (identityAffine ? p.fusedActivation : p.separateActivation) = act.str();
  return success();
}

// Looks through optional explicit padding to the binarized input of a conv.
LogicalResult analyzeConvInput(tfl::Conv2dOp conv, Plan &p, std::string &reason) {
  Value v = conv.getInput();
  std::optional<std::vector<int32_t>> pads;
  float padValue = 0.0f;
  if (auto pad2 = v.getDefiningOp<tfl::Padv2Op>()) {
    auto c = getConstF32(pad2.getConstantValues());
    if (!c || c->size() != 1) return reason = "padding value is not a float32 scalar constant", failure();
    padValue = c->front();
    pads = getConstI32(pad2.getPadding());
    v = pad2.getInput();
  } else if (auto pad = v.getDefiningOp<tfl::PadOp>()) {
    pads = getConstI32(pad.getPadding());
    v = pad.getInput();
  }
  auto dequantize = v.getDefiningOp<lq::DequantizeOp>();
  if (!dequantize) return reason = "input is not binarized", failure();
  auto inType = cast<RankedTensorType>(dequantize.getType());
  if (inType.getRank() != 4) return reason = "binarized input is not 4-D", failure();
  p.packedInput = dequantize.getX();
  p.channelsIn = inType.getDimSize(3);
  p.padding = conv.getPadding().str();
  if (!pads) {
    if (v != conv.getInput()) return reason = "paddings are not an int32 constant", failure();
    return success();
  }
  // Explicit padding in front of a VALID conv must be TF's SAME padding, with value +1 or 0.
  if (padValue != 1.0f && padValue != 0.0f)
    return reason = "padding value is neither +1 nor 0", failure();
  if (conv.getPadding() != "VALID") return reason = "padded twice (explicit pad and SAME)", failure();
  const auto &q = *pads;
  if (q.size() != 8 || q[0] || q[1] || q[6] || q[7])
    return reason = "padding of the batch or channel axis", failure();
  if (inType.isDynamicDim(1) || inType.isDynamicDim(2))
    return reason = "padding of a dynamic spatial size", failure();
  auto ft = cast<RankedTensorType>(conv.getFilter().getType());
  auto h = samePadding(inType.getDimSize(1), ft.getDimSize(1), conv.getStrideH(), conv.getDilationHFactor());
  auto w = samePadding(inType.getDimSize(2), ft.getDimSize(2), conv.getStrideW(), conv.getDilationWFactor());
  if (q[2] != h.first || q[3] != h.second || q[4] != w.first || q[5] != w.second)
    return reason = "explicit padding is not TF's SAME padding", failure();
  p.padding = "SAME";
  p.padValues = padValue == 1.0f ? 1 : 0;
  return success();
}

FailureOr<Plan> analyzeConv(tfl::Conv2dOp conv, bool allowZeroPadding, std::string &reason) {
  Plan p;
  auto ft = dyn_cast<RankedTensorType>(conv.getFilter().getType());
  auto outType = dyn_cast<RankedTensorType>(conv.getType());
  if (!ft || !ft.hasStaticShape() || ft.getRank() != 4 || !outType || !outType.getElementType().isF32()) {
    reason = "not a float32 conv with a static 4-D filter";
    return failure();
  }
  if (failed(analyzeConvInput(conv, p, reason))) return failure();
  p.filterShape.assign(ft.getShape().begin(), ft.getShape().end());
  const int64_t perGroup = p.filterShape[3];
  if (p.channelsIn % perGroup != 0) {
    reason = "filter depth does not divide the input channels";
    return failure();
  }
  const int64_t groups = p.channelsIn / perGroup;
  if (groups > 1 && (perGroup % 32 != 0 || p.filterShape[0] % groups != 0)) {
    reason = "grouped channels not a multiple of 32 (" + std::to_string(perGroup) + " per group)";
    return failure();
  }
  p.strideH = conv.getStrideH();
  p.strideW = conv.getStrideW();
  p.dilationH = conv.getDilationHFactor();
  p.dilationW = conv.getDilationWFactor();
  if (failed(analyzeWeights(conv.getFilter(), conv.getBias(), p, reason)) ||
      failed(planActivation(conv.getFusedActivationFunction(), p, allowZeroPadding, reason)))
    return failure();
  return p;
}

FailureOr<Plan> analyzeDense(tfl::FullyConnectedOp fc, std::string &reason) {
  Plan p;
  auto dequantize = fc.getInput().getDefiningOp<lq::DequantizeOp>();
  if (!dequantize) return reason = "input is not binarized", failure();
  auto inType = cast<RankedTensorType>(dequantize.getType());
  auto ft = dyn_cast<RankedTensorType>(fc.getFilter().getType());
  auto outType = dyn_cast<RankedTensorType>(fc.getType());
  if (fc.getWeightsFormat() != "DEFAULT" || inType.getRank() != 2 || !ft || !ft.hasStaticShape() ||
      ft.getRank() != 2 || ft.getDimSize(1) != inType.getDimSize(1) || !outType ||
      outType.getRank() != 2 || !outType.getElementType().isF32()) {
    reason = "dense layer is not [N, C] x [O, C] in float32";
    return failure();
  }
  p.packedInput = dequantize.getX();
  p.channelsIn = inType.getDimSize(1);
  p.filterShape = {ft.getDimSize(0), 1, 1, ft.getDimSize(1)};
  if (failed(analyzeWeights(fc.getFilter(), fc.getBias(), p, reason)) ||
      failed(planActivation(fc.getFusedActivationFunction(), p, /*allowZeroPadding=*/true, reason)))
    return failure();
  return p;
}

// Builds the Bconv2d of a plan (plus its separate activation, if any).
Value buildBconv(PatternRewriter &rewriter, Location loc, const Plan &p, RankedTensorType resultType,
                 StringRef layerKind) {
  const int64_t outChannels = p.filterShape[0];
  Value filter = makeConstF32(rewriter, loc, p.filterShape, p.signs);
  Value mult = makeConstF32(rewriter, loc, {outChannels}, p.mult);
  Value bias = makeConstF32(rewriter, loc, {outChannels}, p.bias);
  Value none = makeNoValue(rewriter, loc);
  OperationState state(loc, lq::Bconv2dOp::getOperationName());
  state.addOperands({p.packedInput, filter, mult, bias, none});
  state.addTypes(resultType);
  auto i32 = [&](int64_t v) { return rewriter.getI32IntegerAttr(static_cast<int32_t>(v)); };
  state.addAttribute("channels_in", i32(p.channelsIn));
  state.addAttribute("dilation_height_factor", i32(p.dilationH));
  state.addAttribute("dilation_width_factor", i32(p.dilationW));
  state.addAttribute("fused_activation_function", rewriter.getStringAttr(p.fusedActivation));
  state.addAttribute("pad_values", i32(p.padValues));
  state.addAttribute("padding", rewriter.getStringAttr(p.padding));
  state.addAttribute("stride_height", i32(p.strideH));
  state.addAttribute("stride_width", i32(p.strideW));
  state.addAttribute("lq.layer_kind", rewriter.getStringAttr(layerKind));  // for the report
  Value result = rewriter.create(state)->getResult(0);
  if (!p.separateActivation.empty()) {
    OperationState act(loc, "tfl." + StringRef(p.separateActivation).lower());
    act.addOperands(result);
    act.addTypes(resultType);
    result = rewriter.create(act)->getResult(0);
  }
  return result;
}

Value reshape(PatternRewriter &rewriter, Location loc, Value v, RankedTensorType to) {
  SmallVector<int32_t> shape;
  for (int64_t d : to.getShape()) shape.push_back(ShapedType::isDynamic(d) ? -1 : static_cast<int32_t>(d));
  Value shapeConst = makeConstI32(rewriter, loc, {static_cast<int64_t>(shape.size())}, shape);
  OperationState state(loc, tfl::ReshapeOp::getOperationName());
  state.addOperands({v, shapeConst});
  state.addTypes(to);
  return rewriter.create(state)->getResult(0);
}

struct ConvToBconv : OpRewritePattern<tfl::Conv2dOp> {
  ConvToBconv(MLIRContext *ctx, bool allowZeroPadding)
      : OpRewritePattern(ctx), allowZeroPadding(allowZeroPadding) {}
  bool allowZeroPadding;
  LogicalResult matchAndRewrite(tfl::Conv2dOp conv, PatternRewriter &rewriter) const override {
    std::string reason;
    auto plan = analyzeConv(conv, allowZeroPadding, reason);
    if (failed(plan)) return rewriter.notifyMatchFailure(conv, reason);
    rewriter.replaceOp(conv, buildBconv(rewriter, conv.getLoc(), *plan, cast<RankedTensorType>(conv.getType()), "conv2d"));
    return success();
  }
};

struct DenseToBconv : OpRewritePattern<tfl::FullyConnectedOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tfl::FullyConnectedOp fc, PatternRewriter &rewriter) const override {
    std::string reason;
    auto plan = analyzeDense(fc, reason);
    if (failed(plan)) return rewriter.notifyMatchFailure(fc, reason);
    Location loc = fc.getLoc();
    auto packed = cast<RankedTensorType>(plan->packedInput.getType());
    const int64_t n = packed.getDimSize(0), outChannels = plan->filterShape[0];
    auto packed4d = RankedTensorType::get({n, 1, 1, packed.getDimSize(1)}, packed.getElementType());
    plan->packedInput = reshape(rewriter, loc, plan->packedInput, packed4d);
    auto out4d = RankedTensorType::get({n, 1, 1, outChannels}, rewriter.getF32Type());
    Value y = buildBconv(rewriter, loc, *plan, out4d, "dense");
    rewriter.replaceOp(fc, reshape(rewriter, loc, y, cast<RankedTensorType>(fc.getType())));
    return success();
  }
};

struct FuseBconv2dPass : impl::FuseBconv2dBase<FuseBconv2dPass> {
  using FuseBconv2dBase::FuseBconv2dBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ConvToBconv>(&getContext(), allowZeroPadding);
    patterns.add<DenseToBconv>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) return signalPassFailure();
    // Record why the remaining convs and dense layers stay float.
    auto mark = [](Operation *op, const std::string &reason) {
      op->setAttr("lq.not_binarized", StringAttr::get(op->getContext(), reason));
    };
    getOperation().walk([&](Operation *op) {
      std::string reason;
      if (auto conv = dyn_cast<tfl::Conv2dOp>(op)) {
        if (failed(analyzeConv(conv, allowZeroPadding, reason))) mark(op, reason);
      } else if (auto fc = dyn_cast<tfl::FullyConnectedOp>(op)) {
        if (failed(analyzeDense(fc, reason))) mark(op, reason);
      } else if (isa<tfl::DepthwiseConv2dOp>(op)) {
        mark(op, "depthwise convolutions are not binarized");
      }
    });
  }
};

}  // namespace
}  // namespace lce
