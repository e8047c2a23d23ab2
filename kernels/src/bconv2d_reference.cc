// Bconv2d reference: direct loops over output pixels, channels, taps and packed words,
// computing exactly the conv value of semantics.md,
//   conv = sum over in-bounds taps of (C_g - 2*popcount(x ^ w))
//        + [one padding] sum over out-of-bounds taps of (C_g - 2*popcount(w)),
// (zero padding: out-of-bounds taps contribute 0), then the output transform:
//   float: clamp(conv, lo, hi) * m + b (float32, no FMA contraction);
//   int8: round(that / scale) + zero point, saturated;
//   bitpacked: bit = (K - conv) > 2 * threshold, i.e. accum_eff = (K - conv)/2 > threshold.
// Slow on purpose: it is the oracle for the optimized kernels and documents the math.
#include <algorithm>
#include <cmath>

#include "lce_kernels/kernels.h"
#include "output_transform.h"
#include "shape_checks.h"

namespace lce_kernels {

std::string Bconv2dShape::finalize() {
  if (batch < 1 || inHeight < 1 || inWidth < 1 || channelsIn < 1 || channelsOut < 1 || filterHeight < 1 ||
      filterWidth < 1 || strideHeight < 1 || strideWidth < 1 || dilationHeight < 1 || dilationWidth < 1 ||
      groups < 1)
    return "shapes, strides, dilations and groups must be positive";
  if (!shape_checks::inInt32Range({batch, inHeight, inWidth, channelsIn, channelsOut, filterHeight, filterWidth,
                                   strideHeight, strideWidth, dilationHeight, dilationWidth, groups}))
    return "shapes, strides, dilations and groups must be below 2^31";
  if (channelsIn % groups || channelsOut % groups) return "channels must be divisible by groups";
  channelsPerGroup = channelsIn / groups;
  if (groups > 1 && channelsPerGroup % 32) return "grouped channels must be a multiple of 32";
  wordsPerGroup = packedWords(channelsPerGroup);
  wordsIn = packedWords(channelsIn);
  if (__builtin_mul_overflow(filterHeight, filterWidth, &K) || __builtin_mul_overflow(K, channelsPerGroup, &K) ||
      K > shape_checks::kInt32Max)
    return "filter_height * filter_width * channels_in / groups must be below 2^31";
  if (padValues != 0 && padValues != 1) return "pad_values must be 0 or 1";
  int64_t effH, effW;
  if (std::string err = shape_checks::window("height", inHeight, filterHeight, dilationHeight, strideHeight,
                                             samePadding, effH);
      !err.empty())
    return err;
  if (std::string err = shape_checks::window("width", inWidth, filterWidth, dilationWidth, strideWidth, samePadding,
                                             effW);
      !err.empty())
    return err;
  if (std::string err = windowGeometry(inHeight, effH, strideHeight, samePadding, outHeight, padTop); !err.empty())
    return err;
  if (std::string err = windowGeometry(inWidth, effW, strideWidth, samePadding, outWidth, padLeft); !err.empty())
    return err;
  return "";
}

void bconv2dReference(const Bconv2dShape &s, const int32_t *input, const int32_t *filter,
                      const Bconv2dOutput &o, void *out) {
  const int64_t outPerGroup = s.channelsOut / s.groups;
  const int64_t lo = std::max<int64_t>(o.clampLow, -s.K), hi = std::min<int64_t>(o.clampHigh, s.K);
  const int64_t outWords = packedWords(s.channelsOut);
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oy = 0; oy < s.outHeight; ++oy)
      for (int64_t ox = 0; ox < s.outWidth; ++ox) {
        const int64_t pixel = (n * s.outHeight + oy) * s.outWidth + ox;
        if (o.type == OutputType::kBitpacked)
          std::fill_n(static_cast<int32_t *>(out) + pixel * outWords, outWords, 0);
        if (o.type == OutputType::kFloat && o.bits) std::fill_n(o.bits + pixel * outWords, outWords, 0);
        for (int64_t c = 0; c < s.channelsOut; ++c) {
          const int64_t g = c / outPerGroup;
          int64_t conv = 0;
          for (int64_t ky = 0; ky < s.filterHeight; ++ky)
            for (int64_t kx = 0; kx < s.filterWidth; ++kx) {
              const int32_t *w = filter + ((c * s.filterHeight + ky) * s.filterWidth + kx) * s.wordsPerGroup;
              const int64_t iy = oy * s.strideHeight - s.padTop + ky * s.dilationHeight;
              const int64_t ix = ox * s.strideWidth - s.padLeft + kx * s.dilationWidth;
              const bool inside = iy >= 0 && iy < s.inHeight && ix >= 0 && ix < s.inWidth;
              if (!inside && s.padValues == 0) continue;  // zero padding: the tap contributes 0
              const int32_t *x = inside ? input + ((n * s.inHeight + iy) * s.inWidth + ix) * s.wordsIn +
                                              g * s.wordsPerGroup
                                        : nullptr;  // one padding: +1 inputs are zero bits
              int64_t pop = 0;
              for (int64_t k = 0; k < s.wordsPerGroup; ++k)
                pop += __builtin_popcount(static_cast<uint32_t>((x ? x[k] : 0) ^ w[k]));
              conv += s.channelsPerGroup - 2 * pop;
            }
          writeOutput(o, s.K, lo, hi, s.channelsOut, pixel, c, conv, out);
        }
      }
}

}  // namespace lce_kernels
