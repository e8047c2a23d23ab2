// Native Bconv2d benchmark: QuickNet's binary conv shapes (3x3, stride 1, zero padding, and the
// strided transitions), single thread. Prints the median over repeats of ms and binary MAC/s per
// shape and kernel, and the fraction of this machine's peak, measured in the same run by a
// register-resident XOR + POPCNT loop (64 binary MACs per 64-bit POPCNT).
//
//   build/<tag>/bin/lce-bench-bconv [repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "lce_kernels/kernels.h"

using namespace lce_kernels;
using Clock = std::chrono::steady_clock;

namespace {

double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

__attribute__((target("popcnt"), noinline)) uint64_t peakLoop(uint64_t iterations, uint64_t seed) {
  // 12 independent XOR+POPCNT chains on register operands; the empty asm makes the compiler
  // treat the operands as changed each step (so nothing is hoisted) without adding a
  // dependency, so the loop runs at POPCNT throughput.
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

double measurePeak(int repeats) {
  const uint64_t iterations = 40'000'000;
  std::vector<double> rates;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    sink += peakLoop(iterations, r + 1);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    rates.push_back(iterations * 12.0 * 64.0 / s);
  }
  (void)sink;
  return medianOf(rates);
}

struct Case {
  const char *name;
  int64_t size, channelsIn, channelsOut, stride;
};

}  // namespace

int main(int argc, char **argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::printf("ISA path: %s (single thread)\n", isaName(activeIsa()));
  const double peak = measurePeak(repeats);
  std::printf("measured peak (register-resident XOR+POPCNT): %.3g binary MAC/s\n\n", peak);
  const Case cases[] = {{"56x56x64 -> 64", 56, 64, 64, 1},      {"28x28x128 -> 128", 28, 128, 128, 1},
                        {"14x14x256 -> 256", 14, 256, 256, 1},  {"7x7x512 -> 512", 7, 512, 512, 1},
                        {"56x56x64 -> 128 s2", 56, 64, 128, 2}, {"28x28x128 -> 256 s2", 28, 128, 256, 2},
                        {"14x14x256 -> 512 s2", 14, 256, 512, 2}};
  std::printf("%-22s %-10s %10s %14s %8s\n", "shape (3x3, SAME)", "kernel", "ms", "binary MAC/s", "of peak");
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
    const double macs = static_cast<double>(s.outHeight * s.outWidth) * s.channelsOut * s.K;
    for (const char *name : {"indirect", "indirect/2t", "reference"}) {
      std::vector<double> times;
      for (int r = 0; r < repeats; ++r) {
        auto t0 = Clock::now();
        if (name[0] == 'r') bconv2dReference(s, input.data(), filter.data(), o, out.data());
        else bconv2dIndirect(s, input.data(), filter.data(), o, out.data(), name[8] == '/' ? 2 : 1);
        times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      const double t = medianOf(times);
      std::printf("%-22s %-10s %10.3f %14.3g %7.1f%%\n", c.name, name, t * 1e3, macs / t, 100.0 * macs / t / peak);
    }
  }
  return 0;
}
