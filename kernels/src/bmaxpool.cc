// BMaxPool2d: max over +-1 values is "+1 if any tap is +1", i.e. the AND of the taps' words
// (bit 1 = -1). SAME padding ignores out-of-bounds taps (semantics.md).
#include <algorithm>

#include "isa_table.h"
#include "lce_kernels/kernels.h"
#include "output_transform.h"
#include "shape_checks.h"

namespace lce_kernels {

std::string PoolShape::finalize() {
  if (batch < 1 || inHeight < 1 || inWidth < 1 || words < 1 || filterHeight < 1 || filterWidth < 1 ||
      strideHeight < 1 || strideWidth < 1)
    return "shapes, filters and strides must be positive";
  if (!shape_checks::inInt32Range({batch, inHeight, inWidth, words, filterHeight, filterWidth, strideHeight,
                                   strideWidth}))
    return "shapes, filters and strides must be below 2^31";
  int64_t effH, effW;  // no dilation: the filter itself
  if (std::string err = shape_checks::window("height", inHeight, filterHeight, 1, strideHeight, samePadding, effH);
      !err.empty())
    return err;
  if (std::string err = shape_checks::window("width", inWidth, filterWidth, 1, strideWidth, samePadding, effW);
      !err.empty())
    return err;
  if (std::string err = windowGeometry(inHeight, effH, strideHeight, samePadding, outHeight, padTop); !err.empty())
    return err;
  if (std::string err = windowGeometry(inWidth, effW, strideWidth, samePadding, outWidth, padLeft); !err.empty())
    return err;
  return "";
}

void and_words_portable(int32_t *dst, const int32_t *src, int64_t words) {
  for (int64_t k = 0; k < words; ++k) dst[k] &= src[k];
}

void bmaxpool2d(const PoolShape &s, const int32_t *input, int32_t *out) {
  const AndWords andWords = activePaths().andWords;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oy = 0; oy < s.outHeight; ++oy)
      for (int64_t ox = 0; ox < s.outWidth; ++ox) {
        int32_t *dst = out + ((n * s.outHeight + oy) * s.outWidth + ox) * s.words;
        std::fill_n(dst, s.words, -1);  // all ones: the identity of AND
        for (int64_t ky = 0; ky < s.filterHeight; ++ky)
          for (int64_t kx = 0; kx < s.filterWidth; ++kx) {
            const int64_t iy = oy * s.strideHeight - s.padTop + ky, ix = ox * s.strideWidth - s.padLeft + kx;
            if (iy < 0 || iy >= s.inHeight || ix < 0 || ix >= s.inWidth) continue;
            const int32_t *src = input + ((n * s.inHeight + iy) * s.inWidth + ix) * s.words;
            andWords(dst, src, s.words);
          }
      }
}

}  // namespace lce_kernels
