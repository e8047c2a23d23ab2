// Native Bconv2d benchmark: QuickNet's binary conv shapes (3x3, stride 1, zero padding, and the
// strided transitions). Prints, per shape and kernel path, the median (and best) over repeats of
// ms, binary MAC/s (of the median), and its fraction of this machine's peaks, measured in the same
// run by register-resident loops (no memory traffic):
//   - scalar: 64-bit XOR + POPCNT + add (64 binary MACs per POPCNT);
//   - AVX2: 256-bit XOR + nibble-LUT popcount (vpshufb) into byte counters, vpsadbw every 31
//     steps, the shape of the AVX2 microkernel's inner loop without its loads;
//   - AVX-512 (only when CPUID reports VPOPCNTDQ): 512-bit XOR + vpopcntq + add.
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

double measurePeak(uint64_t (*loop)(uint64_t, uint64_t), uint64_t iterations, double bitsPerIteration,
                   int repeats) {
  std::vector<double> rates;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = threadSeconds();
    sink += loop(iterations, r + 1);
    const double s = threadSeconds() - t0;
    rates.push_back(iterations / 31 * 31 * bitsPerIteration / s);
  }
  (void)sink;
  return medianOf(rates);
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
  const double scalarPeak = measurePeak(scalarPeakLoop, 40'000'000, kScalarBitsPerIteration, repeats);
  std::printf("peak, register-resident, 1 thread (binary MAC/s):\n  scalar XOR+POPCNT        %.3g\n", scalarPeak);
  const double avx2Peak = hasAvx2 ? measurePeak(avx2PeakLoop, 20'000'000, kAvx2BitsPerIteration, repeats) : 0;
  if (hasAvx2) std::printf("  AVX2 XOR+vpshufb LUT     %.3g\n", avx2Peak);
  const double avx512Peak = hasAvx512 ? measurePeak(avx512PeakLoop, 40'000'000, kAvx512BitsPerIteration, repeats) : 0;
  if (hasAvx512) std::printf("  AVX-512 XOR+VPOPCNTQ     %.3g\n", avx512Peak);
  const double vectorPeak = hasAvx512 ? avx512Peak : avx2Peak;
  std::printf("(of vector peak: of the %s peak)\n\n", hasAvx512 ? "AVX-512" : "AVX2");

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
  std::printf("%-22s %-14s %9s %9s %13s %9s %9s\n", "shape (3x3, SAME)", "path", "ms", "best ms", "binary MAC/s",
              "of scalar", "of vector");
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
    std::vector<std::vector<double>> times(paths.size());
    for (int r = 0; r < repeats + 1; ++r)  // the first round warms up
      for (size_t k = 0; k < paths.size(); ++k) {
        const Path &path = paths[k];
        setIsa(path.isa);
        double (*now)() = path.threads == 1 ? threadSeconds : wallSeconds;
        const double t0 = now();
        if (path.reference) bconv2dReference(s, input.data(), filter.data(), o, out.data());
        else plan.run(input.data(), o, out.data(), path.threads);
        if (r > 0) times[k].push_back(now() - t0);
      }
    for (size_t k = 0; k < paths.size(); ++k) {
      const double t = medianOf(times[k]), best = *std::min_element(times[k].begin(), times[k].end());
      const double rate = macs / t;
      std::printf("%-22s %-14s %9.3f %9.3f %13.3g %8.1f%% %8.1f%%\n", c.name, paths[k].name.c_str(), t * 1e3,
                  best * 1e3, rate, 100.0 * rate / scalarPeak, vectorPeak > 0 ? 100.0 * rate / vectorPeak : 0.0);
    }
  }
  setIsa(best);
  return 0;
}
