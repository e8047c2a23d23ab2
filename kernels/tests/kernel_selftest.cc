// Self-checking kernel test for sanitizer builds (tests/test_sanitizers.py builds it with
// -fsanitize=address,undefined): the indirect Bconv2d against the reference on seeded random
// shapes (all output types, paddings, groups, every supported ISA path, 1-3 threads) and every
// supported bitpacking path against the portable one, and the thread pool under stress. Exit
// code 0 when all agree; a hang (a lost wake-up in the pool) ends the process by SIGALRM.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
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

// One random Bconv2d case (the ranges of tests/test_kernels.py's random_case: groups, 1-299
// channels per group, kernels 1-7, strides 1-3, dilations 1-2, SAME/VALID, zero/one padding,
// narrow or wide outputs), or with `saturated` a long-depth case where every bit differs (the
// narrow counters of the SIMD paths must be flushed in time), against the reference on every
// supported path with 1-3 threads, for float (with post ops and the fused Quantize every other
// case), int8 and bitpacked output. Returns the number of mismatches.
int bconv2dCase(std::mt19937 &rng, int iter, bool saturated) {
  int failures = 0;
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Bconv2dShape s;
  const bool wide = iter % 3 == 2;
  if (saturated) {
    static const int kCases[][3] = {{2560, 3, 10}, {100, 7, 10}, {33, 1, 10}, {2560, 3, 130}, {8000, 3, 64},
                                    {2100, 7, 9}, {70000, 1, 8}};
    const int *c = kCases[(iter / 2) % 7];
    s.channelsIn = c[0], s.filterHeight = s.filterWidth = c[1], s.channelsOut = c[2];
    s.samePadding = true, s.padValues = iter % 2, s.inHeight = 5, s.inWidth = 6;
  } else {
    const int groupChoices[] = {1, 1, 1, 2, 3};
    s.groups = groupChoices[uniform(0, 4)];
    const int perGroup = s.groups > 1 ? 32 * uniform(1, 2) : uniform(1, 299);
    s.channelsIn = perGroup * s.groups;
    s.channelsOut = wide ? s.groups * uniform(33, s.groups == 1 ? 300 : 139)
                         : s.groups * uniform(1, 4) * (s.groups > 1 ? 1 : uniform(1, 8));
    s.filterHeight = uniform(1, 7), s.filterWidth = uniform(1, 7);
    s.strideHeight = uniform(1, 3), s.strideWidth = uniform(1, 3);
    s.dilationHeight = uniform(1, 2), s.dilationWidth = uniform(1, 2);
    s.samePadding = uniform(0, 1), s.padValues = s.samePadding ? uniform(0, 1) : 0;
    s.batch = uniform(1, 2);
    const int extent = wide ? 3 : 7;
    s.inHeight = (s.filterHeight - 1) * s.dilationHeight + 1 + uniform(0, extent);
    s.inWidth = (s.filterWidth - 1) * s.dilationWidth + 1 + uniform(0, extent);
  }
  if (!s.finalize().empty()) return 1;
  std::vector<int32_t> input(s.batch * s.inHeight * s.inWidth * s.wordsIn);
  std::vector<int32_t> filter(s.channelsOut * s.filterHeight * s.filterWidth * s.wordsPerGroup);
  // Random bits with zero tails (semantics.md); saturated: input all -1, filter all +1 but
  // channel 3 (all -1: agrees everywhere).
  auto fill = [&](std::vector<int32_t> &v, int64_t words, int64_t channels, int pattern) {
    for (size_t i = 0; i < v.size(); ++i) {
      uint32_t w = pattern < 0 ? static_cast<uint32_t>(rng()) : pattern ? ~0u : 0u;
      const int64_t word = static_cast<int64_t>(i % words), valid = std::min<int64_t>(32, channels - 32 * word);
      if (valid < 32) w &= (1u << valid) - 1u;
      v[i] = static_cast<int32_t>(w);
    }
  };
  fill(input, s.wordsIn, s.channelsIn, saturated ? 1 : -1);
  fill(filter, s.wordsPerGroup, s.channelsIn / s.groups, saturated ? 0 : -1);
  if (saturated) {
    const int64_t perChannel = s.filterHeight * s.filterWidth * s.wordsPerGroup;
    std::vector<int32_t> ones(perChannel);
    fill(ones, s.wordsPerGroup, s.channelsIn, 1);
    std::copy(ones.begin(), ones.end(), filter.begin() + 3 * perChannel);
  }
  std::vector<float> mult(s.channelsOut), bias(s.channelsOut), postMul(s.channelsOut);
  std::vector<int32_t> threshold(s.channelsOut);
  for (int64_t c = 0; c < s.channelsOut; ++c)
    mult[c] = uniform(-40, 40) / 16.0f, bias[c] = uniform(-40, 40) / 8.0f, postMul[c] = uniform(-8, 8) / 4.0f,
    threshold[c] = uniform(-1, static_cast<int>(std::min<int64_t>(s.K, 1 << 30)));
  const int64_t pixels = s.batch * s.outHeight * s.outWidth;
  std::vector<float> residual(pixels * s.channelsOut);
  for (auto &v : residual) v = uniform(-64, 64) / 8.0f;
  PostOp post[3];
  post[0].kind = PostOp::Kind::kMul, post[0].values = postMul.data();
  post[1].kind = PostOp::Kind::kAddTensor, post[1].values = residual.data();
  post[2].kind = PostOp::Kind::kClamp, post[2].lo = -2.5f, post[2].hi = 6.0f;
  std::vector<int32_t> bitsRef(pixels * packedWords(s.channelsOut)), bitsGot(bitsRef.size());
  const Bconv2dPlan plan(s, filter.data());
  for (int type = 0; type < 3; ++type) {
    Bconv2dOutput o;
    o.type = static_cast<OutputType>(type);
    o.multiplier = mult.data(), o.bias = bias.data(), o.threshold = threshold.data();
    o.scale = 0.05f, o.zeroPoint = -3, o.clampLow = uniform(-3, 0), o.clampHigh = uniform(1, 50);
    const bool withPost = type == 0 && iter % 2 == 1;
    if (withPost) o.postOps = post, o.postOpCount = 3;
    const size_t bytes = o.type == OutputType::kBitpacked ? pixels * packedWords(s.channelsOut) * 4
                         : o.type == OutputType::kInt8     ? pixels * s.channelsOut
                                                           : pixels * s.channelsOut * 4;
    std::vector<char> ref(bytes), got(bytes);
    if (withPost) std::fill(bitsRef.begin(), bitsRef.end(), 0), o.bits = bitsRef.data();
    bconv2dReference(s, input.data(), filter.data(), o, ref.data());
    for (Isa isa : supportedIsas()) {
      setIsa(isa);
      for (int threads = 1; threads <= 3; ++threads) {
        std::fill(got.begin(), got.end(), 0x5a);
        if (withPost) std::fill(bitsGot.begin(), bitsGot.end(), 0x5a5a5a5a), o.bits = bitsGot.data();
        plan.run(input.data(), o, got.data(), threads);
        if (std::memcmp(ref.data(), got.data(), bytes) != 0 || (withPost && bitsRef != bitsGot)) {
          std::printf("mismatch: case %d%s (C %lld -> %lld, %lldx%lld, groups %lld) output type %d ISA %s threads %d\n",
                      iter, saturated ? " saturated" : "", static_cast<long long>(s.channelsIn),
                      static_cast<long long>(s.channelsOut), static_cast<long long>(s.filterHeight),
                      static_cast<long long>(s.filterWidth), static_cast<long long>(s.groups), type, isaName(isa),
                      threads);
          ++failures;
        }
      }
    }
    if (withPost) o.bits = bitsRef.data();
    // The plan holds offsets, not addresses: the same plan on a copy of the input elsewhere.
    if (!withPost) {
      const std::vector<int32_t> moved(input);
      std::fill(got.begin(), got.end(), 0x5a);
      plan.run(moved.data(), o, got.data(), 2);
      if (std::memcmp(ref.data(), got.data(), bytes) != 0) {
        std::printf("mismatch: case %d output type %d, input moved\n", iter, type);
        ++failures;
      }
    }
  }
  return failures;
}

// kernel_selftest [cases] [saturated cases]: 60 and 4 by default.
int main(int argc, char **argv) {
  alarm(argc > 1 ? 3000 : 120);
  const int cases = argc > 1 ? std::atoi(argv[1]) : 60, saturatedCases = argc > 2 ? std::atoi(argv[2]) : 4;
  int failures = threadPoolStress();
  std::mt19937 rng(1234);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int iter = 0; iter < cases; ++iter) failures += bconv2dCase(rng, iter, false);
  for (int iter = 0; iter < saturatedCases; ++iter) failures += bconv2dCase(rng, iter, true);
  // Bitpacking: every supported path equals the portable one.
  for (int channels : {1, 31, 32, 33, 64, 65, 130, 300}) {
    std::vector<float> x(3 * channels);
    std::vector<int8_t> q(3 * channels);
    for (auto &v : x) v = static_cast<float>(uniform(-100, 100)) / 7.0f;
    x[0] = -0.0f, x[x.size() - 1] = std::nanf("");  // bit 0 for both (x < 0 is false)
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
  // LceDequantize and BMaxPool2d: every supported path equals the portable one.
  for (int channels : {1, 31, 32, 33, 64, 65, 130, 300}) {
    const int64_t words = packedWords(channels);
    std::vector<int32_t> packed(3 * words);
    for (auto &v : packed) v = static_cast<int32_t>(rng());
    for (int64_t r = 0; r < 3; ++r)  // zero tails
      if (channels % 32) packed[r * words + words - 1] &= static_cast<int32_t>((1u << (channels % 32)) - 1u);
    std::vector<float> expectF(3 * channels);
    std::vector<int8_t> expectQ(3 * channels);
    setIsa(Isa::kPortable);
    dequantizeFloat(packed.data(), 3, channels, expectF.data());
    dequantizeInt8(packed.data(), 3, channels, 0.1f, -7, expectQ.data());
    PoolShape ps;
    ps.batch = 1, ps.inHeight = 5, ps.inWidth = 7, ps.words = words, ps.filterHeight = 3, ps.filterWidth = 2,
    ps.strideHeight = 2, ps.strideWidth = 1, ps.samePadding = channels % 2 == 1;
    if (!ps.finalize().empty()) return 2;
    std::vector<int32_t> poolIn(ps.inHeight * ps.inWidth * words), poolExpect(ps.outHeight * ps.outWidth * words);
    for (auto &v : poolIn) v = static_cast<int32_t>(rng() | rng());  // mostly ones: ANDs matter
    bmaxpool2d(ps, poolIn.data(), poolExpect.data());
    for (Isa isa : supportedIsas()) {
      setIsa(isa);
      std::vector<float> f(expectF.size());
      std::vector<int8_t> q(expectQ.size());
      std::vector<int32_t> pool(poolExpect.size());
      dequantizeFloat(packed.data(), 3, channels, f.data());
      dequantizeInt8(packed.data(), 3, channels, 0.1f, -7, q.data());
      bmaxpool2d(ps, poolIn.data(), pool.data());
      if (std::memcmp(f.data(), expectF.data(), f.size() * sizeof(float)) || q != expectQ || pool != poolExpect) {
        std::printf("dequantize/bmaxpool mismatch: %s, %d channels\n", isaName(isa), channels);
        ++failures;
      }
    }
  }
  std::printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}
