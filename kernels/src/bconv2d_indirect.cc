// Bconv2d by indirect BGEMM. For each output pixel an indirection table holds, per filter tap,
// the offset of the input pixel's packed words; padding taps read a row of zero words instead.
// A tile of output pixels x one block of 8 output channels is accumulated over the taps with
// XOR + popcount on 64-bit lanes (lane j = output channel j of the block; the per-ISA
// microkernels differ only in how they count bits). Zero bits read as +1, which is exactly one
// padding. For zero padding the tap must contribute 0 instead: its count popcount(0 ^ w) =
// popcount(w_tap) is subtracted again (tapPopcount) and the tap is not counted, so that
//   conv = counted_taps * C_g - 2 * (accum - sum over zero-padding taps of popcount(w_tap))
// equals semantics.md's conv exactly. The output transform is the reference's
// (output_transform.h).
//
// This file builds the plan (once per shape and filter) and dispatches run() through the ISA
// table (isa_table.h): one descriptor per kernel file (bconv2d_indirect_{portable,popcnt,avx2,
// avx512,neon,neon_dotprod}.cc, each built with its own flags), each with its own filter
// layout, packed for the active path in setFilter and for another path the first time it runs
// on the plan.
#include <algorithm>
#include <map>
#include <stdexcept>

#include "bconv2d_indirect_kernel.h"
#include "isa_table.h"
#include "lce_kernels/kernels.h"
#include "lce_kernels/thread_pool.h"

namespace lce_kernels {

Bconv2dPlan::Bconv2dPlan(const Bconv2dShape &s, const int32_t *filter) : shape(s) {
  taps = s.filterHeight * s.filterWidth;
  words64 = (s.wordsPerGroup + 1) / 2;
  outPerGroup = s.channelsOut / s.groups;
  const int64_t image = s.outHeight * s.outWidth;
  offsets.resize(image * taps);
  counted.resize(image);
  skippedBegin.resize(image + 1);
  zeros.assign(s.wordsIn, 0u);
  ones.assign(s.channelsOut, 1.0f);
  floatZeros.assign(s.channelsOut, 0.0f);
  for (int64_t oy = 0, q = 0; oy < s.outHeight; ++oy)
    for (int64_t ox = 0; ox < s.outWidth; ++ox, ++q) {
      skippedBegin[q] = static_cast<int32_t>(skipped.size());
      int32_t count = 0;
      for (int64_t ky = 0; ky < s.filterHeight; ++ky)
        for (int64_t kx = 0; kx < s.filterWidth; ++kx) {
          const int64_t t = ky * s.filterWidth + kx;
          const int64_t iy = oy * s.strideHeight - s.padTop + ky * s.dilationHeight;
          const int64_t ix = ox * s.strideWidth - s.padLeft + kx * s.dilationWidth;
          const bool inside = iy >= 0 && iy < s.inHeight && ix >= 0 && ix < s.inWidth;
          offsets[q * taps + t] = inside ? (iy * s.inWidth + ix) * s.wordsIn : -1;
          if (inside || s.padValues == 1) ++count;
          else skipped.push_back(static_cast<int32_t>(t));
        }
      counted[q] = count;
    }
  skippedBegin[image] = static_cast<int32_t>(skipped.size());
  // Padded geometry: the last output pixel's last tap sets the extent below and to the right.
  paddedHeight = std::max(s.padTop + s.inHeight,
                          (s.outHeight - 1) * s.strideHeight + (s.filterHeight - 1) * s.dilationHeight + 1);
  paddedWidth = std::max(s.padLeft + s.inWidth,
                         (s.outWidth - 1) * s.strideWidth + (s.filterWidth - 1) * s.dilationWidth + 1);
  needsPadding = std::find(offsets.begin(), offsets.end(), -1) != offsets.end();
  if (!needsPadding) paddedHeight = s.inHeight, paddedWidth = s.inWidth;  // the input as it is (VALID, 1x1)
  const int64_t top = needsPadding ? s.padTop : 0, left = needsPadding ? s.padLeft : 0;
  paddedImageWords = paddedHeight * paddedWidth * s.wordsIn;
  pixelBase.resize(image);
  for (int64_t oy = 0, q = 0; oy < s.outHeight; ++oy)
    for (int64_t ox = 0; ox < s.outWidth; ++ox, ++q)
      pixelBase[q] =
          ((oy * s.strideHeight - s.padTop + top) * paddedWidth + ox * s.strideWidth - s.padLeft + left) * s.wordsIn;
  tapStep.resize(taps);
  for (int64_t ky = 0; ky < s.filterHeight; ++ky)
    for (int64_t kx = 0; kx < s.filterWidth; ++kx)
      tapStep[ky * s.filterWidth + kx] = (ky * s.dilationHeight * paddedWidth + kx * s.dilationWidth) * s.wordsIn;
  depthIndex.resize(taps * s.wordsPerGroup);
  for (int64_t t = 0, q = 0; t < taps; ++t)
    for (int64_t k = 0; k < s.wordsPerGroup; ++k, ++q) depthIndex[q] = tapStep[t] + k;
  // Border classes: the distinct sets of zero-padding taps (class 0: none).
  pixelClass.assign(image, 0);
  classSkipBegin.assign(1, 0);
  classSkipBegin.push_back(0);
  std::map<std::vector<int32_t>, int32_t> classes;
  classes[{}] = 0;
  for (int64_t q = 0; q < image; ++q) {
    std::vector<int32_t> set(skipped.begin() + skippedBegin[q], skipped.begin() + skippedBegin[q + 1]);
    auto it = classes.find(set);
    if (it == classes.end()) {
      it = classes.emplace(set, static_cast<int32_t>(classes.size())).first;
      classSkipped.insert(classSkipped.end(), set.begin(), set.end());
      classSkipBegin.push_back(static_cast<int32_t>(classSkipped.size()));
    }
    pixelClass[q] = it->second;
  }
  if (filter) setFilter(filter);
}

void Bconv2dPlan::padInput(const int32_t *input, uint32_t *padded) const {
  const Bconv2dShape &s = shape;
  const int64_t rowWords = s.inWidth * s.wordsIn, left = s.padLeft * s.wordsIn;
  const int64_t right = paddedWidth * s.wordsIn - left - rowWords;
  const auto *in = reinterpret_cast<const uint32_t *>(input);
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t r = 0; r < paddedHeight; ++r) {
      uint32_t *row = padded + n * paddedImageWords + r * paddedWidth * s.wordsIn;
      const int64_t iy = r - s.padTop;
      if (iy < 0 || iy >= s.inHeight) {
        std::fill_n(row, paddedWidth * s.wordsIn, 0u);
        continue;
      }
      std::fill_n(row, left, 0u);
      std::copy_n(in + (n * s.inHeight + iy) * rowWords, rowWords, row + left);
      std::fill_n(row + left + rowWords, right, 0u);
    }
}

namespace {
const IndirectKernel &kernelFor(Isa isa) { return isaPaths(isa).bconv(); }
}  // namespace

void Bconv2dPlan::setFilter(const int32_t *filterData) {
  const Bconv2dShape &s = shape;
  filter.assign(filterData, filterData + s.channelsOut * taps * s.wordsPerGroup);
  tapPopcount.assign(s.channelsOut * taps, 0);
  for (int64_t c = 0; c < s.channelsOut; ++c)
    for (int64_t t = 0; t < taps; ++t) {
      const auto *w = reinterpret_cast<const uint32_t *>(filterData) + (c * taps + t) * s.wordsPerGroup;
      int32_t count = 0;
      for (int64_t k = 0; k < s.wordsPerGroup; ++k) count += __builtin_popcount(w[k]);
      tapPopcount[c * taps + t] = count;
    }
  const int64_t classCount = static_cast<int64_t>(classSkipBegin.size()) - 1;
  classBase.assign(classCount * s.channelsOut, 0);
  classHalfDelta.assign(classCount * s.channelsOut, 0);
  for (int64_t k = 0; k < classCount; ++k) {
    const int32_t begin = classSkipBegin[k], end = classSkipBegin[k + 1];
    const int64_t counted = taps - (end - begin);
    for (int64_t c = 0; c < s.channelsOut; ++c) {
      int64_t base = counted * s.channelsPerGroup;
      for (int32_t i = begin; i < end; ++i) base += 2 * tapPopcount[c * taps + classSkipped[i]];
      classBase[k * s.channelsOut + c] = static_cast<int32_t>(base);
      const int64_t delta = base - s.K;  // floor division by 2
      classHalfDelta[k * s.channelsOut + c] = static_cast<int32_t>(delta >= 0 ? delta / 2 : -((1 - delta) / 2));
    }
  }
  classBaseEven = std::all_of(classBase.begin(), classBase.end(), [](int32_t v) { return v % 2 == 0; });
  {  // every path's layout is stale; the active one is packed now
    std::lock_guard<std::mutex> lock(packMutex_);
    for (auto &p : packed_) p.reset();
  }
  hasFilter = true;
  packedFor(activeIsa());
}

const PackedFilter &Bconv2dPlan::packedFor(Isa isa) const {
  std::lock_guard<std::mutex> lock(packMutex_);
  std::unique_ptr<PackedFilter> &slot = packed_[static_cast<int>(isa)];
  if (!slot) {
    auto p = std::make_unique<PackedFilter>();
    kernelFor(isa).pack(*this, *p);
    slot = std::move(p);
  }
  return *slot;
}


void Bconv2dPlan::run(const int32_t *input, const Bconv2dOutput &o, void *out, int threads) const {
  if (!hasFilter) throw std::logic_error("Bconv2dPlan::run before setFilter");
  const Isa isa = activeIsa();
  const IndirectKernel &kernel = kernelFor(isa);
  const PackedFilter &packed = packedFor(isa);
  const int64_t pixels = shape.batch * shape.outHeight * shape.outWidth;
  if (o.type == OutputType::kBitpacked) std::fill_n(static_cast<int32_t *>(out), pixels * packedWords(shape.channelsOut), 0);
  if (o.type == OutputType::kFloat && o.bits) std::fill_n(o.bits, pixels * packedWords(shape.channelsOut), 0);
  const int64_t tiles = (pixels + kernel.tilePixels - 1) / kernel.tilePixels;
  if (kernel.paddedInput && needsPadding) {  // made once by the calling thread, read by every thread
    thread_local std::vector<uint32_t> paddedCopy;
    paddedCopy.resize(shape.batch * paddedImageWords);
    padInput(input, paddedCopy.data());
    input = reinterpret_cast<const int32_t *>(paddedCopy.data());
  }
  if (threads <= 1 || tiles < 2) {
    std::vector<const uint32_t *> scratch(taps * kernel.tilePixels);
    kernel.run(*this, packed, input, o, out, 0, tiles, scratch.data());
    return;
  }
  // The pool's threads claim chunks of tiles one at a time (about 8 per thread), so that a
  // thread slowed down by other jobs on its core leaves its share to the others. Every tile is
  // computed the same way whichever thread takes it: the results do not depend on the split.
  ThreadPool::instance().parallelFor(threads, tiles, [&](int64_t begin, int64_t end) {
    thread_local std::vector<const uint32_t *> scratch;
    if (scratch.size() < static_cast<size_t>(taps * kernel.tilePixels)) scratch.resize(taps * kernel.tilePixels);
    kernel.run(*this, packed, input, o, out, begin, end, scratch.data());
  });
}

void bconv2dIndirect(const Bconv2dShape &s, const int32_t *input, const int32_t *filter, const Bconv2dOutput &o,
                     void *out, int threads) {
  Bconv2dPlan(s, filter).run(input, o, out, threads);
}

}  // namespace lce_kernels
