// Helpers shared by the passes (see Common.h).
#include "transforms/Common.h"

#include <algorithm>
#include <cmath>

#include "llvm/ADT/APInt.h"

using namespace mlir;

namespace lce {

namespace {
template <typename T>
std::optional<std::vector<T>> constValues(Value v, bool (*isType)(Type)) {
  auto c = v.getDefiningOp<tfl::ConstOp>();
  if (!c) return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
  if (!dense || !isType(dense.getElementType())) return std::nullopt;
  auto resultType = dyn_cast<ShapedType>(c.getType());
  if (!resultType || resultType.getElementType() != dense.getElementType()) return std::nullopt;
  auto range = dense.getValues<T>();
  return std::vector<T>(range.begin(), range.end());
}
}  // namespace

std::optional<std::vector<float>> getConstF32(Value v) {
  return constValues<float>(v, [](Type t) { return t.isF32(); });
}

std::optional<std::vector<int32_t>> getConstI32(Value v) {
  return constValues<int32_t>(v, [](Type t) { return t.isSignlessInteger(32); });
}

bool isNoValue(Value v) { return isa<NoneType>(v.getType()); }

Value makeConstF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, ArrayRef<float> values) {
  auto type = RankedTensorType::get(shape, b.getF32Type());
  return tfl::ConstOp::create(b, loc, type, DenseElementsAttr::get(type, values));
}

Value makeConstI32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, ArrayRef<int32_t> values) {
  auto type = RankedTensorType::get(shape, b.getI32Type());
  return tfl::ConstOp::create(b, loc, type, DenseElementsAttr::get(type, values));
}

Value makeNoValue(OpBuilder &b, Location loc) {
  return tfl::NoValueOp::create(b, loc, b.getNoneType());
}

RankedTensorType packedType(RankedTensorType t) {
  SmallVector<int64_t> shape(t.getShape());
  shape.back() = lq::packedWords(shape.back());
  return RankedTensorType::get(shape, IntegerType::get(t.getContext(), 32));
}

int exactSignOfAffine(int64_t a, float m, float b) {
  // m = M * 2^em and b = B * 2^eb with 24-bit integer mantissas; then a*m + b is an integer
  // after scaling by 2^-min(em, eb). The widest case (denormal vs. huge exponent, 2^25 for a)
  // needs about 330 bits.
  constexpr unsigned kBits = 512;
  auto decompose = [](float x, int &exponent) -> llvm::APInt {
    if (x == 0.0f) {
      exponent = 0;
      return llvm::APInt(kBits, 0);
    }
    int e;
    const double f = std::frexp(static_cast<double>(x), &e);  // x = f * 2^e, 0.5 <= |f| < 1
    exponent = e - 24;
    return llvm::APInt(kBits, static_cast<int64_t>(std::ldexp(f, 24)), /*isSigned=*/true);
  };
  int em, eb;
  llvm::APInt mm = decompose(m, em) * llvm::APInt(kBits, a, /*isSigned=*/true);
  llvm::APInt bb = decompose(b, eb);
  if (mm.isZero()) return bb.isNegative() ? -1 : (bb.isZero() ? 0 : 1);
  if (bb.isZero()) return mm.isNegative() ? -1 : 1;
  const int s = std::min(em, eb);
  llvm::APInt sum = mm.shl(em - s) + bb.shl(eb - s);
  return sum.isNegative() ? -1 : (sum.isZero() ? 0 : 1);
}

// Threshold t such that the output bit is (accum > t), for accum in [0, K]; see above.
// Requires m >= 0. `lo`/`hi` bound the conv value (already intersected with [-K, K]).
int32_t bitpackedThreshold(int64_t K, int64_t lo, int64_t hi, float m, float b) {
  auto isNegative = [&](int64_t accum) {
    const int64_t conv = std::clamp(K - 2 * accum, lo, hi);
    return exactSignOfAffine(conv, m, b) < 0;
  };
  // Smallest accum in [0, K] with a negative output (K + 1 if none).
  int64_t first = 0, last = K + 1;
  while (first < last) {
    const int64_t mid = first + (last - first) / 2;
    if (isNegative(mid)) last = mid;
    else first = mid + 1;
  }
  return static_cast<int32_t>(first - 1);
}

std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation) {
  const auto p = lce_kernels::semantics::samePadding(in, kernel, stride, dilation);
  return {p.before, p.after};
}

const lce_kernels::semantics::Activation *activationNamed(llvm::StringRef name) {
  return lce_kernels::semantics::activationByName(name.data(), name.size());
}

}  // namespace lce
