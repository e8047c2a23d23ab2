// Self-checking kernel test for sanitizer builds (tests/test_sanitizers.py builds it with
// -fsanitize=address,undefined): the indirect Bconv2d against the reference on seeded random
// shapes (all output types, paddings, groups, every supported ISA path, 1-3 threads) and every
// supported bitpacking path against the portable one, and the thread pool under stress. Exit
// code 0 when all agree; a hang (a lost wake-up in the pool) ends the process by SIGALRM.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "lce_kernels/kernels.h"
#include "lce_kernels/thread_pool.h"

using namespace lce_kernels;

// Fresh pools (their workers start while the first task is being published) and many
// back-to-back calls with 2-4 threads: every index must run exactly once per call.
int threadPoolStress() {
  int failures = 0;
  for (int p = 0; p < 100; ++p) {
    ThreadPool pool;
    for (int call = 0; call < 40; ++call) {
      const int threads = 2 + (p + call) % 3, n = 1 + (p * 7 + call) % 50;
      // rest() and wake() between calls, as the delegate does around its partitions
      if ((p + call) % 3 == 0) pool.rest();
      if ((p * 3 + call) % 5 == 0) pool.wake(threads);
      if ((p + call) % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(400));
      std::vector<std::atomic<int>> hits(n);
      pool.parallelFor(threads, n, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      for (int i = 0; i < n; ++i)
        if (hits[i].load() != 1) {
          std::printf("thread pool: index %d ran %d times (pool %d, call %d)\n", i, hits[i].load(), p, call);
          ++failures;
        }
    }
  }
  return failures;
}

int main() {
  alarm(120);
  int failures = threadPoolStress();
  std::mt19937 rng(1234);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < 60; ++iter) {
    Bconv2dShape s;
    s.groups = uniform(0, 3) == 0 ? 2 : 1;
    const int perGroup = s.groups > 1 ? 32 * uniform(1, 2) : uniform(1, 140);
    s.channelsIn = perGroup * s.groups;
    s.channelsOut = s.groups * uniform(1, 9);
    s.filterHeight = uniform(1, 5), s.filterWidth = uniform(1, 5);
    s.strideHeight = uniform(1, 3), s.strideWidth = uniform(1, 3);
    s.dilationHeight = uniform(1, 2), s.dilationWidth = uniform(1, 2);
    s.samePadding = uniform(0, 1), s.padValues = s.samePadding ? uniform(0, 1) : 0;
    s.batch = uniform(1, 2);
    s.inHeight = (s.filterHeight - 1) * s.dilationHeight + 1 + uniform(0, 6);
    s.inWidth = (s.filterWidth - 1) * s.dilationWidth + 1 + uniform(0, 6);
    if (!s.finalize().empty()) return 2;
    std::vector<int32_t> input(s.batch * s.inHeight * s.inWidth * s.wordsIn);
    std::vector<int32_t> filter(s.channelsOut * s.filterHeight * s.filterWidth * s.wordsPerGroup);
    // Random bits with zero tails (semantics.md).
    auto fill = [&](std::vector<int32_t> &v, int64_t words, int64_t channels) {
      for (size_t i = 0; i < v.size(); ++i) {
        uint32_t w = static_cast<uint32_t>(rng());
        const int64_t word = static_cast<int64_t>(i % words), valid = std::min<int64_t>(32, channels - 32 * word);
        if (valid < 32) w &= (1u << valid) - 1u;
        v[i] = static_cast<int32_t>(w);
      }
    };
    fill(input, s.wordsIn, s.channelsIn);
    fill(filter, s.wordsPerGroup, s.channelsIn / s.groups);
    std::vector<float> mult(s.channelsOut), bias(s.channelsOut);
    std::vector<int32_t> threshold(s.channelsOut);
    for (int64_t c = 0; c < s.channelsOut; ++c)
      mult[c] = uniform(-40, 40) / 16.0f, bias[c] = uniform(-40, 40) / 8.0f,
      threshold[c] = uniform(-1, static_cast<int>(s.K));
    for (int type = 0; type < 3; ++type) {
      Bconv2dOutput o;
      o.type = static_cast<OutputType>(type);
      o.multiplier = mult.data(), o.bias = bias.data(), o.threshold = threshold.data();
      o.scale = 0.05f, o.zeroPoint = -3, o.clampLow = uniform(-3, 0), o.clampHigh = uniform(1, 50);
      const int64_t pixels = s.batch * s.outHeight * s.outWidth;
      const size_t bytes = o.type == OutputType::kBitpacked ? pixels * packedWords(s.channelsOut) * 4
                           : o.type == OutputType::kInt8     ? pixels * s.channelsOut
                                                             : pixels * s.channelsOut * 4;
      std::vector<char> ref(bytes), got(bytes);
      bconv2dReference(s, input.data(), filter.data(), o, ref.data());
      const Bconv2dPlan plan(s, filter.data());
      for (Isa isa : supportedIsas()) {
        setIsa(isa);
        for (int threads = 1; threads <= 3; ++threads) {
          std::fill(got.begin(), got.end(), 0x5a);
          plan.run(input.data(), o, got.data(), threads);
          if (std::memcmp(ref.data(), got.data(), bytes) != 0) {
            std::printf("mismatch: case %d output type %d ISA %s threads %d\n", iter, type, isaName(isa), threads);
            ++failures;
          }
        }
      }
      // The plan holds offsets, not addresses: the same plan on a copy of the input elsewhere.
      const std::vector<int32_t> moved(input);
      std::fill(got.begin(), got.end(), 0x5a);
      plan.run(moved.data(), o, got.data(), 2);
      if (std::memcmp(ref.data(), got.data(), bytes) != 0) {
        std::printf("mismatch: case %d output type %d, input moved\n", iter, type);
        ++failures;
      }
    }
  }
  // Bitpacking: every supported path equals the portable one.
  for (int channels : {1, 31, 32, 33, 64, 65, 130, 300}) {
    std::vector<float> x(3 * channels);
    std::vector<int8_t> q(3 * channels);
    for (auto &v : x) v = static_cast<float>(uniform(-100, 100)) / 7.0f;
    for (auto &v : q) v = static_cast<int8_t>(uniform(-128, 127));
    std::vector<int32_t> expectF(3 * packedWords(channels)), expectQ(expectF.size());
    setIsa(Isa::kPortable);
    bitpackFloat(x.data(), 3, channels, expectF.data());
    bitpackInt8(q.data(), 3, channels, 5, expectQ.data());
    for (Isa isa : supportedIsas()) {
      setIsa(isa);
      std::vector<int32_t> f(expectF.size()), g(expectF.size());
      bitpackFloat(x.data(), 3, channels, f.data());
      bitpackInt8(q.data(), 3, channels, 5, g.data());
      if (f != expectF || g != expectQ) {
        std::printf("bitpack mismatch: %s, %d channels\n", isaName(isa), channels);
        ++failures;
      }
    }
  }
  std::printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}
