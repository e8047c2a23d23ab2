// The peak loops of peak.h. They are inline assembly, so that what is timed is exactly the
// instruction mix named; each runs only where isa.cc reports its ISA (the target attributes
// compile it without the build's flags for that ISA).
#include "lce_kernels/peak.h"

#include <time.h>

#include <algorithm>

#include "lce_kernels/kernels.h"

namespace lce_kernels {
namespace {

double threadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// (Compiled intrinsics with "opaque" operands went through memory: the AVX-512 loop
// measured 4.7e11 instead of about 1.2e12 on Zen 4). Every loop is register-resident (no loads
// or stores in the body), unrolled, with at least 12 independent accumulator chains, and runs
// `iterations` times (a multiple of 31 in the callers).

#if defined(__x86_64__)
// 12 independent XOR + POPCNT chains per iteration into 6 counters (each takes 2 adds per
// iteration; 15 general registers do not hold 12 counters with their operands): 12 x 64 binary
// MACs per iteration.
__attribute__((target("popcnt"), noinline)) uint64_t scalarPeakLoop(uint64_t iterations, uint64_t seed) {
  uint64_t a = seed * 0x9e3779b97f4a7c15ull, w = ~seed;
  uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0;
  uint64_t t0, t1, t2;
#define LCE_XPA(c, t) "mov %[a], %" #t "\n\txor %[w], %" #t "\n\tpopcnt %" #t ", %" #t "\n\tadd %" #t ", %" #c "\n\t"
  for (uint64_t n = iterations; n; --n)
    asm volatile(LCE_XPA([c0], [t0]) LCE_XPA([c1], [t1]) LCE_XPA([c2], [t2]) LCE_XPA([c3], [t0])
                 LCE_XPA([c4], [t1]) LCE_XPA([c5], [t2]) LCE_XPA([c0], [t0]) LCE_XPA([c1], [t1])
                 LCE_XPA([c2], [t2]) LCE_XPA([c3], [t0]) LCE_XPA([c4], [t1]) LCE_XPA([c5], [t2])
                 : [c0] "+r"(c0), [c1] "+r"(c1), [c2] "+r"(c2), [c3] "+r"(c3), [c4] "+r"(c4), [c5] "+r"(c5),
                   [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2)
                 : [a] "r"(a), [w] "r"(w)
                 : "cc");
#undef LCE_XPA
  return c0 + c1 + c2 + c3 + c4 + c5;
}
constexpr double kScalarBitsPerIteration = 12 * 64;

// The textbook AVX2 binary dot product: per 256 bits vpxor, the nibble-LUT popcount (vpand,
// vpsrlw, vpand, 2 vpshufb) and 2 vpaddb into byte counters: 8 ops. 2 "pixels" x 2 "filter
// vectors" per unrolled step, 3 steps per iteration: 12 counter chains (the vpsadbw that a
// kernel adds every 31 steps is 1 op in 248 and left out). ymm0-3 inputs, ymm4 mask, ymm5 LUT,
// ymm6-7 temporaries, ymm8-15 the counters (two sets of 4, alternating).
__attribute__((target("avx2"), noinline)) uint64_t avx2PeakLoop(uint64_t iterations, uint64_t seed) {
  alignas(32) uint8_t init[4][32];
  for (int v = 0; v < 4; ++v)
    for (int b = 0; b < 32; ++b) init[v][b] = static_cast<uint8_t>((seed + 37 * v + 11 * b) * 0x9d);
  alignas(32) static const uint8_t lut[32] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                              0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
  alignas(32) uint64_t sums[4] = {};
#define LCE_NIB(a, w, c)                                                                            \
  "vpxor %%ymm" #a ", %%ymm" #w ", %%ymm6\n\t"                                                      \
  "vpsrlw $4, %%ymm6, %%ymm7\n\tvpand %%ymm4, %%ymm6, %%ymm6\n\tvpand %%ymm4, %%ymm7, %%ymm7\n\t" \
  "vpshufb %%ymm6, %%ymm5, %%ymm6\n\tvpshufb %%ymm7, %%ymm5, %%ymm7\n\t"                           \
  "vpaddb %%ymm6, %%ymm" #c ", %%ymm" #c "\n\tvpaddb %%ymm7, %%ymm" #c ", %%ymm" #c "\n\t"
  asm volatile(
      "vmovdqa 0(%[init]), %%ymm0\n\tvmovdqa 32(%[init]), %%ymm1\n\t"
      "vmovdqa 64(%[init]), %%ymm2\n\tvmovdqa 96(%[init]), %%ymm3\n\t"
      "vpcmpeqb %%ymm4, %%ymm4, %%ymm4\n\tvpsrlw $12, %%ymm4, %%ymm4\n\tvpackuswb %%ymm4, %%ymm4, %%ymm4\n\t"
      "vmovdqa (%[lut]), %%ymm5\n\t"
      "vpxor %%ymm8, %%ymm8, %%ymm8\n\tvpxor %%ymm9, %%ymm9, %%ymm9\n\tvpxor %%ymm10, %%ymm10, %%ymm10\n\t"
      "vpxor %%ymm11, %%ymm11, %%ymm11\n\tvpxor %%ymm12, %%ymm12, %%ymm12\n\tvpxor %%ymm13, %%ymm13, %%ymm13\n\t"
      "vpxor %%ymm14, %%ymm14, %%ymm14\n\tvpxor %%ymm15, %%ymm15, %%ymm15\n\t"
      "1:\n\t"
      LCE_NIB(0, 2, 8) LCE_NIB(0, 3, 9) LCE_NIB(1, 2, 10) LCE_NIB(1, 3, 11)
      LCE_NIB(0, 2, 12) LCE_NIB(0, 3, 13) LCE_NIB(1, 2, 14) LCE_NIB(1, 3, 15)
      LCE_NIB(0, 2, 8) LCE_NIB(0, 3, 9) LCE_NIB(1, 2, 10) LCE_NIB(1, 3, 11)
      "dec %[n]\n\tjnz 1b\n\t"
      "vpaddb %%ymm12, %%ymm8, %%ymm8\n\tvpaddb %%ymm13, %%ymm9, %%ymm9\n\tvpaddb %%ymm14, %%ymm10, %%ymm10\n\t"
      "vpaddb %%ymm15, %%ymm11, %%ymm11\n\tvpaddb %%ymm9, %%ymm8, %%ymm8\n\tvpaddb %%ymm11, %%ymm10, %%ymm10\n\t"
      "vpaddb %%ymm10, %%ymm8, %%ymm8\n\tvpxor %%ymm6, %%ymm6, %%ymm6\n\tvpsadbw %%ymm6, %%ymm8, %%ymm8\n\t"
      "vmovdqa %%ymm8, (%[sums])\n\tvzeroupper\n\t"
      : [n] "+r"(iterations)
      : [init] "r"(init), [lut] "r"(lut), [sums] "r"(sums)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#undef LCE_NIB
  return sums[0] + sums[1] + sums[2] + sums[3];
}
constexpr double kAvx2BitsPerIteration = 12 * 256;

// The AVX2 byte-LUT kernel's inner step without its loads: per "pixel" (a low-nibble and a
// high-nibble table) and block of 32 channels (a low and a high filter-nibble vector) 2 vpshufb
// + 2 vpaddb. 2 pixels x 2 blocks per unrolled step, 3 steps per iteration: 12 pixel-block
// products into 6 byte counters (ymm10-15, 2 adds each per step; the kernel widens them every
// 31 steps, 1 op in 124, left out). ymm0-3 tables, ymm4-7 filter nibbles, ymm8-9 temporaries.
__attribute__((target("avx2"), noinline)) uint64_t avx2LutPeakLoop(uint64_t iterations, uint64_t seed) {
  alignas(32) uint8_t init[8][32];
  for (int v = 0; v < 8; ++v)
    for (int b = 0; b < 32; ++b) init[v][b] = static_cast<uint8_t>(((seed + 13 * v + 7 * b) * 0x9d) & (v < 4 ? 3 : 15));
  alignas(32) uint64_t sums[4] = {};
#define LCE_LUT(tl, th, fl, fh, c)                                                                         \
  "vpshufb %%ymm" #fl ", %%ymm" #tl ", %%ymm8\n\tvpshufb %%ymm" #fh ", %%ymm" #th ", %%ymm9\n\t"             \
  "vpaddb %%ymm8, %%ymm" #c ", %%ymm" #c "\n\tvpaddb %%ymm9, %%ymm" #c ", %%ymm" #c "\n\t"
  asm volatile(
      "vmovdqa 0(%[init]), %%ymm0\n\tvmovdqa 32(%[init]), %%ymm1\n\tvmovdqa 64(%[init]), %%ymm2\n\t"
      "vmovdqa 96(%[init]), %%ymm3\n\tvmovdqa 128(%[init]), %%ymm4\n\tvmovdqa 160(%[init]), %%ymm5\n\t"
      "vmovdqa 192(%[init]), %%ymm6\n\tvmovdqa 224(%[init]), %%ymm7\n\t"
      "vpxor %%ymm10, %%ymm10, %%ymm10\n\tvpxor %%ymm11, %%ymm11, %%ymm11\n\tvpxor %%ymm12, %%ymm12, %%ymm12\n\t"
      "vpxor %%ymm13, %%ymm13, %%ymm13\n\tvpxor %%ymm14, %%ymm14, %%ymm14\n\tvpxor %%ymm15, %%ymm15, %%ymm15\n\t"
      "1:\n\t"
      LCE_LUT(0, 1, 4, 5, 10) LCE_LUT(0, 1, 6, 7, 11) LCE_LUT(2, 3, 4, 5, 12) LCE_LUT(2, 3, 6, 7, 13)
      LCE_LUT(0, 1, 4, 5, 14) LCE_LUT(0, 1, 6, 7, 15) LCE_LUT(2, 3, 4, 5, 10) LCE_LUT(2, 3, 6, 7, 11)
      LCE_LUT(0, 1, 4, 5, 12) LCE_LUT(0, 1, 6, 7, 13) LCE_LUT(2, 3, 4, 5, 14) LCE_LUT(2, 3, 6, 7, 15)
      "dec %[n]\n\tjnz 1b\n\t"
      "vpaddb %%ymm11, %%ymm10, %%ymm10\n\tvpaddb %%ymm13, %%ymm12, %%ymm12\n\tvpaddb %%ymm15, %%ymm14, %%ymm14\n\t"
      "vpaddb %%ymm12, %%ymm10, %%ymm10\n\tvpaddb %%ymm14, %%ymm10, %%ymm10\n\tvpxor %%ymm8, %%ymm8, %%ymm8\n\t"
      "vpsadbw %%ymm8, %%ymm10, %%ymm10\n\tvmovdqa %%ymm10, (%[sums])\n\tvzeroupper\n\t"
      : [n] "+r"(iterations)
      : [init] "r"(init), [sums] "r"(sums)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#undef LCE_LUT
  return sums[0] + sums[1] + sums[2] + sums[3];
}
constexpr double kAvx2LutBitsPerIteration = 12 * 256;

// 24 chains of 512-bit vpxorq + vpopcntq + vpaddq: 4 "filter" vectors (zmm24-27) x 6 "pixel"
// vectors (zmm28-31 and zmm22-23), as in the AVX-512 kernel's 6 x 4 register tile; zmm0-11
// counters for the first 12 chains and zmm12-21 temporaries. 24 x 512 binary MACs per iteration.
__attribute__((target("avx512f,avx512vpopcntdq"), noinline)) uint64_t avx512PeakLoop(uint64_t iterations,
                                                                                     uint64_t seed) {
  alignas(64) uint64_t init[10][8];
  for (int v = 0; v < 10; ++v)
    for (int l = 0; l < 8; ++l) init[v][l] = (seed + 131 * v + 17 * l) * 0x9e3779b97f4a7c15ull;
  alignas(64) uint64_t sums[8] = {};
#define LCE_XPA(a, w, c, t) \
  "vpxorq %%zmm" #a ", %%zmm" #w ", %%zmm" #t "\n\tvpopcntq %%zmm" #t ", %%zmm" #t "\n\tvpaddq %%zmm" #t ", %%zmm" #c ", %%zmm" #c "\n\t"
#define LCE_ROW(a, c0, c1, c2, c3, t) \
  LCE_XPA(a, 24, c0, t) LCE_XPA(a, 25, c1, t) LCE_XPA(a, 26, c2, t) LCE_XPA(a, 27, c3, t)
  asm volatile(
      "vmovdqa64 0(%[init]), %%zmm24\n\tvmovdqa64 64(%[init]), %%zmm25\n\tvmovdqa64 128(%[init]), %%zmm26\n\t"
      "vmovdqa64 192(%[init]), %%zmm27\n\tvmovdqa64 256(%[init]), %%zmm28\n\tvmovdqa64 320(%[init]), %%zmm29\n\t"
      "vmovdqa64 384(%[init]), %%zmm30\n\tvmovdqa64 448(%[init]), %%zmm31\n\tvmovdqa64 512(%[init]), %%zmm22\n\t"
      "vmovdqa64 576(%[init]), %%zmm23\n\t"
      "vpxorq %%zmm0, %%zmm0, %%zmm0\n\tvpxorq %%zmm1, %%zmm1, %%zmm1\n\tvpxorq %%zmm2, %%zmm2, %%zmm2\n\t"
      "vpxorq %%zmm3, %%zmm3, %%zmm3\n\tvpxorq %%zmm4, %%zmm4, %%zmm4\n\tvpxorq %%zmm5, %%zmm5, %%zmm5\n\t"
      "vpxorq %%zmm6, %%zmm6, %%zmm6\n\tvpxorq %%zmm7, %%zmm7, %%zmm7\n\tvpxorq %%zmm8, %%zmm8, %%zmm8\n\t"
      "vpxorq %%zmm9, %%zmm9, %%zmm9\n\tvpxorq %%zmm10, %%zmm10, %%zmm10\n\tvpxorq %%zmm11, %%zmm11, %%zmm11\n\t"
      "vpxorq %%zmm12, %%zmm12, %%zmm12\n\tvpxorq %%zmm13, %%zmm13, %%zmm13\n\tvpxorq %%zmm14, %%zmm14, %%zmm14\n\t"
      "vpxorq %%zmm15, %%zmm15, %%zmm15\n\tvpxorq %%zmm16, %%zmm16, %%zmm16\n\tvpxorq %%zmm17, %%zmm17, %%zmm17\n\t"
      "1:\n\t"
      LCE_ROW(28, 0, 1, 2, 3, 18) LCE_ROW(29, 4, 5, 6, 7, 19) LCE_ROW(30, 8, 9, 10, 11, 20)
      LCE_ROW(31, 12, 13, 14, 15, 21) LCE_ROW(22, 16, 17, 0, 1, 18) LCE_ROW(23, 2, 3, 4, 5, 19)
      "dec %[n]\n\tjnz 1b\n\t"
      "vpaddq %%zmm1, %%zmm0, %%zmm0\n\tvpaddq %%zmm3, %%zmm2, %%zmm2\n\tvpaddq %%zmm5, %%zmm4, %%zmm4\n\t"
      "vpaddq %%zmm7, %%zmm6, %%zmm6\n\tvpaddq %%zmm9, %%zmm8, %%zmm8\n\tvpaddq %%zmm11, %%zmm10, %%zmm10\n\t"
      "vpaddq %%zmm13, %%zmm12, %%zmm12\n\tvpaddq %%zmm15, %%zmm14, %%zmm14\n\tvpaddq %%zmm17, %%zmm16, %%zmm16\n\t"
      "vpaddq %%zmm2, %%zmm0, %%zmm0\n\tvpaddq %%zmm6, %%zmm4, %%zmm4\n\tvpaddq %%zmm10, %%zmm8, %%zmm8\n\t"
      "vpaddq %%zmm14, %%zmm12, %%zmm12\n\tvpaddq %%zmm4, %%zmm0, %%zmm0\n\tvpaddq %%zmm12, %%zmm8, %%zmm8\n\t"
      "vpaddq %%zmm16, %%zmm0, %%zmm0\n\tvpaddq %%zmm8, %%zmm0, %%zmm0\n\tvmovdqa64 %%zmm0, (%[sums])\n\t"
      "vzeroupper\n\t"
      : [n] "+r"(iterations)
      : [init] "r"(init), [sums] "r"(sums)
      : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
#undef LCE_ROW
#undef LCE_XPA
  uint64_t s = 0;
  for (uint64_t v : sums) s += v;
  return s;
}
constexpr double kAvx512BitsPerIteration = 24 * 512;
#elif defined(__aarch64__)
// The NEON kernel's instruction mix (bconv2d_indirect_neon_impl.h), register-resident: 4 pixels
// (v0-v3) x 8 channels (v4-v11) per iteration, each pixel 8 EOR + 8 CNT + 7 ADDP + 1 UADALP into
// its 16-bit counters (v24-v27); two temp sets (v12-v19, v20-v23 + v28-v31) alternate between
// pixels: 4 x 8 x 128 binary MACs per iteration.
#define LCE_PX(x, acc, t0, t1, t2, t3, t4, t5, t6, t7)                                                            \
  "eor v" #t0 ".16b, v" #x ".16b, v4.16b\n\teor v" #t1 ".16b, v" #x ".16b, v5.16b\n\t"                        \
  "eor v" #t2 ".16b, v" #x ".16b, v6.16b\n\teor v" #t3 ".16b, v" #x ".16b, v7.16b\n\t"                        \
  "eor v" #t4 ".16b, v" #x ".16b, v8.16b\n\teor v" #t5 ".16b, v" #x ".16b, v9.16b\n\t"                        \
  "eor v" #t6 ".16b, v" #x ".16b, v10.16b\n\teor v" #t7 ".16b, v" #x ".16b, v11.16b\n\t"                      \
  "cnt v" #t0 ".16b, v" #t0 ".16b\n\tcnt v" #t1 ".16b, v" #t1 ".16b\n\tcnt v" #t2 ".16b, v" #t2 ".16b\n\t"   \
  "cnt v" #t3 ".16b, v" #t3 ".16b\n\tcnt v" #t4 ".16b, v" #t4 ".16b\n\tcnt v" #t5 ".16b, v" #t5 ".16b\n\t"   \
  "cnt v" #t6 ".16b, v" #t6 ".16b\n\tcnt v" #t7 ".16b, v" #t7 ".16b\n\t"                                     \
  "addp v" #t0 ".16b, v" #t0 ".16b, v" #t1 ".16b\n\taddp v" #t2 ".16b, v" #t2 ".16b, v" #t3 ".16b\n\t"        \
  "addp v" #t4 ".16b, v" #t4 ".16b, v" #t5 ".16b\n\taddp v" #t6 ".16b, v" #t6 ".16b, v" #t7 ".16b\n\t"        \
  "addp v" #t0 ".16b, v" #t0 ".16b, v" #t2 ".16b\n\taddp v" #t4 ".16b, v" #t4 ".16b, v" #t6 ".16b\n\t"        \
  "addp v" #t0 ".16b, v" #t0 ".16b, v" #t4 ".16b\n\tuadalp v" #acc ".8h, v" #t0 ".16b\n\t"
__attribute__((noinline)) uint64_t neonPeakLoop(uint64_t iterations, uint64_t seed) {
  alignas(16) uint64_t init[24], sums[8];
  for (int i = 0; i < 24; ++i) init[i] = seed * 0x9e3779b97f4a7c15ull + i * 0x632be59bd9b4e019ull;
  asm volatile(
      "ldp q0, q1, [%[init]]\n\tldp q2, q3, [%[init], #32]\n\tldp q4, q5, [%[init], #64]\n\t"
      "ldp q6, q7, [%[init], #96]\n\tldp q8, q9, [%[init], #128]\n\tldp q10, q11, [%[init], #160]\n\t"
      "movi v24.16b, #0\n\tmovi v25.16b, #0\n\tmovi v26.16b, #0\n\tmovi v27.16b, #0\n\t"
      "1:\n\t"
      LCE_PX(0, 24, 12, 13, 14, 15, 16, 17, 18, 19) LCE_PX(1, 25, 20, 21, 22, 23, 28, 29, 30, 31)
      LCE_PX(2, 26, 12, 13, 14, 15, 16, 17, 18, 19) LCE_PX(3, 27, 20, 21, 22, 23, 28, 29, 30, 31)
      "subs %[n], %[n], #1\n\tb.ne 1b\n\t"
      "stp q24, q25, [%[sums]]\n\tstp q26, q27, [%[sums], #32]\n\t"
      : [n] "+r"(iterations)
      : [init] "r"(init), [sums] "r"(sums)
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14",
        "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30",
        "v31");
#undef LCE_PX
  uint64_t s = 0;
  for (uint64_t v : sums) s += v;
  return s;
}
constexpr double kNeonBitsPerIteration = 4 * 8 * 128;
#endif

// One timing of a register-resident loop: binary MAC/s.
double peakRate(uint64_t (*loop)(uint64_t, uint64_t), uint64_t iterations, double bitsPerIteration, uint64_t seed) {
  static volatile uint64_t sink = 0;
  const double t0 = threadSeconds();
  sink = sink + loop(iterations, seed);
  const double s = threadSeconds() - t0;
  return static_cast<double>(iterations / 31 * 31) * bitsPerIteration / s;
}

#if defined(__x86_64__)
bool supported(Isa isa) {
  const auto isas = supportedIsas();
  return std::find(isas.begin(), isas.end(), isa) != isas.end();
}
#endif

}  // namespace

PeakRates measurePeaks(uint64_t seed) {
  PeakRates p;
#if defined(__x86_64__)
  const bool hasAvx2 = supported(Isa::kAvx2), hasAvx512 = supported(Isa::kAvx512);
  p.scalar = peakRate(scalarPeakLoop, 31 * 1000, kScalarBitsPerIteration, seed);
  if (hasAvx512) p.vector = peakRate(avx512PeakLoop, 31 * 1000, kAvx512BitsPerIteration, seed);
  else if (hasAvx2) p.vector = peakRate(avx2PeakLoop, 31 * 400, kAvx2BitsPerIteration, seed);
  if (hasAvx2) p.lut = peakRate(avx2LutPeakLoop, 31 * 1000, kAvx2LutBitsPerIteration, seed);
#elif defined(__aarch64__)
  p.vector = peakRate(neonPeakLoop, 31 * 1000, kNeonBitsPerIteration, seed);
#else
  (void)seed;
#endif
  return p;
}

double pathPeak(const PeakRates &rates, Isa isa, const char **name) {
  const char *loop = "";
  double rate = 0;
  switch (isa) {
    case Isa::kAvx512:
    case Isa::kNeon:
    case Isa::kNeonDotprod: rate = rates.vector, loop = vectorPeakName(); break;
    case Isa::kAvx2: rate = rates.lut, loop = "AVX2 byte-LUT"; break;
    case Isa::kPopcnt: rate = rates.scalar, loop = "scalar XOR+POPCNT"; break;
    case Isa::kPortable: break;
  }
  if (name) *name = loop;
  return rate;
}

const char *vectorPeakName() {
#if defined(__x86_64__)
  if (supported(Isa::kAvx512)) return "AVX-512 XOR+VPOPCNTQ";
  if (supported(Isa::kAvx2)) return "AVX2 XOR+vpshufb popcnt";
  return "";
#elif defined(__aarch64__)
  return "NEON EOR+CNT+ADDP/UADALP";
#else
  return "";
#endif
}

}  // namespace lce_kernels
