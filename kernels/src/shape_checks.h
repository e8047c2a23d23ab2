// Checked shape arithmetic for Bconv2dShape::finalize and PoolShape::finalize: every extent,
// stride and dilation must fit int32 (TFLite's shapes and options are int32), so no window
// computation can wrap, and a window may not reach further past the input than the input is
// long (bounding the taps, and so the work, of a SAME window by the padded input).
#ifndef LCE_KERNELS_SHAPE_CHECKS_H
#define LCE_KERNELS_SHAPE_CHECKS_H

#include <cstdint>
#include <string>

namespace lce_kernels {
namespace shape_checks {

constexpr int64_t kInt32Max = 2147483647;

inline bool inInt32Range(std::initializer_list<int64_t> values) {
  for (int64_t v : values)
    if (v < 1 || v > kInt32Max) return false;
  return true;
}

// The effective extent (filter - 1) * dilation + 1 of one dimension, checked: a VALID window
// must fit in the input; a SAME window's padding on either side may not exceed the input
// extent (total padding (out - 1) * stride + effective - in <= 2 * in).
inline std::string window(const char *dim, int64_t in, int64_t filter, int64_t dilation, int64_t stride, bool same,
                          int64_t &effective) {
  if (__builtin_mul_overflow(filter - 1, dilation, &effective) || effective >= kInt32Max)
    return std::string("the ") + dim + " window (filter and dilation) is too large";
  effective += 1;
  if (!same) return effective > in ? std::string("VALID ") + dim + " window larger than the input" : "";
  const int64_t out = (in + stride - 1) / stride;  // in, stride < 2^31: no overflow
  const int64_t padTotal = (out - 1) * stride + effective - in;
  if (padTotal > 2 * in)
    return std::string("SAME ") + dim + " window of " + std::to_string(effective) +
           " reaches further past the input than its extent " + std::to_string(in);
  return "";
}

}  // namespace shape_checks
}  // namespace lce_kernels

#endif  // LCE_KERNELS_SHAPE_CHECKS_H
