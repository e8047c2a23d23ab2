// lq-fuse-bitpacked-output: lq.Quantize(lq.Bconv2d(float)) becomes one lq.Bconv2d writing
// bitpacked int32 with per-channel integer thresholds (semantics.md, "Bitpacked output").
//
// Bit o of the output is 1 (-1) exactly when y = clamp(conv, lo, hi) * m + b < 0, where
// conv = K - 2*accum. The rule is evaluated in exact arithmetic on the float32 values m and b
// (no float formula: LCE's floor(0.5*(b/|m| + K)) in float32 is wrong near ties):
//  - channels with m < 0 get their filter negated, which turns conv into -conv, m into -m and
//    the clamp (lo, hi) into (-hi, -lo), so that y < 0 becomes "accum above a threshold";
//  - with m >= 0 the predicate y(accum) < 0 is monotone in accum, so a binary search over
//    accum in [0, K], each step an exact sign test, finds the threshold t with
//    bit = accum > t; t = -1 means "always -1", t = K "never".
// Zero-padded SAME convs are left alone unless allow-zero-padding is set (LCE 0.16's runtime
// only corrects zero padding for float output), and also then if their channel count per group
// is odd (see below).
#include <cmath>

#include "transforms/Common.h"
#include "transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace lce {

#define GEN_PASS_DEF_FUSEBITPACKEDOUTPUT
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

// The bounds of the conv value: the activation's clamp within [-K, K] (lce_kernels/semantics.h).
std::pair<int64_t, int64_t> activationBounds(StringRef act, int64_t K) {
  int64_t lo = -K, hi = K;
  if (const auto *a = activationNamed(act)) lce_kernels::semantics::convBounds(*a, K, lo, hi);
  return {lo, hi};
}

struct FuseQuantize : OpRewritePattern<lq::QuantizeOp> {
  FuseQuantize(MLIRContext *ctx, bool allowZeroPadding)
      : OpRewritePattern(ctx), allowZeroPadding(allowZeroPadding) {}

  LogicalResult matchAndRewrite(lq::QuantizeOp quantize, PatternRewriter &rewriter) const override {
    auto bconv = quantize.getX().getDefiningOp<lq::Bconv2dOp>();
    if (!bconv || !bconv->hasOneUse() || !cast<ShapedType>(bconv.getType()).getElementType().isF32())
      return rewriter.notifyMatchFailure(quantize, "not Quantize of a float Bconv2d used once");
    auto signs = getConstF32(bconv.getFilter());
    auto ft = cast<ShapedType>(bconv.getFilter().getType());
    if (!signs || !ft.hasStaticShape())
      return rewriter.notifyMatchFailure(quantize, "filter is not an unpacked float constant");
    if (bconv.getPadding() == "SAME" && bconv.getPadValues() == 0) {
      if (!allowZeroPadding) return rewriter.notifyMatchFailure(quantize, "zero padding needs float output");
      // With zero padding, accum_eff = (K - conv) / 2 is a half-integer where an odd number of
      // taps with an odd channel count per group fall outside; integer thresholds cannot
      // separate those values, so such convs keep float output.
      if (ft.getDimSize(3) % 2 != 0)
        return rewriter.notifyMatchFailure(quantize, "zero padding with an odd channel count per group");
    }
    const int64_t outChannels = ft.getDimSize(0);
    std::vector<float> mult(outChannels, 1.0f), bias(outChannels, 0.0f);
    if (!isNoValue(bconv.getPostActivationMultiplier())) {
      auto m = getConstF32(bconv.getPostActivationMultiplier());
      if (!m) return rewriter.notifyMatchFailure(quantize, "multiplier is not constant");
      mult = *m;
    }
    if (!isNoValue(bconv.getPostActivationBias())) {
      auto b = getConstF32(bconv.getPostActivationBias());
      if (!b) return rewriter.notifyMatchFailure(quantize, "bias is not constant");
      bias = *b;
    }
    for (int64_t o = 0; o < outChannels; ++o)
      if (!std::isfinite(mult[o]) || !std::isfinite(bias[o]))
        return rewriter.notifyMatchFailure(quantize, "non-finite multiplier or bias");

    const int64_t perChannel = ft.getNumElements() / outChannels;
    const int64_t K = perChannel;  // KH * KW * channels per group (unpacked filter)
    auto [lo, hi] = activationBounds(bconv.getFusedActivationFunction(), K);
    std::vector<int32_t> thresholds(outChannels);
    for (int64_t o = 0; o < outChannels; ++o) {
      float m = mult[o];
      int64_t clo = lo, chi = hi;
      if (m < 0.0f) {  // negate the filter: conv -> -conv
        for (int64_t i = 0; i < perChannel; ++i) (*signs)[o * perChannel + i] *= -1.0f;
        m = -m;
        std::tie(clo, chi) = std::pair{-hi, -lo};
      }
      thresholds[o] = bitpackedThreshold(K, clo, chi, m, bias[o]);
    }

    Location loc = bconv.getLoc();
    Value filter = makeConstF32(rewriter, loc, ft.getShape(), *signs);
    Value none = makeNoValue(rewriter, loc);
    Value threshold = makeConstI32(rewriter, loc, {outChannels}, thresholds);
    OperationState state(loc, lq::Bconv2dOp::getOperationName());
    state.addOperands({bconv.getInput(), filter, none, none, threshold});
    state.addTypes(quantize.getType());
    state.addAttributes(bconv->getAttrs());
    state.attributes.set("fused_activation_function", rewriter.getStringAttr("NONE"));
    rewriter.replaceOp(quantize, rewriter.create(state)->getResults());
    rewriter.eraseOp(bconv);
    return success();
  }

  bool allowZeroPadding;
};

struct FuseBitpackedOutputPass : impl::FuseBitpackedOutputBase<FuseBitpackedOutputPass> {
  using FuseBitpackedOutputBase::FuseBitpackedOutputBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseQuantize>(&getContext(), allowZeroPadding);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) signalPassFailure();
  }
};

}  // namespace
}  // namespace lce
