// Native Bconv2d benchmark: QuickNet's binary conv shapes (3x3, stride 1, SAME with one padding
// as larq_zoo's QuickNet pads them; the same two smallest-channel shapes with zero padding, the
// TF default, whose border pixels take the padding correction; and strided transitions, zero
// padding). Prints, per shape and kernel path, the median (and best) over repeats of
// ms, binary MAC/s (of the median), and its fraction of this machine's peaks, measured in the same
// run by register-resident loops (no memory traffic):
//   - scalar: 64-bit XOR + POPCNT + add (64 binary MACs per POPCNT);
//   - AVX2 XOR + popcount: 256-bit XOR + nibble-LUT popcount (vpshufb on both nibbles) into
//     byte counters, vpsadbw every 31 steps: the textbook AVX2 binary dot product (8 vector ops
//     per 256 binary MACs);
//   - AVX2 byte-LUT: the AVX2 kernel's inner loop without its loads (per input byte and 32
//     output channels 2 vpshufb of that byte's tables by the filter nibbles + 2 vpaddb: 4 ops per
//     256 binary MACs; bconv2d_indirect_avx2.cc);
//   - AVX-512 (only when CPUID reports VPOPCNTDQ): 512-bit XOR + vpopcntq + add;
//   - aarch64: the NEON kernel's mix (EOR + CNT + 3 levels of ADDP + UADALP), "of vector".
// "of vector" is the fraction of the XOR + popcount vector peak (AVX-512 where the CPU has it,
// else AVX2), "of LUT" of the byte-LUT peak.
// Paths: the scalar POPCNT kernel, the AVX2 kernel, the AVX-512 kernel (if supported), or on
// aarch64 the neon and neon_dotprod kernels, on one thread, and the best path on two threads (timed right
// after an untimed call, with the pool's workers polling), all with float output (multiplier and bias); then
// the best path with bitpacked output ("bits") and with QuickNet's fused residual block (the
// ReLU on the conv value, float output, residual ADD in place, LceQuantize of the sum: "+add+q"); repeats interleave the paths. One-thread rows and the
// peaks are timed in the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the machines are shared, and
// pre-emption by other jobs is then not counted); two-thread rows in wall-clock time (marked
// "wall"). Quote medians.
//
//   build/<tag>/bin/lce-bench-bconv [repeats] [--all] [--paths] [--sweep] [--isa-rates]
//   (--all: also the portable and reference kernels; --paths: list this CPU's ISA paths and stop;
//   --sweep: the default path against the depth (printSweep); --isa-rates: the AVX-512 kernel's
//   instructions' throughput (printIsaRates))
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lce_kernels/kernels.h"
#include "lce_kernels/peak.h"

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

// The peaks ([0] scalar, [1] vector, [2] byte-LUT; lce_kernels/peak.h), indexable.
struct Peaks {
  double rate[3] = {0, 0, 0};
};
Peaks measuredPeaks(uint64_t seed) {
  const PeakRates p = measurePeaks(seed);
  return Peaks{{p.scalar, p.vector, p.lut}};
}

bool supported(Isa isa) {
  const auto isas = supportedIsas();
  return std::find(isas.begin(), isas.end(), isa) != isas.end();
}

struct Case {
  const char *name;
  int64_t size, channelsIn, channelsOut, stride;
  int padValues;  // 1: one padding (QuickNet), 0: zero padding
};

// Output of a path: float (multiplier + bias), bitpacked (thresholds), or QuickNet's fused
// residual block (ReLU on the conv, float output + the residual ADD + the LceQuantize of the sum, as the delegate
// fuses them; the sum is written too).
enum class Out { kFloat, kBits, kResidualQuantize };

struct Path {
  std::string name;
  Isa isa;
  int threads;
  bool reference;
  Out out = Out::kFloat;
};

// One shape's data (seeded random input and filter; multipliers, biases, thresholds) and its
// three outputs, indexed by Out: float, bitpacked, and QuickNet's fused block (the ReLU on the
// conv, QuantConv2D(activation="relu"); the residual ADD in place, the sum overwriting the
// residual, as the delegate runs 12 of QuickNet's 16 blocks; the Quantize of the sum). The plan
// is prepared once, as in the delegate.
struct Workload {
  Bconv2dShape s;
  std::vector<int32_t> input, filter;
  std::vector<float> mult, bias;
  std::vector<int32_t> thresholds;
  std::vector<float, CacheAlignedAllocator<float>> out;  // 64-byte aligned, as TFLite's arena
  std::vector<int32_t, CacheAlignedAllocator<int32_t>> bits;
  PostOp add;
  Bconv2dOutput outputs[3];
  std::unique_ptr<Bconv2dPlan> plan;

  Workload(const Bconv2dShape &shape, std::mt19937 &rng)
      : s(shape), input(s.inHeight * s.inWidth * s.wordsIn), filter(s.channelsOut * 9 * s.wordsPerGroup),
        mult(s.channelsOut, 0.5f), bias(s.channelsOut, 0.25f), thresholds(s.channelsOut, static_cast<int32_t>(s.K / 2)),
        out(s.outHeight * s.outWidth * s.channelsOut, 0.125f), bits(s.outHeight * s.outWidth * packedWords(s.channelsOut)) {
    for (auto &v : input) v = static_cast<int32_t>(rng());
    for (auto &v : filter) v = static_cast<int32_t>(rng());
    for (Bconv2dOutput &o : outputs) o.multiplier = mult.data(), o.bias = bias.data();
    outputs[1].type = OutputType::kBitpacked, outputs[1].threshold = thresholds.data();
    add.kind = PostOp::Kind::kAddTensor, add.values = out.data();
    outputs[2].postOps = &add, outputs[2].postOpCount = 1, outputs[2].bits = bits.data(), outputs[2].clampLow = 0;
    plan = std::make_unique<Bconv2dPlan>(s, filter.data());
  }
  Workload(const Workload &) = delete;
  Workload &operator=(const Workload &) = delete;
  void *destination(Out kind) { return kind == Out::kBits ? static_cast<void *>(bits.data()) : static_cast<void *>(out.data()); }
};

// --isa-rates (AVX-512 only): the throughput of the instructions the AVX-512 kernel's inner loop
// and output passes are made of, each alone, 12 independent instructions per loop iteration,
// in instructions per ns (thread CPU time, best of 7); vpxord gives the vector issue width
// (4 per cycle on Zen 5) to read the others against.
#if defined(__x86_64__)
#define LCE_S(x) #x
#define LCE_R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define LCE_RATE_LOOP(name, body)                                                                                   \
  __attribute__((noinline, target("avx512f,avx512vpopcntdq,avx512dq,avx512bw"))) void name(long n) {             \
    alignas(64) static float buffer[2048];                                                                           \
    float *p = buffer;                                                                                               \
    asm volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n\t1:\n\t" body \
                 "dec %[n]\n\tjnz 1b"                                                                               \
                 : [n] "+r"(n)                                                                                       \
                 : [p] "r"(p)                                                                                        \
                 : "cc", "memory", "k1", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",      \
                   "xmm9", "xmm10", "xmm11", "xmm30", "xmm31");                                                      \
  }
#define LCE_XOR(i) "vpxord %%zmm31, %%zmm30, %%zmm" LCE_S(i) "\n\t"
#define LCE_POP(i) "vpopcntd %%zmm31, %%zmm" LCE_S(i) "\n\t"
#define LCE_IMAX(i) "vpmaxsd %%zmm31, %%zmm30, %%zmm" LCE_S(i) "\n\t"
#define LCE_CVT(i) "vcvtdq2ps %%zmm31, %%zmm" LCE_S(i) "\n\t"
#define LCE_MUL(i) "vmulps %%zmm31, %%zmm30, %%zmm" LCE_S(i) "\n\t"
#define LCE_ADD(i) "vaddps %%zmm31, %%zmm30, %%zmm" LCE_S(i) "\n\t"
#define LCE_MAX(i) "vmaxps %%zmm31, %%zmm30, %%zmm" LCE_S(i) "\n\t"
#define LCE_FCMP(i) "vcmpltps %%zmm30, %%zmm31, %%k1\n\t"
#define LCE_ICMP(i) "vpcmpgtd %%zmm30, %%zmm31, %%k1\n\t"
#define LCE_BCST(i) "vpbroadcastd " LCE_S(i) "*4(%[p]), %%zmm" LCE_S(i) "\n\t"
#define LCE_LOAD(i) "vmovups " LCE_S(i) "*64(%[p]), %%zmm" LCE_S(i) "\n\t"
#define LCE_STORE(i) "vmovups %%zmm30, " LCE_S(i) "*64+1024(%[p])\n\t"
LCE_RATE_LOOP(rateXor, LCE_R12(LCE_XOR))
LCE_RATE_LOOP(ratePopcnt, LCE_R12(LCE_POP))
LCE_RATE_LOOP(rateIntMax, LCE_R12(LCE_IMAX))
LCE_RATE_LOOP(rateCvt, LCE_R12(LCE_CVT))
LCE_RATE_LOOP(rateMul, LCE_R12(LCE_MUL))
LCE_RATE_LOOP(rateAdd, LCE_R12(LCE_ADD))
LCE_RATE_LOOP(rateMax, LCE_R12(LCE_MAX))
LCE_RATE_LOOP(rateFloatCompare, LCE_R12(LCE_FCMP))
LCE_RATE_LOOP(rateIntCompare, LCE_R12(LCE_ICMP))
LCE_RATE_LOOP(rateBroadcast, LCE_R12(LCE_BCST))
LCE_RATE_LOOP(rateLoad, LCE_R12(LCE_LOAD))
LCE_RATE_LOOP(rateStore, LCE_R12(LCE_STORE))

int printIsaRates() {
  if (!supported(Isa::kAvx512)) {
    std::printf("--isa-rates: this CPU has no AVX-512 VPOPCNTDQ path\n");
    return 0;
  }
  const struct {
    const char *name;
    void (*loop)(long);
  } rates[] = {{"vpxord zmm", rateXor},         {"vpopcntd zmm", ratePopcnt},     {"vpmaxsd zmm", rateIntMax},
               {"vcvtdq2ps zmm", rateCvt},      {"vmulps zmm", rateMul},          {"vaddps zmm", rateAdd},
               {"vmaxps zmm", rateMax},         {"vcmpltps zmm -> k", rateFloatCompare},
               {"vpcmpgtd zmm -> k", rateIntCompare}, {"vpbroadcastd m32", rateBroadcast},
               {"vmovups zmm load", rateLoad},  {"vmovups zmm store", rateStore}};
  constexpr long kIterations = 200000;
  double xorRate = 0;
  std::printf("instruction throughput, 12 independent per iteration, best of 7 (per ns; per cycle if vpxord issues 4 a cycle):\n");
  for (const auto &r : rates) {
    double best = 1e30;
    for (int k = 0; k < 7; ++k) {
      const double t0 = threadSeconds();
      r.loop(kIterations);
      best = std::min(best, threadSeconds() - t0);
    }
    const double perNs = 12.0 * kIterations / best * 1e-9;
    if (xorRate == 0) xorRate = perNs;
    std::printf("  %-20s %6.2f per ns  %5.2f per cycle\n", r.name, perNs, 4.0 * perNs / xorRate);
  }
  return 0;
}
#else
int printIsaRates() {
  std::printf("--isa-rates: x86-64 only\n");
  return 0;
}
#endif

// --sweep: the default path's time per pixel and 64 output channels (one 6 x 64 register tile's
// share on AVX-512) against the depth, at a fixed image (56x56, one padding, 64 output
// channels) and input channels 32..512: the part that grows with the depth runs at the inner
// loop's rate, the rest is the per-tile cost of the output pass and the tile's set-up, which is
// what keeps the shallow 64-channel layers from the peak (the peak of the path's instruction
// mix: the vector loop, the byte-LUT loop for AVX2, the scalar one for POPCNT). Best of the repeats (the structure,
// not a headline figure; the peak is the median of the rounds), for float output, bitpacked
// output and QuickNet's fused block.
int printSweep(int repeats) {
  const Isa best = activeIsa();
  const char *loop = "";
  pathPeak(PeakRates{}, best, &loop);
  std::printf("depth sweep, path %s, 56x56 3x3 one padding -> 64 channels, best of %d; per pixel and 64 channels, ns\n"
              "(at the peak: at the rate of the %s peak loop)\n",
              isaName(best), repeats, loop);
  std::printf("%-10s %-8s %10s %12s %12s %10s\n", "channels", "output", "ns", "at the peak", "the rest", "of peak");
  std::mt19937 rng(0);
  for (int64_t channelsIn : {32, 64, 128, 256, 512}) {
    Bconv2dShape shape;
    shape.inHeight = shape.inWidth = 56, shape.channelsIn = channelsIn, shape.channelsOut = 64;
    shape.filterHeight = shape.filterWidth = 3, shape.samePadding = true, shape.padValues = 1;
    if (!shape.finalize().empty()) return 1;
    Workload work(shape, rng);
    const Bconv2dShape &s = work.s;
    const char *names[3] = {"float", "bits", "+add+q"};
    const double blocks = static_cast<double>(s.outHeight * s.outWidth);  // pixels x (64 channels / 64)
    for (int k = 0; k < 3; ++k) {
      void *dst = work.destination(static_cast<Out>(k));
      double t = 1e30;
      std::vector<double> rates;
      for (int r = 0; r < repeats + 1; ++r) {
        rates.push_back(pathPeak(measurePeaks(r + 1), best));  // the loop of the path's own mix
        const double t0 = threadSeconds();
        work.plan->run(work.input.data(), work.outputs[k], dst, 1);
        const double dt = threadSeconds() - t0;
        if (r > 0) t = std::min(t, dt);
      }
      const double peak = medianOf(rates);
      const double ns = t / blocks * 1e9, ideal = 64.0 * s.K / peak * 1e9;
      std::printf("%-10lld %-8s %10.2f %12.2f %12.2f %9.1f%%\n", static_cast<long long>(channelsIn), names[k], ns, ideal,
                  ns - ideal, 100.0 * ideal / ns);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  int repeats = 7;
  bool all = false;
  bool listOnly = false, sweep = false, isaRates = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--all")) all = true;
    else if (!std::strcmp(argv[i], "--paths")) listOnly = true;
    else if (!std::strcmp(argv[i], "--sweep")) sweep = true;
    else if (!std::strcmp(argv[i], "--isa-rates")) isaRates = true;
    else if (std::atoi(argv[i]) > 0) repeats = std::atoi(argv[i]);
    else return std::fprintf(stderr, "usage: %s [repeats] [--all] [--paths] [--sweep] [--isa-rates]\n", argv[0]), 2;
  }
  if (isaRates) return printIsaRates();
  if (sweep) return printSweep(repeats);
  if (listOnly) {  // the ISA paths of this CPU, and the default
    std::printf("ISA paths here:");
    for (Isa isa : supportedIsas()) std::printf(" %s", isaName(isa));
    std::printf(" (default %s)\n", isaName(activeIsa()));
    return 0;
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
  for (int r = 0; r < 3 * repeats; ++r) allPeaks.push_back(measuredPeaks(r + 1));
  auto medianPeak = [&](int k) {
    std::vector<double> v;
    for (const Peaks &p : allPeaks) v.push_back(p.rate[k]);
    return medianOf(v);
  };
  std::printf("peaks, register-resident loops, 1 thread (binary MAC/s, medians; remeasured per shape and round):\n");
#if defined(__aarch64__)
  std::printf("  NEON EOR+CNT+ADDP/UADALP %.3g\n", medianPeak(1));
#else
  std::printf("  scalar XOR+POPCNT        %.3g\n", medianPeak(0));
#endif
  if (hasAvx512) std::printf("  AVX-512 XOR+VPOPCNTQ     %.3g\n", medianPeak(1));
  else if (hasAvx2) std::printf("  AVX2 XOR+vpshufb popcnt  %.3g\n", medianPeak(1));
  if (hasAvx2) std::printf("  AVX2 byte-LUT            %.3g\n", medianPeak(2));
  std::printf("(of vector: of the %s XOR+popcount peak; of LUT: of the AVX2 byte-LUT peak)\n\n",
              hasAvx512 ? "AVX-512" : hasAvx2 ? "AVX2" : "NEON");

  std::vector<Path> paths;
  if (all) paths.push_back({"reference", Isa::kPortable, 1, true});
  if (all) paths.push_back({"portable", Isa::kPortable, 1, false});
  if (supported(Isa::kPopcnt)) paths.push_back({"popcnt", Isa::kPopcnt, 1, false});
  if (hasAvx2) paths.push_back({"avx2", Isa::kAvx2, 1, false});
  if (hasAvx512) paths.push_back({"avx512", Isa::kAvx512, 1, false});
  for (Isa isa : {Isa::kNeon, Isa::kNeonDotprod})
    if (supported(isa)) paths.push_back({isaName(isa), isa, 1, false});
  paths.push_back({std::string(isaName(best)) + "/2t wall", best, 2, false});
  paths.push_back({std::string(isaName(best)) + " bits", best, 1, false, Out::kBits});
  paths.push_back({std::string(isaName(best)) + " +add+q", best, 1, false, Out::kResidualQuantize});

  const Case cases[] = {{"56x56x64 -> 64", 56, 64, 64, 1, 1},         {"28x28x128 -> 128", 28, 128, 128, 1, 1},
                        {"28x28x256 -> 256", 28, 256, 256, 1, 1},     {"14x14x256 -> 256", 14, 256, 256, 1, 1},
                        {"7x7x512 -> 512", 7, 512, 512, 1, 1},        {"56x56x64 -> 64 pad0", 56, 64, 64, 1, 0},
                        {"28x28x128 -> 128 pad0", 28, 128, 128, 1, 0}, {"56x56x64 -> 128 s2", 56, 64, 128, 2, 0},
                        {"28x28x128 -> 256 s2", 28, 128, 256, 2, 0},   {"14x14x256 -> 512 s2", 14, 256, 512, 2, 0}};
  std::printf("(3x3 SAME; one padding unless marked pad0 (zero padding); s2: stride 2)\n");
  std::printf("%-22s %-14s %9s %9s %13s %9s %9s %9s\n", "shape", "path", "ms", "best ms", "binary MAC/s",
              "of scalar", "of vector", "of LUT");
  std::mt19937 rng(0);
  for (const Case &c : cases) {
    Bconv2dShape shape;
    shape.inHeight = shape.inWidth = c.size, shape.channelsIn = c.channelsIn, shape.channelsOut = c.channelsOut;
    shape.filterHeight = shape.filterWidth = 3, shape.strideHeight = shape.strideWidth = c.stride;
    shape.samePadding = true, shape.padValues = c.padValues;
    if (!shape.finalize().empty()) return 1;
    Workload work(shape, rng);
    const Bconv2dShape &s = work.s;
    const Bconv2dPlan &plan = *work.plan;
    const double macs = static_cast<double>(s.outHeight * s.outWidth) * s.channelsOut * s.K;
    // Repeats interleave the paths, so that noise from other jobs hits every path alike.
    std::vector<std::vector<double>> times(paths.size()), fractions[3];
    for (auto &f : fractions) f.resize(paths.size());
    for (int r = 0; r < repeats + 1; ++r) {  // the first round warms up
      const Peaks peaks = measuredPeaks(r + 1);
      if (r > 0) allPeaks.push_back(peaks);
      for (size_t k = 0; k < paths.size(); ++k) {
        const Path &path = paths[k];
        setIsa(path.isa);
        double (*now)() = path.threads == 1 ? threadSeconds : wallSeconds;
        const Bconv2dOutput &o = work.outputs[static_cast<int>(path.out)];
        void *dst = work.destination(path.out);
        // Several threads: one untimed call first, so that the pool's workers are polling, as
        // between the back-to-back nodes of a delegate partition (not asleep since the last
        // round's call: waking a thread costs tens of microseconds on these virtual machines).
        if (path.threads > 1 && !path.reference) plan.run(work.input.data(), o, dst, path.threads);
        const double t0 = now();
        if (path.reference) bconv2dReference(s, work.input.data(), work.filter.data(), o, dst);
        else plan.run(work.input.data(), o, dst, path.threads);
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
