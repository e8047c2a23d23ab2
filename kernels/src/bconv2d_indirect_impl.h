// The indirect-BGEMM Bconv2d (see bconv2d_indirect.cc for the method). Included by one
// translation unit per ISA (bconv2d_indirect_portable.cc, bconv2d_indirect_popcnt.cc, compiled
// with different flags); everything here has internal linkage so that the copies never mix.
#ifndef LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H
#define LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "lce_kernels/kernels.h"
#include "lce_kernels/thread_pool.h"
#include "output_transform.h"

namespace lce_kernels {
namespace {

struct Indirection {
  std::vector<const uint32_t *> taps;  // [pixel][tap], nullptr = skipped
  std::vector<int32_t> counted;        // taps that count, per pixel
};

Indirection buildIndirection(const Bconv2dShape &s, const int32_t *input, const uint32_t *zeros) {
  const int64_t taps = s.filterHeight * s.filterWidth;
  Indirection ind;
  ind.taps.resize(s.batch * s.outHeight * s.outWidth * taps);
  ind.counted.resize(s.batch * s.outHeight * s.outWidth);
  int64_t pixel = 0;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oy = 0; oy < s.outHeight; ++oy)
      for (int64_t ox = 0; ox < s.outWidth; ++ox, ++pixel) {
        int32_t counted = 0;
        for (int64_t ky = 0; ky < s.filterHeight; ++ky)
          for (int64_t kx = 0; kx < s.filterWidth; ++kx) {
            const int64_t iy = oy * s.strideHeight - s.padTop + ky * s.dilationHeight;
            const int64_t ix = ox * s.strideWidth - s.padLeft + kx * s.dilationWidth;
            const uint32_t *p = nullptr;
            if (iy >= 0 && iy < s.inHeight && ix >= 0 && ix < s.inWidth)
              p = reinterpret_cast<const uint32_t *>(input + ((n * s.inHeight + iy) * s.inWidth + ix) * s.wordsIn);
            else if (s.padValues == 1)
              p = zeros;
            if (p) ++counted;
            ind.taps[pixel * taps + ky * s.filterWidth + kx] = p;
          }
        ind.counted[pixel] = counted;
      }
  return ind;
}

template <int Block>
inline void accumulate(const uint32_t *const *taps, int64_t numTaps, int64_t groupOffset, const uint32_t *filter,
                       int64_t filterTapStride, int64_t filterChannelStride, int64_t words, int32_t *acc) {
  for (int b = 0; b < Block; ++b) acc[b] = 0;
  for (int64_t t = 0; t < numTaps; ++t) {
    const uint32_t *x = taps[t];
    if (!x) continue;
    x += groupOffset;
    const uint32_t *w = filter + t * filterTapStride;
    int64_t k = 0;
    for (; k + 2 <= words; k += 2) {
      uint64_t xv;
      std::memcpy(&xv, x + k, 8);
      for (int b = 0; b < Block; ++b) {
        uint64_t wv;
        std::memcpy(&wv, w + b * filterChannelStride + k, 8);
        acc[b] += __builtin_popcountll(xv ^ wv);
      }
    }
    for (; k < words; ++k)
      for (int b = 0; b < Block; ++b) acc[b] += __builtin_popcount(x[k] ^ w[b * filterChannelStride + k]);
  }
}

void run(const Bconv2dShape &s, const int32_t *input, const int32_t *filter, const Bconv2dOutput &o, void *out,
         int threads) {
  std::vector<uint32_t> zeros(s.wordsIn, 0u);
  const Indirection ind = buildIndirection(s, input, zeros.data());
  const int64_t taps = s.filterHeight * s.filterWidth, pixels = s.batch * s.outHeight * s.outWidth;
  const int64_t outPerGroup = s.channelsOut / s.groups, outWords = packedWords(s.channelsOut);
  const int64_t lo = std::max<int64_t>(o.clampLow, -s.K), hi = std::min<int64_t>(o.clampHigh, s.K);
  const auto *w = reinterpret_cast<const uint32_t *>(filter);
  const int64_t channelStride = taps * s.wordsPerGroup;
  if (o.type == OutputType::kBitpacked) std::fill_n(static_cast<int32_t *>(out), pixels * outWords, 0);
  constexpr int kBlock = 4;
  ThreadPool::instance().parallelFor(threads, pixels, [&](int64_t firstPixel, int64_t endPixel) {
  for (int64_t p = firstPixel; p < endPixel; ++p) {
    const uint32_t *const *pt = ind.taps.data() + p * taps;
    const int64_t full = ind.counted[p] * s.channelsPerGroup;
    for (int64_t c0 = 0; c0 < s.channelsOut; c0 += kBlock) {
      int32_t acc[kBlock];
      const int n = static_cast<int>(std::min<int64_t>(kBlock, s.channelsOut - c0));
      // A block never straddles groups unless the group size is not a multiple of kBlock;
      // then fall back to one channel at a time.
      const bool sameGroup = (c0 / outPerGroup) == ((c0 + n - 1) / outPerGroup);
      if (n == kBlock && sameGroup) {
        accumulate<kBlock>(pt, taps, (c0 / outPerGroup) * s.wordsPerGroup, w + c0 * channelStride,
                           s.wordsPerGroup, channelStride, s.wordsPerGroup, acc);
      } else {
        for (int b = 0; b < n; ++b)
          accumulate<1>(pt, taps, ((c0 + b) / outPerGroup) * s.wordsPerGroup, w + (c0 + b) * channelStride,
                        s.wordsPerGroup, channelStride, s.wordsPerGroup, acc + b);
      }
      for (int b = 0; b < n; ++b) {
        const int64_t c = c0 + b;
        writeOutput(o, s.K, lo, hi, s.channelsOut, p, c0 + b, full - 2 * static_cast<int64_t>(acc[b]), out);
      }
    }
  }
  });
}

}  // namespace
}  // namespace lce_kernels

#endif  // LCE_KERNELS_BCONV2D_INDIRECT_IMPL_H
