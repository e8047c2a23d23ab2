// ISA selection: once from CPUID, overridable by LCE_KERNELS_ISA.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "lce_kernels/kernels.h"

namespace lce_kernels {

namespace {
bool cpuHas(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::kPortable: return true;
    case Isa::kPopcnt: return __builtin_cpu_supports("popcnt");
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vpopcntdq");
  }
  return false;
#else
  return isa == Isa::kPortable;
#endif
}

Isa bestIsa() {
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kPopcnt})
    if (cpuHas(isa)) return isa;
  return Isa::kPortable;
}

Isa initialIsa() {
  const char *forced = std::getenv("LCE_KERNELS_ISA");
  if (!forced || !*forced) return bestIsa();
  for (Isa isa : {Isa::kPortable, Isa::kPopcnt, Isa::kAvx2, Isa::kAvx512})
    if (!std::strcmp(forced, isaName(isa)) && cpuHas(isa)) return isa;
  std::string here;
  for (Isa isa : {Isa::kPortable, Isa::kPopcnt, Isa::kAvx2, Isa::kAvx512})
    if (cpuHas(isa)) here += std::string(here.empty() ? "" : ", ") + isaName(isa);
  std::fprintf(stderr, "lce_kernels: LCE_KERNELS_ISA=%s is not an ISA path of this CPU (%s); using %s\n", forced,
               here.c_str(), isaName(bestIsa()));
  return bestIsa();
}

Isa &current() {
  static Isa isa = initialIsa();
  return isa;
}
}  // namespace

const char *isaName(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return "portable";
    case Isa::kPopcnt: return "popcnt";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

std::vector<Isa> supportedIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kPortable, Isa::kPopcnt, Isa::kAvx2, Isa::kAvx512})
    if (cpuHas(isa)) out.push_back(isa);
  return out;
}

Isa activeIsa() { return current(); }

void setIsa(Isa isa) {
  if (!cpuHas(isa)) throw std::invalid_argument(std::string("ISA not supported here: ") + isaName(isa));
  current() = isa;
}

}  // namespace lce_kernels
