// The pieces of semantics.md that every Bconv2d/pool implementation shares, in one place:
// TF's output size and padding, and the Bconv2d output transform (float, int8, bitpacked).
#ifndef LCE_KERNELS_OUTPUT_TRANSFORM_H
#define LCE_KERNELS_OUTPUT_TRANSFORM_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "lce_kernels/kernels.h"
#include "lce_kernels/semantics.h"

namespace lce_kernels {
namespace {  // internal linkage: included by translation units built with different ISA flags

// Output size and leading padding of one spatial dimension for an effective (dilated) window.
// Returns an error message, or "".
std::string windowGeometry(int64_t in, int64_t effective, int64_t stride, bool same, int64_t &out,
                                  int64_t &padBefore) {
  if (same) {  // lce_kernels/semantics.h
    const semantics::SamePadding p = semantics::samePadding(in, effective, stride, 1);
    out = p.out, padBefore = p.before;
    return "";
  }
  if (effective > in) return "VALID filter larger than the input";
  out = (in - effective) / stride + 1;
  padBefore = 0;
  return "";
}

// The post ops of float output (PostOp) on channel c of pixel `pixel`. max and min as the
// vector instructions do them (maxps/minps: the second operand unless the first is greater /
// smaller), so that every path gives the same bits, signed zeros included.
inline float applyPostOps(const Bconv2dOutput &o, int64_t channelsOut, int64_t pixel, int64_t c, float y) {
  for (int k = 0; k < o.postOpCount; ++k) {
    const PostOp &op = o.postOps[k];
    switch (op.kind) {
      case PostOp::Kind::kMul: y = y * op.values[c]; break;
      case PostOp::Kind::kAdd: y = y + op.values[c]; break;
      case PostOp::Kind::kAddTensor: y = y + op.values[pixel * channelsOut + c]; break;
      case PostOp::Kind::kClamp:
        y = y > op.lo ? y : op.lo;
        y = y < op.hi ? y : op.hi;
        break;
    }
  }
  return y;
}

// Float output of channel c of pixel `pixel` after the Bconv2d's transform: the post ops, the
// float result (unless skipped) and the fused Quantize bit (its words zeroed beforehand).
inline void finishFloat(const Bconv2dOutput &o, int64_t channelsOut, int64_t pixel, int64_t c, float y, void *out) {
  if (o.postOpCount) y = applyPostOps(o, channelsOut, pixel, c, y);
  if (o.writeFloat) static_cast<float *>(out)[pixel * channelsOut + c] = y;
  if (o.bits && y < 0.0f) o.bits[pixel * packedWords(channelsOut) + c / 32] |= static_cast<int32_t>(1u << (c % 32));
}

// Writes output channel `c` of output pixel `pixel` from its conv value (semantics.md):
// float: clamp(conv, lo, hi) * m + b in float32 (no FMA contraction: build with
// -ffp-contract=off); int8: round(y / scale) + zero point, saturated; bitpacked: bit = 1 when
// accum_eff = (K - conv) / 2 exceeds the threshold. Bitpacked words must be zeroed beforehand.
void writeOutput(const Bconv2dOutput &o, int64_t K, int64_t lo, int64_t hi, int64_t channelsOut,
                        int64_t pixel, int64_t c, int64_t conv, void *out) {
  if (o.type == OutputType::kBitpacked) {
    if (semantics::bitpackedBit(K, conv, o.threshold[c]))
      static_cast<int32_t *>(out)[pixel * packedWords(channelsOut) + c / 32] |= static_cast<int32_t>(1u << (c % 32));
    return;
  }
  const float clamped = static_cast<float>(std::clamp(conv, lo, hi));
  const float scaled = clamped * (o.multiplier ? o.multiplier[c] : 1.0f);
  const float y = scaled + (o.bias ? o.bias[c] : 0.0f);
  if (o.type == OutputType::kFloat) {
    finishFloat(o, channelsOut, pixel, c, y, out);
  } else {
    const float q = std::round(y / o.scale) + static_cast<float>(o.zeroPoint);
    static_cast<int8_t *>(out)[pixel * channelsOut + c] = static_cast<int8_t>(std::clamp(q, -128.0f, 127.0f));
  }
}

}  // namespace
}  // namespace lce_kernels

#endif  // LCE_KERNELS_OUTPUT_TRANSFORM_H
