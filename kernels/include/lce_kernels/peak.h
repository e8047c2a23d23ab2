// This core's binary-MAC peaks, measured by register-resident loops (no loads or stores in the
// body, unrolled, at least 12 independent accumulator chains), so that a kernel's rate can be
// quoted as a fraction of what the core can do at most: `lce-bench-bconv` per shape, and
// `lce-benchmark --bounds` (through the delegate) for a whole model.
#ifndef LCE_KERNELS_PEAK_H
#define LCE_KERNELS_PEAK_H

#include <cstdint>

namespace lce_kernels {

// Binary MAC/s of one timing of each loop (about 0.2 ms each, in the calling thread's CPU time:
// the machines are shared, and pre-emption by other jobs is then not counted); 0 where the CPU
// lacks the path.
struct PeakRates {
  // x86: 64-bit XOR + POPCNT + add (64 binary MACs per POPCNT); aarch64: 0.
  double scalar = 0;
  // The XOR + popcount vector peak: AVX-512 XOR + VPOPCNTQ + add where CPUID reports VPOPCNTDQ,
  // else the textbook AVX2 binary dot product (XOR + nibble-LUT popcount into byte counters);
  // on aarch64 the NEON kernel's mix (EOR + CNT + 3 levels of ADDP + UADALP).
  double vector = 0;
  // The AVX2 byte-LUT kernel's inner step without its loads (2 vpshufb + 2 vpaddb per 256
  // binary MACs); 0 without AVX2.
  double lut = 0;
};

PeakRates measurePeaks(uint64_t seed);
// Which loop PeakRates::vector timed here: "AVX-512 XOR+VPOPCNTQ", "AVX2 XOR+vpshufb popcnt",
// "NEON EOR+CNT+ADDP/UADALP", or "" (no vector path).
const char *vectorPeakName();

// The peak of the instruction mix a kernel path runs: the vector loop for avx512 and the NEON
// paths, the byte-LUT loop for avx2 (its kernel's mix), the scalar loop for popcnt; 0 for the
// portable path (no loop of its mix). *name (if not null): that loop's name.
enum class Isa;
double pathPeak(const PeakRates &rates, Isa isa, const char **name = nullptr);

}  // namespace lce_kernels

#endif  // LCE_KERNELS_PEAK_H
