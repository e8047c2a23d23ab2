// Small helpers shared by the lce_convert passes: reading and making tfl constants, the packed
// type of a tensor, and the exact sign of a*m + b used for integer thresholds.
#ifndef LCE_TRANSFORMS_COMMON_H
#define LCE_TRANSFORMS_COMMON_H

#include <optional>
#include <vector>

#include "ir/LqOps.h"
#include "ir/TflOps.h"
#include "lce_kernels/semantics.h"
#include "mlir/IR/Builders.h"

namespace lce {

// The float32 values of a `tfl.const` holding dense f32 data, else nullopt.
std::optional<std::vector<float>> getConstF32(mlir::Value v);
// The int32 values of a `tfl.const` holding dense i32 data, else nullopt.
std::optional<std::vector<int32_t>> getConstI32(mlir::Value v);
// True if `v` is produced by tfl.no_value (an absent optional operand).
bool isNoValue(mlir::Value v);

mlir::Value makeConstF32(mlir::OpBuilder &b, mlir::Location loc, llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<float> values);
mlir::Value makeConstI32(mlir::OpBuilder &b, mlir::Location loc, llvm::ArrayRef<int64_t> shape,
                         llvm::ArrayRef<int32_t> values);
mlir::Value makeNoValue(mlir::OpBuilder &b, mlir::Location loc);

// `t` with its last dimension bitpacked (ceil(C/32)) and element type i32.
mlir::RankedTensorType packedType(mlir::RankedTensorType t);

// The sign (-1, 0 or +1) of a*m + b evaluated exactly (no rounding) for an integer a and
// finite float32 m and b.
int exactSignOfAffine(int64_t a, float m, float b);

// The threshold t of a bitpacked-output channel: its bit is (accum > t) for accum in [0, K],
// equal to clamp(K - 2*accum, lo, hi) * m + b < 0 evaluated exactly. Requires m >= 0 (negate
// the filter channel first otherwise); lo/hi must lie in [-K, K]. t = -1 means always -1 and
// t = K never.
int32_t bitpackedThreshold(int64_t K, int64_t lo, int64_t hi, float m, float b);

// TF's SAME padding for one spatial dimension: (before, after) (lce_kernels/semantics.h).
std::pair<int64_t, int64_t> samePadding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation);

// The fused activation named `name` ("RELU6", lce_kernels/semantics.h), or nullptr.
const lce_kernels::semantics::Activation *activationNamed(llvm::StringRef name);

}  // namespace lce

#endif  // LCE_TRANSFORMS_COMMON_H
