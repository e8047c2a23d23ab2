// lce_kernels: the binary operators of docs/semantics.md on plain arrays. No TFLite here;
// the delegate (later) and the tests call these directly.
//
// Layouts: activations NHWC, bitpacked along C into int32 words (channel c is bit c % 32 of word
// c / 32, 1 means -1, tail bits 0); filters OHWI bitpacked per group along I.
#ifndef LCE_KERNELS_KERNELS_H
#define LCE_KERNELS_KERNELS_H

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace lce_kernels {

// std::allocator with 64-byte (cache line) alignment, for data that kernels load with aligned
// vector loads.
template <class T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U> &) {}
  T *allocate(std::size_t n) {
    if (void *p = std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64)) return static_cast<T *>(p);
    throw std::bad_alloc();
  }
  void deallocate(T *p, std::size_t) { std::free(p); }
  template <class U>
  bool operator==(const CacheAlignedAllocator<U> &) const { return true; }
  template <class U>
  bool operator!=(const CacheAlignedAllocator<U> &) const { return false; }
};

// ---- ISA selection -----------------------------------------------------------------------
// Paths, by architecture: x86-64 "portable", "popcnt" (scalar hardware POPCNT, no vectors),
// "avx2" (AVX2 + POPCNT), "avx512" (AVX-512 F/BW/VPOPCNTDQ); aarch64 "portable", "neon"
// (Advanced SIMD), "neon_dotprod" (with the ARMv8.2 dot product). Chosen once from the CPU's
// features (the best one); the environment variable LCE_KERNELS_ISA forces one (tests cover
// every path on one machine). The table of paths is src/isa_table.h.
enum class Isa { kPortable = 0, kAvx2 = 1, kAvx512 = 2, kPopcnt = 3, kNeon = 4, kNeonDotprod = 5 };
constexpr int kIsaCount = 6;
std::vector<Isa> supportedIsas();  // this CPU's paths, portable first
Isa activeIsa();
void setIsa(Isa isa);  // throws std::invalid_argument (naming what there is) unless supported
const char *isaName(Isa isa);
bool parseIsa(const char *name, Isa &isa);  // a path name of this build's architecture
// "portable, popcnt, avx2, ...": this build's paths (onlySupported: those this CPU has).
std::string isaPathsDescription(bool onlySupported);

// ---- Bitpacking --------------------------------------------------------------------------
inline int64_t packedWords(int64_t channels) { return (channels + 31) / 32; }
// `rows` rows of `channels` values each -> rows * packedWords(channels) words. bit = x < 0
// (so -0.0 and NaN give +1), int8: bit = q < zeroPoint. Up to `threads` threads of the pool
// (rows split; used only for large tensors).
void bitpackFloat(const float *in, int64_t rows, int64_t channels, int32_t *out, int threads = 1);
void bitpackInt8(const int8_t *in, int64_t rows, int64_t channels, int8_t zeroPoint, int32_t *out,
                 int threads = 1);

// Unpacking (LceDequantize): bit 0 -> +1, bit 1 -> -1; int8: zp +- round(1/scale), saturated.
void dequantizeFloat(const int32_t *in, int64_t rows, int64_t channels, float *out, int threads = 1);
void dequantizeInt8(const int32_t *in, int64_t rows, int64_t channels, float scale, int32_t zeroPoint,
                    int8_t *out, int threads = 1);

// ---- Bconv2d -----------------------------------------------------------------------------
enum class OutputType { kFloat, kInt8, kBitpacked };

struct Bconv2dShape {
  int64_t batch = 1, inHeight = 0, inWidth = 0, channelsIn = 0;  // true channel count
  int64_t channelsOut = 0, filterHeight = 1, filterWidth = 1;
  int64_t strideHeight = 1, strideWidth = 1, dilationHeight = 1, dilationWidth = 1;
  int64_t groups = 1;
  bool samePadding = false;  // SAME, else VALID
  int padValues = 0;         // SAME only: 1 pads with +1 (zero bits), 0 with zeros (TF default)
  // Derived by `finalize`:
  int64_t outHeight = 0, outWidth = 0, padTop = 0, padLeft = 0;
  int64_t channelsPerGroup = 0, wordsPerGroup = 0, wordsIn = 0, K = 0;
  // Validates and derives; returns an error message or "".
  std::string finalize();
};

// A float operation applied to float output after the Bconv2d's own transform, as the
// following TFLite op would do it (the delegate fuses those ops into the Bconv2d's output pass):
// y = y * values[c], y = y + values[c], y = y + values[pixel][c] (a residual tensor of the
// output's shape), or y = min(max(y, lo), hi) (a ReLU-family activation). Each is one float32
// operation, in the order given, so the results are those of running the ops one by one.
struct PostOp {
  enum class Kind { kMul, kAdd, kAddTensor, kClamp };
  Kind kind = Kind::kClamp;
  const float *values = nullptr;  // kMul/kAdd: [channelsOut]; kAddTensor: [batch*OH*OW][channelsOut]
  float lo = 0, hi = 0;           // kClamp
};

struct Bconv2dOutput {
  OutputType type = OutputType::kFloat;
  int64_t clampLow = INT32_MIN, clampHigh = INT32_MAX;  // on the conv value; intersected with [-K, K]
  const float *multiplier = nullptr;   // [channelsOut], float/int8 output
  const float *bias = nullptr;         // [channelsOut], float/int8 output
  const int32_t *threshold = nullptr;  // [channelsOut], bitpacked output
  float scale = 1.0f;                  // int8 output
  int32_t zeroPoint = 0;               // int8 output
  // Float output only: post ops, then (bits != null) also the LceQuantize of the result,
  // bit = y < 0, as int32[batch*OH*OW][ceil(channelsOut/32)]; writeFloat = false skips the
  // float result itself (`out` may then be null).
  const PostOp *postOps = nullptr;
  int postOpCount = 0;
  int32_t *bits = nullptr;
  bool writeFloat = true;
};

// Reference implementation: direct loops, exactly semantics.md. `out` is float[N,OH,OW,O],
// int8[N,OH,OW,O] or int32[N,OH,OW,ceil(O/32)].
void bconv2dReference(const Bconv2dShape &shape, const int32_t *input, const int32_t *filter,
                      const Bconv2dOutput &output, void *out);

// A kernel path's own filter layout (bconv2d_indirect_kernel.h: each path packs its own),
// 64-byte aligned.
struct PackedFilter {
  std::vector<uint8_t, CacheAlignedAllocator<uint8_t>> bytes;
  template <class T>
  const T *as() const { return reinterpret_cast<const T *>(bytes.data()); }
};

// Indirect BGEMM implementation (the fast path; same results as the reference, bit for bit),
// prepared once per shape and filter. Everything that does not depend on the input is built by
// the constructor and setFilter: the indirection table as word offsets into the input (tensor
// addresses may change between runs; -1 is a padding tap), the border classes and per-tap
// filter popcounts for zero padding, and the filter in the layout of the active kernel path
// (each path, one per kernel file, packs its own: bconv2d_indirect_kernel.h). run() is const,
// thread-safe, and dispatches on activeIsa() at every call: a path that has not run on this
// plan yet packs its layout from the kept copy of the filter first. See bconv2d_indirect.cc.
struct Bconv2dPlan {
  explicit Bconv2dPlan(const Bconv2dShape &shape, const int32_t *filter = nullptr);  // finalized shape
  void setFilter(const int32_t *filter);  // OHWI, bitpacked per group; copied (repacked)
  // `threads` threads of the process-wide pool. Throws std::logic_error without a filter.
  void run(const int32_t *input, const Bconv2dOutput &output, void *out, int threads = 1) const;
  // The packed filter of `isa`'s path, packed now if needed (thread-safe).
  const PackedFilter &packedFor(Isa isa) const;

  Bconv2dShape shape;
  int64_t taps = 0, words64 = 0, outPerGroup = 0;
  std::vector<int64_t> offsets;        // [outHeight*outWidth][taps], within one image, or -1
  std::vector<int32_t> counted;        // [outHeight*outWidth] taps that count (not zero padding)
  std::vector<int32_t> skippedBegin;   // [outHeight*outWidth + 1] into skipped
  std::vector<int32_t> skipped;        // zero-padding taps of each pixel
  std::vector<int32_t> filter;         // the filter as given (OHWI, bitpacked per group)
  // Border classes: pixels whose zero-padding taps are the same set share a class (0: no
  // zero-padding tap). conv = classBase[class][c] - 2 * (XOR popcount over every tap, padding
  // taps reading zero words), i.e. counted taps * channels per group plus twice the skipped
  // taps' filter popcounts. Built by setFilter.
  std::vector<int32_t> pixelClass;     // [outHeight*outWidth]
  std::vector<int32_t> classSkipBegin; // [classes + 1] into classSkipped
  std::vector<int32_t> classSkipped;   // zero-padding taps of each class
  std::vector<int32_t> classBase;      // [classes][channelsOut]
  bool classBaseEven = false;          // every classBase entry is even (kernels may count conv / 2)
  // floor((classBase - K) / 2): bitpacked output's bit is accum > threshold + this (accum the
  // XOR popcount over every tap), i.e. (K - conv) > 2 * threshold.
  std::vector<int32_t> classHalfDelta;  // [classes][channelsOut]
  // The padded geometry, for kernel paths that read the input with its padding laid out
  // (IndirectKernel::paddedInput): each image placed at (padTop, padLeft) in a paddedHeight x
  // paddedWidth image whose other words are zero, large enough for every tap of every output
  // pixel, so that pixel q's tap t is word pixelBase[q] + tapStep[t] of its padded image (no
  // padding taps, no indirection). needsPadding: some tap lies outside the input; if not, the
  // input itself is the padded image. padInput writes the batch's padded images.
  int64_t paddedHeight = 0, paddedWidth = 0, paddedImageWords = 0;
  bool needsPadding = false;
  std::vector<int64_t> pixelBase;      // [outHeight*outWidth]: tap 0's word in the padded image
  std::vector<int64_t> tapStep;        // [taps]: tap t's words from tap 0
  std::vector<int64_t> depthIndex;     // [taps * wordsPerGroup]: tapStep[t] + k, word k of tap t
  void padInput(const int32_t *input, uint32_t *padded) const;
  std::vector<int32_t> tapPopcount;    // [channelsOut][taps] popcount of the filter tap
  std::vector<uint32_t> zeros;         // wordsIn zero words: what padding taps read
  std::vector<float> ones, floatZeros;  // [channelsOut]: float output without multiplier / bias
  bool hasFilter = false;

 private:
  static constexpr int kIsaSlots = kIsaCount;
  mutable std::mutex packMutex_;
  mutable std::unique_ptr<PackedFilter> packed_[kIsaSlots];  // per Isa, packed on demand
};

// One-shot convenience: plan and run.
void bconv2dIndirect(const Bconv2dShape &shape, const int32_t *input, const int32_t *filter,
                     const Bconv2dOutput &output, void *out, int threads = 1);

// ---- BMaxPool2d --------------------------------------------------------------------------
struct PoolShape {
  int64_t batch = 1, inHeight = 0, inWidth = 0, words = 0;
  int64_t filterHeight = 1, filterWidth = 1, strideHeight = 1, strideWidth = 1;
  bool samePadding = false;
  int64_t outHeight = 0, outWidth = 0, padTop = 0, padLeft = 0;
  std::string finalize();
};
void bmaxpool2d(const PoolShape &shape, const int32_t *input, int32_t *out);

}  // namespace lce_kernels

#endif  // LCE_KERNELS_KERNELS_H
