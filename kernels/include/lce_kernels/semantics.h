// The semantic tables of lce_convert in one place (docs/semantics.md cites this file): the
// fused activations and their clamps, TF's SAME padding, and the bitpacked-output threshold
// convention. Header-only and dependency-free, so that the kernels, the TFLite delegate, the MLIR
// passes (passes/CMakeLists.txt adds kernels/include) and the HLS templates include the same
// definitions; Python reads them through lce_convert._core (passes/bindings/Core.cpp).
#ifndef LCE_KERNELS_SEMANTICS_H
#define LCE_KERNELS_SEMANTICS_H

#include <cstdint>
#include <cstring>

namespace lce_kernels {
namespace semantics {

// ---- Fused activations --------------------------------------------------------------------
// Codes are TfLiteFusedActivation's (and LCE's fused_activation_function custom option, and the
// schema's ActivationFunctionType): 0 NONE, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6. Each is a clamp to
// [lo, hi] where hasLow / hasHigh (NONE is unbounded, RELU above). On a Bconv2d the
// clamp applies to the conv value (the +-1 dot product) before multiplier and bias.
struct Activation {
  int code;
  const char *name;
  bool hasLow, hasHigh;
  int lo, hi;  // valid where has*
};

enum ActivationCode { kNone = 0, kRelu = 1, kReluN1To1 = 2, kRelu6 = 3 };

// SAME padding of one dimension (samePadding below).
struct SamePadding {
  int64_t out, before, after;
};

// The table and the functions have internal linkage: the kernels include this from translation
// units built with different ISA flags, where one inline definition must not stand in for
// another.
namespace {

constexpr Activation kActivations[] = {
    {kNone, "NONE", false, false, 0, 0},
    {kRelu, "RELU", true, false, 0, 0},
    {kReluN1To1, "RELU_N1_TO_1", true, true, -1, 1},
    {kRelu6, "RELU6", true, true, 0, 6},
};
constexpr int kActivationCount = sizeof(kActivations) / sizeof(kActivations[0]);

// The activation of a code, or nullptr (TANH, SIGN_BIT, ... have no clamp form).
inline const Activation *activationByCode(int code) {
  for (const Activation &a : kActivations)
    if (a.code == code) return &a;
  return nullptr;
}

// The activation of a name ("RELU6"), or nullptr. `size` is the name's length.
inline const Activation *activationByName(const char *name, size_t size) {
  for (const Activation &a : kActivations)
    if (std::strlen(a.name) == size && std::memcmp(a.name, name, size) == 0) return &a;
  return nullptr;
}

// The bounds of a Bconv2d's conv value under activation `a` with K = taps * channels: the clamp
// intersected with [-K, K], the range of a +-1 dot product of length K.
inline void convBounds(const Activation &a, int64_t K, int64_t &lo, int64_t &hi) {
  lo = a.hasLow && a.lo > -K ? a.lo : -K;
  hi = a.hasHigh && a.hi < K ? a.hi : K;
}

// ---- SAME padding ---------------------------------------------------------------------------
// TF's SAME padding of one spatial dimension: out = ceil(in / stride), and the padding the
// effective (dilated) window needs, split with the smaller half before.
constexpr SamePadding samePadding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation) {
  const int64_t effective = (kernel - 1) * dilation + 1;
  const int64_t out = (in + stride - 1) / stride;
  const int64_t need = (out - 1) * stride + effective - in;
  const int64_t total = need > 0 ? need : 0;
  return {out, total / 2, total - total / 2};
}

// ---- Bitpacked output ---------------------------------------------------------------------
// The bit of output channel c is 1 (the value -1) exactly when accum_eff > threshold[c], with
// accum_eff = (K - conv) / 2 the XOR popcount equivalent of the (clamped) conv value; in integers,
// K - conv > 2 * threshold. The converter's thresholds (passes/transforms/Common.cpp,
// bitpackedThreshold) follow this; threshold -1 means always 1 (-1), K never.
constexpr bool bitpackedBit(int64_t K, int64_t conv, int32_t threshold) {
  return K - conv > 2 * static_cast<int64_t>(threshold);
}

}  // namespace
}  // namespace semantics
}  // namespace lce_kernels

#endif  // LCE_KERNELS_SEMANTICS_H
