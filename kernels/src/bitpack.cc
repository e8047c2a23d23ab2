// Bitpacking (float32 and int8) and unpacking: the portable rows, and the operators, which
// take the active path's rows from the ISA table (isa_table.h). The rule is
// semantics.md's: bit = (x < 0), int8: bit = (q < zero point); never the IEEE sign bit.
#include <algorithm>
#include <cmath>

#include "bitpack_internal.h"
#include "isa_table.h"
#include "lce_kernels/kernels.h"
#include "lce_kernels/thread_pool.h"

namespace lce_kernels {

void bitpack_row_f32_from(const float *in, int64_t channels, int64_t firstWord, int32_t *out) {
  for (int64_t w = firstWord; w < packedWords(channels); ++w) {
    uint32_t bits = 0;
    const int64_t n = std::min<int64_t>(32, channels - 32 * w);
    for (int64_t i = 0; i < n; ++i) bits |= static_cast<uint32_t>(in[32 * w + i] < 0.0f) << i;
    out[w] = static_cast<int32_t>(bits);
  }
}

void bitpack_row_s8_from(const int8_t *in, int64_t channels, int8_t zeroPoint, int64_t firstWord,
                         int32_t *out) {
  for (int64_t w = firstWord; w < packedWords(channels); ++w) {
    uint32_t bits = 0;
    const int64_t n = std::min<int64_t>(32, channels - 32 * w);
    for (int64_t i = 0; i < n; ++i) bits |= static_cast<uint32_t>(in[32 * w + i] < zeroPoint) << i;
    out[w] = static_cast<int32_t>(bits);
  }
}

void bitpack_row_f32_portable(const float *in, int64_t channels, int32_t *out) {
  bitpack_row_f32_from(in, channels, 0, out);
}

void bitpack_row_s8_portable(const int8_t *in, int64_t channels, int8_t zeroPoint, int32_t *out) {
  bitpack_row_s8_from(in, channels, zeroPoint, 0, out);
}

namespace {
// Rows in parallel when there is enough work to pay for waking the pool (the results do not
// depend on the split). AVX2 packs ~5 floats per ns, and waking a pool thread on a shared VM
// took 50-100 us: QuickNet's 56x56x64 Quantize (200k values, ~40 us alone) got 3x slower on 2
// threads with 32k values per thread. 1M values is ~0.2 ms of work per thread.
constexpr int64_t kMinValuesPerThread = 1024 * 1024;

void forRows(int threads, int64_t rows, int64_t channels, const std::function<void(int64_t, int64_t)> &fn) {
  const int64_t useful = std::max<int64_t>(1, rows * std::max<int64_t>(channels, 1) / kMinValuesPerThread);
  ThreadPool::instance().parallelFor(static_cast<int>(std::min<int64_t>(threads, useful)), rows, fn);
}
}  // namespace

void bitpackFloat(const float *in, int64_t rows, int64_t channels, int32_t *out, int threads) {
  const PackRowF32 pack = activePaths().packF32;
  const int64_t words = packedWords(channels);
  forRows(threads, rows, channels, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) pack(in + r * channels, channels, out + r * words);
  });
}

void bitpackInt8(const int8_t *in, int64_t rows, int64_t channels, int8_t zeroPoint, int32_t *out, int threads) {
  const PackRowS8 pack = activePaths().packS8;
  const int64_t words = packedWords(channels);
  forRows(threads, rows, channels, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) pack(in + r * channels, channels, zeroPoint, out + r * words);
  });
}

void unpack_row_f32_portable(const int32_t *in, int64_t channels, float *out) {
  for (int64_t c = 0; c < channels; ++c) out[c] = (static_cast<uint32_t>(in[c / 32]) >> (c % 32)) & 1u ? -1.0f : 1.0f;
}

void unpack_row_s8_portable(const int32_t *in, int64_t channels, int8_t plus, int8_t minus, int8_t *out) {
  for (int64_t c = 0; c < channels; ++c) out[c] = (static_cast<uint32_t>(in[c / 32]) >> (c % 32)) & 1u ? minus : plus;
}

void dequantizeFloat(const int32_t *in, int64_t rows, int64_t channels, float *out, int threads) {
  const UnpackRowF32 unpack = activePaths().unpackF32;
  const int64_t words = packedWords(channels);
  forRows(threads, rows, channels, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) unpack(in + r * words, channels, out + r * channels);
  });
}

void dequantizeInt8(const int32_t *in, int64_t rows, int64_t channels, float scale, int32_t zeroPoint,
                    int8_t *out, int threads) {
  // In double and saturated (semantics.md): round(1/scale) overflows int32 below a scale of
  // about 4.7e-10, and the zero point may be any int32 when called directly.
  const double magnitude = std::round(1.0 / static_cast<double>(scale));
  const int8_t plus = static_cast<int8_t>(std::clamp(zeroPoint + magnitude, -128.0, 127.0));
  const int8_t minus = static_cast<int8_t>(std::clamp(zeroPoint - magnitude, -128.0, 127.0));
  const UnpackRowS8 unpack = activePaths().unpackS8;
  const int64_t words = packedWords(channels);
  forRows(threads, rows, channels, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) unpack(in + r * words, channels, plus, minus, out + r * channels);
  });
}

}  // namespace lce_kernels
