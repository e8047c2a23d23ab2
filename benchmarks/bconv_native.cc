// Native Bconv2d benchmark: QuickNet's binary conv shapes (3x3, stride 1, zero padding, and the
// strided transitions). Prints, per shape and kernel path, the median (and best) over repeats of
// ms, binary MAC/s (of the median), and its fraction of this machine's peaks, measured in the same
// run by register-resident loops (no memory traffic):
//   - scalar: 64-bit XOR + POPCNT + add (64 binary MACs per POPCNT);
//   - AVX2 XOR + popcount: 256-bit XOR + nibble-LUT popcount (vpshufb on both nibbles) into
//     byte counters, vpsadbw every 31 steps: the textbook AVX2 binary dot product (8 vector ops
//     per 256 binary MACs);
//   - AVX2 byte-LUT: the AVX2 kernel's inner loop without its loads (per input byte and 32
//     output channels 2 vpshufb of that byte's tables by the filter nibbles + 2 vpaddb: 4 ops per
//     256 binary MACs; bconv2d_indirect_avx2.cc);
//   - AVX-512 (only when CPUID reports VPOPCNTDQ): 512-bit XOR + vpopcntq + add.
// "of vector" is the fraction of the XOR + popcount vector peak (AVX-512 where the CPU has it,
// else AVX2), "of LUT" of the byte-LUT peak.
// Paths: the scalar POPCNT kernel, the AVX2 kernel, the AVX-512 kernel (if supported) on one
// thread, and the best path on two threads; repeats interleave the paths. One-thread rows and the
// peaks are timed in the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the machines are shared, and
// pre-emption by other jobs is then not counted); two-thread rows in wall-clock time (marked
// "wall"). Quote medians.
//
//   build/<tag>/bin/lce-bench-bconv [repeats] [--all]   (--all: also the portable and reference kernels)
#include <immintrin.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lce_kernels/kernels.h"

using namespace lce_kernels;
using Clock = std::chrono::steady_clock;

namespace {

double threadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

double wallSeconds() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The empty asm statements make the compiler treat the operands as changed at every step (so
// nothing is hoisted) without adding a dependency: the loops run at instruction throughput.

__attribute__((target("popcnt"), noinline)) uint64_t scalarPeakLoop(uint64_t iterations, uint64_t seed) {
  // 12 independent XOR+POPCNT chains on register operands.
  uint64_t a[12], b[12], acc[12] = {};
  for (int i = 0; i < 12; ++i) a[i] = seed * (i + 1) + 0x9e3779b97f4a7c15ull, b[i] = ~a[i] ^ (seed << i);
  for (uint64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 12; ++i) {
      asm volatile("" : "+r"(a[i]));
      acc[i] += __builtin_popcountll(a[i] ^ b[i]);
    }
  uint64_t s = 0;
  for (int i = 0; i < 12; ++i) s += acc[i];
  return s;
}
constexpr double kScalarBitsPerIteration = 12 * 64;

// 3 "pixels" x 2 "filter vectors", as in the AVX2 microkernel (which has 4 x 2 and loads).
__attribute__((target("avx2"), noinline)) uint64_t avx2PeakLoop(uint64_t iterations, uint64_t seed) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256i a[3], w[2], bytes[3][2];
  alignas(32) uint64_t sums[3][2][4] = {};
  for (int i = 0; i < 3; ++i) a[i] = _mm256_set1_epi64x(static_cast<long long>(seed * (i + 1) + 0x9e3779b97f4a7c15ull));
  for (int j = 0; j < 2; ++j) w[j] = _mm256_set1_epi64x(static_cast<long long>(~seed << j));
  for (uint64_t outer = 0; outer < iterations / 31; ++outer) {
    for (int i = 0; i < 3; ++i) bytes[i][0] = bytes[i][1] = _mm256_setzero_si256();
    for (int it = 0; it < 31; ++it)
      for (int i = 0; i < 3; ++i) {
        asm volatile("" : "+x"(a[i]));
        for (int j = 0; j < 2; ++j) {
          const __m256i x = _mm256_xor_si256(a[i], w[j]);
          const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low));
          const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low));
          bytes[i][j] = _mm256_add_epi8(bytes[i][j], _mm256_add_epi8(lo, hi));
        }
      }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 2; ++j) {
        __m256i *s = reinterpret_cast<__m256i *>(sums[i][j]);
        _mm256_store_si256(s, _mm256_add_epi64(_mm256_load_si256(s), _mm256_sad_epu8(bytes[i][j], _mm256_setzero_si256())));
      }
  }
  uint64_t s = 0;
  for (auto &pixel : sums)
    for (auto &vec : pixel)
      for (uint64_t v : vec) s += v;
  return s;
}
constexpr double kAvx2BitsPerIteration = 3 * 2 * 256;  // iterations rounded down to a multiple of 31

// 2 "pixels" (each a low-nibble and a high-nibble table) x 2 blocks of 32 channels (each a low
// and a high filter-nibble vector): 2 vpshufb + 2 vpaddb per pixel and block, byte counters
// widened every 31 steps, as in the AVX2 kernel (which has up to 4 x 2 or 3 x 4, filter vectors
// as memory operands, and the table loads). 2 x 2 keeps everything in the 16 ymm registers.
__attribute__((target("avx2"), noinline)) uint64_t avx2LutPeakLoop(uint64_t iterations, uint64_t seed) {
  __m256i tables[2][2], filter[2][2], counts[2][2];
  alignas(32) uint16_t wide[2][2][16] = {};
  for (int i = 0; i < 2; ++i)
    for (int h = 0; h < 2; ++h) tables[i][h] = _mm256_set1_epi8(static_cast<char>((seed * (2 * i + h + 1)) & 3));
  for (int j = 0; j < 2; ++j)
    for (int h = 0; h < 2; ++h) filter[j][h] = _mm256_set1_epi8(static_cast<char>((seed >> (2 * j + h)) & 15));
  for (uint64_t outer = 0; outer < iterations / 31; ++outer) {
    for (int i = 0; i < 2; ++i) counts[i][0] = counts[i][1] = _mm256_setzero_si256();
    for (int it = 0; it < 31; ++it)
      for (int i = 0; i < 2; ++i) {
        asm volatile("" : "+x"(tables[i][0]), "+x"(tables[i][1]));
        for (int j = 0; j < 2; ++j) {
          counts[i][j] = _mm256_add_epi8(counts[i][j], _mm256_shuffle_epi8(tables[i][0], filter[j][0]));
          counts[i][j] = _mm256_add_epi8(counts[i][j], _mm256_shuffle_epi8(tables[i][1], filter[j][1]));
        }
      }
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        __m256i *w = reinterpret_cast<__m256i *>(wide[i][j]);
        _mm256_store_si256(w, _mm256_add_epi16(_mm256_load_si256(w), _mm256_unpacklo_epi8(counts[i][j], _mm256_setzero_si256())));
      }
  }
  uint64_t s = 0;
  for (auto &pixel : wide)
    for (auto &vec : pixel)
      for (uint16_t v : vec) s += v;
  return s;
}
constexpr double kAvx2LutBitsPerIteration = 2 * 2 * 256;  // iterations rounded down to a multiple of 31

__attribute__((target("avx512f,avx512vpopcntdq"), noinline)) uint64_t avx512PeakLoop(uint64_t iterations,
                                                                                     uint64_t seed) {
  // 12 independent XOR+VPOPCNTQ+add chains against one filter vector.
  __m512i a[12], acc[12];
  const __m512i w = _mm512_set1_epi64(static_cast<long long>(~seed));
  for (int i = 0; i < 12; ++i)
    a[i] = _mm512_set1_epi64(static_cast<long long>(seed * (i + 1) + 0x9e3779b97f4a7c15ull)), acc[i] = _mm512_setzero_si512();
  for (uint64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 12; ++i) {
      asm volatile("" : "+v"(a[i]));
      acc[i] = _mm512_add_epi64(acc[i], _mm512_popcnt_epi64(_mm512_xor_si512(a[i], w)));
    }
  alignas(64) uint64_t lanes[8];
  uint64_t s = 0;
  for (int i = 0; i < 12; ++i) {
    _mm512_store_si512(lanes, acc[i]);
    for (uint64_t v : lanes) s += v;
  }
  return s;
}
constexpr double kAvx512BitsPerIteration = 12 * 512;

// One timing of a register-resident loop: binary MAC/s.
double peakRate(uint64_t (*loop)(uint64_t, uint64_t), uint64_t iterations, double bitsPerIteration, uint64_t seed) {
  static volatile uint64_t sink = 0;
  const double t0 = threadSeconds();
  sink = sink + loop(iterations, seed);
  const double s = threadSeconds() - t0;
  return static_cast<double>(iterations / 31 * 31) * bitsPerIteration / s;
}

// The peaks: [0] scalar XOR+POPCNT, [1] vector XOR+popcount (AVX-512 where the CPU has it,
// else AVX2), [2] AVX2 byte-LUT (0 without AVX2). Each timing runs about 0.2 ms.
struct Peaks {
  double rate[3] = {0, 0, 0};
};
Peaks measurePeaks(bool hasAvx2, bool hasAvx512, uint64_t seed) {
  Peaks p;
  p.rate[0] = peakRate(scalarPeakLoop, 31 * 1000, kScalarBitsPerIteration, seed);
  if (hasAvx512) p.rate[1] = peakRate(avx512PeakLoop, 31 * 1000, kAvx512BitsPerIteration, seed);
  else if (hasAvx2) p.rate[1] = peakRate(avx2PeakLoop, 31 * 400, kAvx2BitsPerIteration, seed);
  if (hasAvx2) p.rate[2] = peakRate(avx2LutPeakLoop, 31 * 1000, kAvx2LutBitsPerIteration, seed);
  return p;
}

bool supported(Isa isa) {
  const auto isas = supportedIsas();
  return std::find(isas.begin(), isas.end(), isa) != isas.end();
}

struct Case {
  const char *name;
  int64_t size, channelsIn, channelsOut, stride;
};

struct Path {
  std::string name;
  Isa isa;
  int threads;
  bool reference;
};

}  // namespace

int main(int argc, char **argv) {
  int repeats = 7;
  bool all = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--all")) all = true;
    else if (std::atoi(argv[i]) > 0) repeats = std::atoi(argv[i]);
    else return std::fprintf(stderr, "usage: %s [repeats] [--all]\n", argv[0]), 2;
  }
  const bool hasAvx2 = supported(Isa::kAvx2), hasAvx512 = supported(Isa::kAvx512);
  const Isa best = activeIsa();
  std::printf("ISA paths here:");
  for (Isa isa : supportedIsas()) std::printf(" %s", isaName(isa));
  std::printf(" (default %s); medians of %d repeats\n", isaName(best), repeats);
  // The machines are shared and their speed drifts (other guests on the host): the peaks are
  // measured again in every repeat round of every shape, just before its paths, and each
  // fraction of a peak is the median over rounds of (the path's rate / that round's peak).
  std::vector<Peaks> allPeaks;
  for (int r = 0; r < 3 * repeats; ++r) allPeaks.push_back(measurePeaks(hasAvx2, hasAvx512, r + 1));
  auto medianPeak = [&](int k) {
    std::vector<double> v;
    for (const Peaks &p : allPeaks) v.push_back(p.rate[k]);
    return medianOf(v);
  };
  std::printf("peaks, register-resident loops, 1 thread (binary MAC/s, medians; remeasured per shape and round):\n");
  std::printf("  scalar XOR+POPCNT        %.3g\n", medianPeak(0));
  if (hasAvx512) std::printf("  AVX-512 XOR+VPOPCNTQ     %.3g\n", medianPeak(1));
  else if (hasAvx2) std::printf("  AVX2 XOR+vpshufb popcnt  %.3g\n", medianPeak(1));
  if (hasAvx2) std::printf("  AVX2 byte-LUT            %.3g\n", medianPeak(2));
  std::printf("(of vector: of the %s XOR+popcount peak; of LUT: of the AVX2 byte-LUT peak)\n\n",
              hasAvx512 ? "AVX-512" : "AVX2");

  std::vector<Path> paths;
  if (all) paths.push_back({"reference", Isa::kPortable, 1, true});
  if (all) paths.push_back({"portable", Isa::kPortable, 1, false});
  if (supported(Isa::kPopcnt)) paths.push_back({"popcnt", Isa::kPopcnt, 1, false});
  if (hasAvx2) paths.push_back({"avx2", Isa::kAvx2, 1, false});
  if (hasAvx512) paths.push_back({"avx512", Isa::kAvx512, 1, false});
  paths.push_back({std::string(isaName(best)) + "/2t wall", best, 2, false});

  const Case cases[] = {{"56x56x64 -> 64", 56, 64, 64, 1},       {"28x28x128 -> 128", 28, 128, 128, 1},
                        {"28x28x256 -> 256", 28, 256, 256, 1},   {"14x14x256 -> 256", 14, 256, 256, 1},
                        {"7x7x512 -> 512", 7, 512, 512, 1},      {"56x56x64 -> 128 s2", 56, 64, 128, 2},
                        {"28x28x128 -> 256 s2", 28, 128, 256, 2}, {"14x14x256 -> 512 s2", 14, 256, 512, 2}};
  std::printf("%-22s %-14s %9s %9s %13s %9s %9s %9s\n", "shape (3x3, SAME)", "path", "ms", "best ms", "binary MAC/s",
              "of scalar", "of vector", "of LUT");
  std::mt19937 rng(0);
  for (const Case &c : cases) {
    Bconv2dShape s;
    s.inHeight = s.inWidth = c.size, s.channelsIn = c.channelsIn, s.channelsOut = c.channelsOut;
    s.filterHeight = s.filterWidth = 3, s.strideHeight = s.strideWidth = c.stride, s.samePadding = true;
    if (!s.finalize().empty()) return 1;
    std::vector<int32_t> input(s.inHeight * s.inWidth * s.wordsIn), filter(s.channelsOut * 9 * s.wordsPerGroup);
    for (auto &v : input) v = static_cast<int32_t>(rng());
    for (auto &v : filter) v = static_cast<int32_t>(rng());
    std::vector<float> mult(s.channelsOut, 0.5f), bias(s.channelsOut, 0.25f);
    std::vector<float> out(s.outHeight * s.outWidth * s.channelsOut);
    Bconv2dOutput o;
    o.multiplier = mult.data(), o.bias = bias.data();
    const Bconv2dPlan plan(s, filter.data());  // prepared once, as in the delegate
    const double macs = static_cast<double>(s.outHeight * s.outWidth) * s.channelsOut * s.K;
    // Repeats interleave the paths, so that noise from other jobs hits every path alike.
    std::vector<std::vector<double>> times(paths.size()), fractions[3];
    for (auto &f : fractions) f.resize(paths.size());
    for (int r = 0; r < repeats + 1; ++r) {  // the first round warms up
      const Peaks peaks = measurePeaks(hasAvx2, hasAvx512, r + 1);
      if (r > 0) allPeaks.push_back(peaks);
      for (size_t k = 0; k < paths.size(); ++k) {
        const Path &path = paths[k];
        setIsa(path.isa);
        double (*now)() = path.threads == 1 ? threadSeconds : wallSeconds;
        const double t0 = now();
        if (path.reference) bconv2dReference(s, input.data(), filter.data(), o, out.data());
        else plan.run(input.data(), o, out.data(), path.threads);
        if (r == 0) continue;
        const double t = now() - t0;
        times[k].push_back(t);
        for (int p = 0; p < 3; ++p) fractions[p][k].push_back(peaks.rate[p] > 0 ? macs / t / peaks.rate[p] : 0.0);
      }
    }
    for (size_t k = 0; k < paths.size(); ++k) {
      const double t = medianOf(times[k]), best = *std::min_element(times[k].begin(), times[k].end());
      std::printf("%-22s %-14s %9.3f %9.3f %13.3g %8.1f%% %8.1f%% %8.1f%%\n", c.name, paths[k].name.c_str(),
                  t * 1e3, best * 1e3, macs / t, 100.0 * medianOf(fractions[0][k]), 100.0 * medianOf(fractions[1][k]),
                  100.0 * medianOf(fractions[2][k]));
    }
  }
  setIsa(best);
  return 0;
}
