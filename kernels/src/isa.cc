// ISA selection and the table of kernel paths (isa_table.h): chosen once from the CPU's
// features (the best row this CPU has), overridable by LCE_KERNELS_ISA or setIsa.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "isa_table.h"

namespace lce_kernels {

namespace {
bool always() { return true; }

#if defined(__x86_64__)
bool hasPopcnt() { return __builtin_cpu_supports("popcnt"); }
bool hasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt"); }
bool hasAvx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vpopcntdq");
}
#elif defined(__aarch64__)
// Advanced SIMD is part of every ARMv8-A Linux target; dotprod (UDOT) is optional from v8.2.
bool hasNeon() {
#if defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#else
  return true;
#endif
}
bool hasNeonDotprod() {
#if defined(__linux__)
  return hasNeon() && (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
  return false;
#endif
}
#endif

// This architecture's rows, best first; the portable row is last and always there.
const IsaPaths kTable[] = {
#if defined(__x86_64__)
    {Isa::kAvx512, hasAvx512, bconv2d_indirect_avx512, bitpack_row_f32_avx512, bitpack_row_s8_avx512,
     unpack_row_f32_portable, unpack_row_s8_portable, and_words_portable},
    {Isa::kAvx2, hasAvx2, bconv2d_indirect_avx2, bitpack_row_f32_avx2, bitpack_row_s8_avx2, unpack_row_f32_portable,
     unpack_row_s8_portable, and_words_portable},
    {Isa::kPopcnt, hasPopcnt, bconv2d_indirect_popcnt, bitpack_row_f32_portable, bitpack_row_s8_portable,
     unpack_row_f32_portable, unpack_row_s8_portable, and_words_portable},
#elif defined(__aarch64__)
    {Isa::kNeonDotprod, hasNeonDotprod, bconv2d_indirect_neon_dotprod, bitpack_row_f32_neon, bitpack_row_s8_neon,
     unpack_row_f32_neon, unpack_row_s8_neon, and_words_neon},
    {Isa::kNeon, hasNeon, bconv2d_indirect_neon, bitpack_row_f32_neon, bitpack_row_s8_neon, unpack_row_f32_neon,
     unpack_row_s8_neon, and_words_neon},
#endif
    {Isa::kPortable, always, bconv2d_indirect_portable, bitpack_row_f32_portable, bitpack_row_s8_portable,
     unpack_row_f32_portable, unpack_row_s8_portable, and_words_portable},
};

const char *const kNames[kIsaCount] = {"portable", "avx2", "avx512", "popcnt", "neon", "neon_dotprod"};

bool cpuHas(Isa isa) {
  for (const IsaPaths &row : kTable)
    if (row.isa == isa) return row.available();
  return false;
}

Isa bestIsa() {
  for (const IsaPaths &row : kTable)
    if (row.available()) return row.isa;
  return Isa::kPortable;
}

std::string listOf(bool onlySupported) {
  std::string out;
  for (auto it = std::rbegin(kTable); it != std::rend(kTable); ++it)
    if (!onlySupported || it->available()) out += std::string(out.empty() ? "" : ", ") + isaName(it->isa);
  return out;
}

Isa initialIsa() {
  const char *forced = std::getenv("LCE_KERNELS_ISA");
  if (!forced || !*forced) return bestIsa();
  Isa isa;
  if (parseIsa(forced, isa) && cpuHas(isa)) return isa;
  std::fprintf(stderr, "lce_kernels: LCE_KERNELS_ISA=%s is not an ISA path of this CPU (%s); using %s\n", forced,
               listOf(true).c_str(), isaName(bestIsa()));
  return bestIsa();
}

Isa &current() {
  static Isa isa = initialIsa();
  return isa;
}
}  // namespace

const IsaPaths &isaPaths(Isa isa) {
  for (const IsaPaths &row : kTable)
    if (row.isa == isa) return row;
  throw std::invalid_argument(std::string("ISA path not built for this architecture: ") + isaName(isa));
}

const char *isaName(Isa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < kIsaCount ? kNames[i] : "?";
}

bool parseIsa(const char *name, Isa &isa) {
  for (const IsaPaths &row : kTable)
    if (name && !std::strcmp(name, isaName(row.isa))) return isa = row.isa, true;
  return false;
}

std::string isaPathsDescription(bool onlySupported) { return listOf(onlySupported); }

std::vector<Isa> supportedIsas() {
  std::vector<Isa> out;
  for (auto it = std::rbegin(kTable); it != std::rend(kTable); ++it)
    if (it->available()) out.push_back(it->isa);
  return out;
}

Isa activeIsa() { return current(); }

void setIsa(Isa isa) {
  if (!cpuHas(isa))
    throw std::invalid_argument(std::string("ISA path '") + isaName(isa) + "' is not available on this CPU (" +
                                listOf(true) + ")");
  current() = isa;
}

}  // namespace lce_kernels
