// Dialect registration and verifiers of the `lq` dialect. The rules checked here are the
// shape/attribute contracts of docs/semantics.md (bitpacking along the last axis,
// Bconv2d modes selected by the result type, grouped filters packed per group).
#include "ir/LqOps.h"
#include "lce_kernels/semantics.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

using namespace mlir;

#include "ir/LqDialect.cpp.inc"

namespace lce::lq {

void LqDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/LqOps.cpp.inc"
      >();
}

namespace {

bool isInt8Like(Type t) {
  if (auto q = dyn_cast<quant::QuantizedType>(t)) t = q.getStorageType();
  return t.isInteger(8);
}

// Checks that `packed` is `unpacked` bitpacked along the last axis.
LogicalResult verifyPacking(Operation *op, ShapedType unpacked, ShapedType packed) {
  if (!unpacked.hasRank() || !packed.hasRank()) return success();
  if (unpacked.getRank() != packed.getRank() || unpacked.getRank() == 0)
    return op->emitOpError("packed and unpacked tensors must have the same non-zero rank, got ")
           << unpacked << " and " << packed;
  for (int64_t i = 0; i + 1 < unpacked.getRank(); ++i) {
    int64_t a = unpacked.getDimSize(i), b = packed.getDimSize(i);
    if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b)
      return op->emitOpError("dimension ") << i << " differs: " << a << " vs " << b;
  }
  int64_t channels = unpacked.getShape().back(), words = packed.getShape().back();
  if (!ShapedType::isDynamic(channels) && !ShapedType::isDynamic(words) &&
      words != packedWords(channels))
    return op->emitOpError("packed dim must be ceil(") << channels << "/32) = "
                                                        << packedWords(channels) << ", got " << words;
  return success();
}

bool isSupportedUnpackedElement(Type t) {
  return t.isF32() || t.isF16() || t.isBF16() || t.isInteger(1) || isInt8Like(t);
}

bool isValidPadding(StringRef p) { return p == "SAME" || p == "VALID"; }

}  // namespace

LogicalResult QuantizeOp::verify() {
  auto in = cast<ShapedType>(getX().getType());
  if (!isSupportedUnpackedElement(in.getElementType()))
    return emitOpError("cannot binarize elements of type ") << in.getElementType();
  return verifyPacking(*this, in, cast<ShapedType>(getY().getType()));
}

LogicalResult DequantizeOp::verify() {
  auto out = cast<ShapedType>(getY().getType());
  Type e = out.getElementType();
  if (!(e.isF32() || isInt8Like(e)))
    return emitOpError("result must be float32 or int8, got ") << e;
  if (!out.hasRank() || out.getRank() == 0 || ShapedType::isDynamic(out.getShape().back()))
    return emitOpError("result needs a static last (channel) dimension, got ") << out;
  return verifyPacking(*this, out, cast<ShapedType>(getX().getType()));
}

LogicalResult Bconv2dOp::verify() {
  auto input = cast<ShapedType>(getInput().getType());
  auto filter = cast<ShapedType>(getFilter().getType());
  auto output = cast<ShapedType>(getOutput().getType());
  for (auto [name, t] : {std::pair<const char *, ShapedType>{"input", input},
                         {"filter", filter}, {"output", output}})
    if (t.hasRank() && t.getRank() != 4)
      return emitOpError() << name << " must have rank 4, got " << t;
  const int64_t channelsIn = getChannelsIn();
  if (channelsIn < 1) return emitOpError("channels_in must be positive");
  if (getStrideHeight() < 1 || getStrideWidth() < 1 || getDilationHeightFactor() < 1 ||
      getDilationWidthFactor() < 1)
    return emitOpError("strides and dilations must be positive");
  if (!isValidPadding(getPadding())) return emitOpError("padding must be SAME or VALID");
  if (getPadValues() != 0 && getPadValues() != 1) return emitOpError("pad_values must be 0 or 1");
  StringRef act = getFusedActivationFunction();
  if (!lce_kernels::semantics::activationByName(act.data(), act.size()))  // lce_kernels/semantics.h
    return emitOpError("unsupported fused_activation_function ") << act;
  if (input.hasRank() && !ShapedType::isDynamic(input.getDimSize(3)) &&
      input.getDimSize(3) != packedWords(channelsIn))
    return emitOpError("input depth must be ceil(channels_in/32) = ")
           << packedWords(channelsIn) << ", got " << input.getDimSize(3);

  int64_t channelsOut = ShapedType::kDynamic;
  if (filter.hasStaticShape()) {
    channelsOut = filter.getDimSize(0);
    const int64_t depth = filter.getDimSize(3);
    int64_t groups;
    if (filter.getElementType().isF32()) {
      if (depth < 1 || channelsIn % depth != 0)
        return emitOpError("channels_in ") << channelsIn << " is not a multiple of the filter depth " << depth;
      groups = channelsIn / depth;
    } else {
      // Bitpacked filter: packed per group, depth = ceil(channels_in / groups / 32) words.
      if (depth < 1 || packedWords(channelsIn) % depth != 0)
        return emitOpError("packed filter depth ") << depth << " does not divide ceil(channels_in/32)";
      groups = packedWords(channelsIn) / depth;
    }
    if (groups > 1) {
      if (channelsIn % groups != 0 || (channelsIn / groups) % 32 != 0)
        return emitOpError("grouped bconv needs channels per group to be a multiple of 32, got ")
               << channelsIn << " channels in " << groups << " groups";
      if (channelsOut % groups != 0)
        return emitOpError("output channels ") << channelsOut << " not divisible by groups " << groups;
    }
  }

  Type outElem = output.getElementType();
  const bool hasThreshold = !isa<NoneType>(getOutputThreshold().getType());
  const bool hasMult = !isa<NoneType>(getPostActivationMultiplier().getType());
  const bool hasBias = !isa<NoneType>(getPostActivationBias().getType());
  auto checkPerChannel = [&](Value v, const char *name) -> LogicalResult {
    auto t = dyn_cast<ShapedType>(v.getType());
    if (!t) return success();
    if (t.hasRank() && t.getRank() != 1) return emitOpError() << name << " must be 1-D";
    if (t.hasStaticShape() && !ShapedType::isDynamic(channelsOut) && t.getDimSize(0) != channelsOut)
      return emitOpError() << name << " has " << t.getDimSize(0) << " entries for "
                           << channelsOut << " output channels";
    return success();
  };
  if (failed(checkPerChannel(getPostActivationMultiplier(), "post_activation_multiplier")) ||
      failed(checkPerChannel(getPostActivationBias(), "post_activation_bias")) ||
      failed(checkPerChannel(getOutputThreshold(), "output_threshold")))
    return failure();
  int64_t outDepth = output.hasRank() ? output.getDimSize(3) : ShapedType::kDynamic;
  if (outElem.isInteger(32)) {
    if (!hasThreshold) return emitOpError("bitpacked output requires output_threshold");
    if (hasMult || hasBias)
      return emitOpError("bitpacked output takes no post_activation_multiplier/bias");
    if (!ShapedType::isDynamic(outDepth) && !ShapedType::isDynamic(channelsOut) &&
        outDepth != packedWords(channelsOut))
      return emitOpError("bitpacked output depth must be ceil(") << channelsOut << "/32)";
  } else if (outElem.isF32() || isInt8Like(outElem)) {
    if (hasThreshold) return emitOpError("output_threshold is only for bitpacked (i32) output");
    if (!ShapedType::isDynamic(outDepth) && !ShapedType::isDynamic(channelsOut) &&
        outDepth != channelsOut)
      return emitOpError("output depth ") << outDepth << " != output channels " << channelsOut;
  } else {
    return emitOpError("output must be f32, int8 or bitpacked i32, got ") << outElem;
  }
  return success();
}

LogicalResult BMaxPool2dOp::verify() {
  auto in = cast<ShapedType>(getInput().getType());
  auto out = cast<ShapedType>(getOutput().getType());
  if ((in.hasRank() && in.getRank() != 4) || (out.hasRank() && out.getRank() != 4))
    return emitOpError("input and output must have rank 4");
  if (!isValidPadding(getPadding())) return emitOpError("padding must be SAME or VALID");
  if (getStrideWidth() < 1 || getStrideHeight() < 1 || getFilterWidth() < 1 || getFilterHeight() < 1)
    return emitOpError("strides and filter sizes must be positive");
  if (in.hasRank() && out.hasRank() && !ShapedType::isDynamic(in.getDimSize(3)) &&
      !ShapedType::isDynamic(out.getDimSize(3)) && in.getDimSize(3) != out.getDimSize(3))
    return emitOpError("pooling keeps the packed depth");
  return success();
}

}  // namespace lce::lq

#define GET_OP_CLASSES
#include "ir/LqOps.cpp.inc"
