// Validation helpers of the delegate's prepare steps, shared by every op kind it claims (and by
// any op kind added later): each prepare step first checks its node with these, then plans.
// Everything a node refers to (tensor indices, types, ranks, quantization, options, output
// placement) is checked before it is read; a failure reports one message naming the op, its
// node and the problem, and the prepare step returns kTfLiteError.
#ifndef LCE_DELEGATE_NODE_CHECKS_H
#define LCE_DELEGATE_NODE_CHECKS_H

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tflite_abi.h"

namespace lce_delegate {

constexpr int64_t kInt32Max = 2147483647;

inline std::vector<int64_t> dimsOf(const TfLiteIntArray *a) {
  std::vector<int64_t> d;
  if (a)
    for (int i = 0; i < a->size; ++i) d.push_back(a->data[i]);
  return d;
}

// Number of elements, or -1 when a dimension is negative or the product overflows int64.
inline int64_t elementsOf(const std::vector<int64_t> &d) {
  int64_t n = 1;
  for (int64_t x : d)
    if (x < 0 || __builtin_mul_overflow(n, x, &n)) return -1;
  return n;
}

inline int64_t typeSize(TfLiteType t) {
  switch (t) {
    case kTfLiteFloat32: case kTfLiteInt32: return 4;
    case kTfLiteInt8: case kTfLiteUInt8: case kTfLiteBool: return 1;
    case kTfLiteInt16: return 2;
    case kTfLiteInt64: return 8;
    default: return 0;
  }
}

inline const char *typeName(TfLiteType t) {
  switch (t) {
    case kTfLiteFloat32: return "float32";
    case kTfLiteInt32: return "int32";
    case kTfLiteUInt8: return "uint8";
    case kTfLiteInt64: return "int64";
    case kTfLiteString: return "string";
    case kTfLiteBool: return "bool";
    case kTfLiteInt16: return "int16";
    case kTfLiteInt8: return "int8";
    default: return "another type";
  }
}

inline std::string dimsText(const std::vector<int64_t> &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// What one node may read and write, checked once per prepare.
class NodeChecker {
 public:
  NodeChecker(TfLiteContext *ctx, const char *op, int node) : ctx_(ctx), op_(op), node_(node) {}

  // Reports "<op> (node <n>): <message>"; always returns false.
  bool fail(const char *format, ...) __attribute__((format(printf, 2, 3))) {
    char message[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(message, sizeof message, format, args);
    va_end(args);
    // One line per message: TFLite's Python wrappers join reported messages with no separator.
    ctx_->ReportError(ctx_, "%s (node %d): %s\n", op_, node_, message);
    return false;
  }

  // The tensor at `index`, or null (and a reported error) when the index is out of range, or
  // -1 for an input that is not optional.
  TfLiteTensor *tensor(int index, const char *what, bool optional = false) {
    if (index == -1 && optional) return nullptr;
    if (index < 0 || static_cast<size_t>(index) >= ctx_->tensors_size) {
      fail("%s refers to tensor %d, but the graph has %zu tensors", what, index, ctx_->tensors_size);
      return nullptr;
    }
    return &ctx_->tensors[index];
  }

  bool count(const std::vector<int> &indices, size_t expected, const char *what) {
    if (indices.size() == expected) return true;
    return fail("needs %zu %s, the node has %zu", expected, what, indices.size());
  }

  bool type(const TfLiteTensor &t, const char *what, std::initializer_list<TfLiteType> allowed) {
    for (TfLiteType a : allowed)
      if (t.type == a) return true;
    std::string names;
    for (TfLiteType a : allowed) names += std::string(names.empty() ? "" : " or ") + typeName(a);
    return fail("%s must be %s, not %s", what, names.c_str(), typeName(t.type));
  }

  // Rank `rank` (or at least 1 when rank < 0) with every dimension positive.
  bool shape(const TfLiteTensor &t, const char *what, int rank) {
    const std::vector<int64_t> d = dimsOf(t.dims);
    if (!t.dims) return fail("%s has no shape", what);
    if (rank >= 0 && d.size() != static_cast<size_t>(rank))
      return fail("%s must be %d-D, it has shape %s", what, rank, dimsText(d).c_str());
    if (d.empty()) return fail("%s must not be a scalar", what);
    for (int64_t x : d)
      if (x < 1) return fail("%s has shape %s: every dimension must be positive", what, dimsText(d).c_str());
    if (elementsOf(d) < 0 || elementsOf(d) > (int64_t(1) << 40))
      return fail("%s has shape %s: too many elements", what, dimsText(d).c_str());
    return true;
  }

  // Per-tensor int8 quantization: a zero point in [-128, 127] and, if `needsScale`, a finite
  // positive scale; per-channel quantization is refused.
  bool int8Params(const TfLiteTensor &t, const char *what, bool needsScale) {
    if (t.quantization.type == kTfLiteAffineQuantization && t.quantization.params) {
      const auto *q = static_cast<const TfLiteAffineQuantization *>(t.quantization.params);
      if ((q->scale && q->scale->size > 1) || (q->zero_point && q->zero_point->size > 1))
        return fail("%s must be quantized per tensor, not per channel", what);
    }
    if (t.params.zero_point < -128 || t.params.zero_point > 127)
      return fail("%s has int8 zero point %d, outside [-128, 127]", what, static_cast<int>(t.params.zero_point));
    if (needsScale && !(std::isfinite(t.params.scale) && t.params.scale > 0))
      return fail("%s needs a finite positive int8 scale, it has %g", what, static_cast<double>(t.params.scale));
    return true;
  }

  // An output the node may write: not a constant or variable tensor and none of its inputs.
  bool writable(int index, const TfLiteTensor &t, const std::vector<int> &inputs) {
    if (t.allocation_type != kTfLiteArenaRw && t.allocation_type != kTfLiteDynamic)
      return fail("output tensor %d is %s and cannot be written", index,
                  t.allocation_type == kTfLiteMmapRo || t.allocation_type == kTfLitePersistentRo
                      ? "a constant"
                      : "not an activation tensor");
    if (t.is_variable) return fail("output tensor %d is a variable and cannot be written", index);
    for (int i : inputs)
      if (i == index) return fail("output tensor %d is also an input of the node", index);
    return true;
  }

  // An integer option in [lo, hi]; `fallback` when the key is missing, unless `required`.
  bool option(const std::map<std::string, int64_t> &options, const char *key, int64_t lo, int64_t hi,
              int64_t fallback, bool required, int64_t &value) {
    auto it = options.find(key);
    if (it == options.end()) {
      if (required) return fail("option '%s' is missing", key);
      value = fallback;
      return true;
    }
    value = it->second;
    if (value < lo || value > hi)
      return fail("option '%s' is %lld, outside [%lld, %lld]", key, static_cast<long long>(value),
                  static_cast<long long>(lo), static_cast<long long>(hi));
    return true;
  }

 private:
  TfLiteContext *ctx_;
  const char *op_;
  int node_;
};

}  // namespace lce_delegate

#endif  // LCE_DELEGATE_NODE_CHECKS_H
