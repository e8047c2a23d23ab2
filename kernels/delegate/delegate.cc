// The lce_convert TFLite delegate: an external delegate (plain C ABI, loaded with
// `load_delegate`) that claims the LceQuantize, LceDequantize, LceBconv2d and LceBMaxPool2d
// custom nodes and runs them with lce_kernels; TFLite/XNNPACK keeps the builtin ops, except the
// ones fused into a Bconv2d below.
//
// Fused epilogues (delegate option fuse, on by default): the flatbuffer stays LCE-compatible, and
// the delegate claims, after a Bconv2d with float output, the chain of float ops that read only
// its result: MUL or ADD by a per-channel (or scalar) constant, the ADD of a residual tensor of
// the same shape, RELU / RELU6 / RELU_N1_TO_1 (and the fused activations of ADD/MUL), and then
// an LceQuantize of the chain's result. The Bconv2d's output pass applies them
// (lce_kernels::PostOp): the same float32 operations in the same order, so the results are
// bit-identical to running the ops one by one, and the intermediate tensors are never written.
// A claimed builtin that cannot be fused where it stands (a partition boundary, another reader)
// runs on its own here, with the same arithmetic. The profile names a fused node by its chain
// ("LceBconv2d+ADD+LceQuantize").
//
// The two traps of research/env-feasibility.md are handled: the delegate allows dynamic
// tensors (else construction fails on the unresolved custom ops), and outputs internal to a
// claimed partition are made kTfLiteDynamic before resizing (the arena plans none for them).
//
// Hostile models: every claimed node goes through one prepare step per op kind that first
// checks everything the node refers to (node_checks.h: tensor counts and indices, types, ranks,
// quantization, options in range, an output the node may write), then plans (derived shapes
// with checked arithmetic, the kernel plan, the output shape). What needs the whole graph (an
// output another node also writes, or that a node reads before this one writes it) is found when
// the nodes are claimed. Invoke re-checks that every tensor still has the shape and buffer it
// was planned with (a later node's prepare may have resized a shared tensor). A failure is one
// message naming the op, its node and the problem, never a crash.
//
// Declared output shapes: an Lce op computes its output shape from its inputs and options, like
// TFLite's builtin kernels, but a model whose declared output shape disagrees is refused (in
// every dimension but the batch, which follows the inputs, and dimensions the shape signature
// leaves dynamic), the same way for every op.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "flexbuffer_map.h"
#include "lce_kernels/kernels.h"
#include "lce_kernels/peak.h"
#include "lce_kernels/semantics.h"
#include "lce_kernels/thread_pool.h"
#include "node_checks.h"
#include "tflite_abi.h"

namespace {

namespace semantics = lce_kernels::semantics;

using lce_delegate::dimsOf;
using lce_delegate::dimsText;
using lce_delegate::elementsOf;
using lce_delegate::kInt32Max;
using lce_delegate::NodeChecker;
using lce_kernels::packedWords;

enum class OpKind { kQuantize, kDequantize, kBconv2d, kBMaxPool2d, kAdd, kMul, kRelu, kRelu6, kReluN1To1 };

// The builtin ops the delegate fuses into a Bconv2d's output pass (and can run alone).
bool builtinKindOf(int code, OpKind &kind) {
  switch (code) {
    case kTfLiteBuiltinAdd: return kind = OpKind::kAdd, true;
    case kTfLiteBuiltinMul: return kind = OpKind::kMul, true;
    case kTfLiteBuiltinRelu: return kind = OpKind::kRelu, true;
    case kTfLiteBuiltinRelu6: return kind = OpKind::kRelu6, true;
    case kTfLiteBuiltinReluN1To1: return kind = OpKind::kReluN1To1, true;
  }
  return false;
}

bool isElementwise(OpKind kind) { return kind >= OpKind::kAdd; }
bool isBinary(OpKind kind) { return kind == OpKind::kAdd || kind == OpKind::kMul; }

// The C ABI gives a custom op's name as a NUL-terminated string, so a name with an embedded NUL
// ("LceBconv2d\0x") cannot be told apart here; lce_convert.Interpreter refuses such names from
// the flatbuffer before TFLite sees them.
bool opKindOf(const char *name, OpKind &kind) {
  if (!name) return false;
  static const struct { const char *name; OpKind kind; } kOps[] = {
      {"LceQuantize", OpKind::kQuantize}, {"LceDequantize", OpKind::kDequantize},
      {"LceBconv2d", OpKind::kBconv2d}, {"LceBMaxPool2d", OpKind::kBMaxPool2d}};
  for (const auto &op : kOps)
    if (!std::strcmp(name, op.name)) return kind = op.kind, true;
  return false;
}

const char *opName(OpKind kind) {
  switch (kind) {
    case OpKind::kQuantize: return "LceQuantize";
    case OpKind::kDequantize: return "LceDequantize";
    case OpKind::kBconv2d: return "LceBconv2d";
    case OpKind::kBMaxPool2d: return "LceBMaxPool2d";
    case OpKind::kAdd: return "ADD";
    case OpKind::kMul: return "MUL";
    case OpKind::kRelu: return "RELU";
    case OpKind::kRelu6: return "RELU6";
    case OpKind::kReluN1To1: return "RELU_N1_TO_1";
  }
  return "?";
}

// The clamp of a fused activation (TfLiteFusedActivation 1..3, lce_kernels/semantics.h) or of
// a RELU-family op. False for NONE and for activations that are no clamp.
bool activationClamp(int activation, float &lo, float &hi) {
  const semantics::Activation *a = semantics::activationByCode(activation);
  if (a == nullptr || a->code == semantics::kNone) return false;
  lo = a->hasLow ? static_cast<float>(a->lo) : -INFINITY;
  hi = a->hasHigh ? static_cast<float>(a->hi) : INFINITY;
  return true;
}

// The fused-activation code of a RELU-family op.
int activationOf(OpKind kind) {
  return kind == OpKind::kRelu ? semantics::kRelu : kind == OpKind::kRelu6 ? semantics::kRelu6 : semantics::kReluN1To1;
}

// Profile names of fused chains: interned, so that the profile's pointers outlive partitions.
const char *internName(const std::string &name) {
  static std::mutex mutex;
  static std::vector<std::unique_ptr<std::string>> names;
  std::lock_guard<std::mutex> lock(mutex);
  for (const auto &n : names)
    if (*n == name) return n->c_str();
  names.push_back(std::make_unique<std::string>(name));
  return names.back()->c_str();
}

// Per-node profile (lce-benchmark's per-op view): when enabled (environment variable
// LCE_DELEGATE_PROFILE=1 at delegate creation, or lce_delegate_profile_enable), every invoke of
// a claimed node adds its wall time to the node's entry. Read through the C functions at the end
// of this file. Nodes of several interpreters are told apart by their partition.
struct ProfileEntry {
  const void *partition;
  int node;
  const char *op;
  double seconds = 0;
  int64_t calls = 0;
  int64_t binaryMacs = 0;  // per call (a Bconv2d's; 0 for the other ops)
};

struct Profile {
  std::mutex mutex;
  std::atomic<bool> enabled{false};
  std::vector<ProfileEntry> entries;

  static Profile &instance() {
    static Profile profile;
    return profile;
  }
  void add(const void *partition, int node, const char *op, double seconds, int64_t binaryMacs) {
    std::lock_guard<std::mutex> lock(mutex);
    for (ProfileEntry &e : entries)
      if (e.partition == partition && e.node == node) {
        e.seconds += seconds, ++e.calls, e.binaryMacs = binaryMacs;
        return;
      }
    entries.push_back({partition, node, op, seconds, 1, binaryMacs});
  }
};

// A tensor as a prepare step planned it: invoke runs only if it still is so.
struct PlannedTensor {
  int index;
  std::vector<int64_t> dims;
  int64_t bytes;
};

struct Op {
  OpKind kind;
  int nodeIndex;
  std::vector<int> inputs, outputs;
  std::map<std::string, int64_t> options;
  std::string initError;                // malformed options, or a graph-level problem
  std::vector<int64_t> declaredOutput;  // the output's shape in the model (-1: dynamic)
  std::vector<PlannedTensor> planned;   // every tensor invoke touches, as planned
  bool prepared = false;                // the last prepare succeeded
  // Bconv2d
  lce_kernels::Bconv2dShape bconv;
  std::unique_ptr<lce_kernels::Bconv2dPlan> plan;  // indirection and, for a constant filter, the filter
  bool constantFilter = false;
  bool finiteCheckAtInvoke = false;  // int8 output with a computed multiplier or bias
  lce_kernels::Bconv2dOutput output;  // clamp and output mode (pointers are set at invoke)
  // BMaxPool2d
  lce_kernels::PoolShape pool;
  // Dequantize to int8: the scale passed to the kernel (see prepareDequantize)
  float dequantizeScale = 1.0f;
  // ADD / MUL: the fused activation (TfLiteFusedActivation), and how the second operand is read
  // (prepareElementwise): kNone same shape, kChannel one value per channel, kScalar one value.
  int activation = 0;
  enum class Broadcast { kNone, kChannel, kScalar } broadcast = Broadcast::kNone;
  int mainInput = 0;                    // the operand with the output's shape
  // Fusion (kernelInit decides, kernelPrepare plans): a fused op runs in the output pass of the
  // Bconv2d p.ops[fusedInto]; that Bconv2d lists its fused followers (p.ops indices, in order)
  // in `chain`, and its fused LceQuantize in fusedQuantize.
  int fusedInto = -1;
  std::vector<int> chain;
  int fusedQuantize = -1;
  int finalTensor = -1;                 // the chain's result (the Bconv2d's output without a chain)
  bool writeFinal = true;               // the result is read by others or leaves the partition
  const char *label = nullptr;          // the profile's name of a fused Bconv2d
  std::vector<lce_kernels::PostOp> postOps;
  std::vector<int> postOpTensor;        // per post op: the tensor whose data is its values (-1: none)
  std::vector<std::vector<float>> expanded;  // scalar constants repeated per channel
};

struct Partition {
  std::vector<Op> ops;
  std::vector<int> outputs;  // tensors visible outside the partition
  int threads = 0;           // the delegate's num_threads option; 0: the interpreter's
  bool reference = false;    // the delegate's reference option: Bconv2d by bconv2dReference
  // In-place results (planFusion): a fused chain's result that only this partition reads is
  // written over the buffer of the residual it adds, when that residual is dead afterwards;
  // storage maps such a tensor to the tensor whose buffer holds it.
  std::map<int, int> storage;
  void *data(TfLiteContext *ctx, int t) const {
    auto it = storage.find(t);
    return ctx->tensors[it == storage.end() ? t : it->second].data;
  }
};

// The delegate's options (TfLiteDelegate::data_).
struct DelegateOptions {
  int threads = 0;
  bool fuse = true;        // fused epilogues (see the top of this file)
  bool reference = false;  // Bconv2d by the reference kernel (direct loops, one thread)
};

// Problems only the whole execution plan shows, found by delegatePrepare for the nodes it claims
// and handed to kernelInit (which ReplaceNodeSubsetsWithDelegateKernels calls synchronously).
thread_local const std::map<int, std::string> *tGraphErrors = nullptr;

TfLiteIntArray *makeDims(const std::vector<int64_t> &dims) {
  auto *a = static_cast<TfLiteIntArray *>(std::malloc(sizeof(int) * (dims.size() + 1)));
  if (!a) return nullptr;
  a->size = static_cast<int>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) a->data[i] = static_cast<int>(dims[i]);
  return a;
}

// One prepare step: the node's checker plus what planning needs.
struct Step {
  TfLiteContext *ctx;
  Partition &p;
  Op &op;
  NodeChecker check;

  // Record a tensor for the invoke-time check.
  void plan(int index) {
    const TfLiteTensor &t = ctx->tensors[index];
    const std::vector<int64_t> d = dimsOf(t.dims);
    op.planned.push_back({index, d, elementsOf(d) * lce_delegate::typeSize(t.type)});
  }

  // The output's computed shape: compared with the declared one, then set.
  bool setOutput(const std::vector<int64_t> &dims) {
    const int index = op.outputs[0];
    TfLiteTensor *t = &ctx->tensors[index];
    for (int64_t d : dims)
      if (d < 1 || d > kInt32Max) return check.fail("output shape %s is out of range", dimsText(dims).c_str());
    if (elementsOf(dims) < 0 || elementsOf(dims) > (int64_t(1) << 40))
      return check.fail("output shape %s has too many elements", dimsText(dims).c_str());
    const std::vector<int64_t> &declared = op.declaredOutput;
    bool agrees = declared.size() == dims.size();
    for (size_t i = 0; agrees && i < dims.size(); ++i)
      agrees = declared[i] == -1 || declared[i] == dims[i] || (i == 0 && dims.size() > 1);
    if (!agrees)
      return check.fail("the model declares output shape %s, but the inputs and options give %s",
                        dimsText(declared).c_str(), dimsText(dims).c_str());
    if (std::find(p.outputs.begin(), p.outputs.end(), index) == p.outputs.end())
      t->allocation_type = kTfLiteDynamic;  // internal to the partition: no arena buffer is planned
    TfLiteIntArray *a = makeDims(dims);
    if (!a || ctx->ResizeTensor(ctx, t, a) != kTfLiteOk) return check.fail("cannot resize the output");
    plan(index);
    return true;
  }
};

// ---- LceQuantize: float32 or int8 [..., C] -> int32 [..., ceil(C/32)] ------------------------
bool prepareQuantize(Step &s) {
  NodeChecker &c = s.check;
  if (!c.count(s.op.inputs, 1, "inputs")) return false;
  const TfLiteTensor &in = s.ctx->tensors[s.op.inputs[0]];
  const TfLiteTensor &out = s.ctx->tensors[s.op.outputs[0]];
  if (!c.type(in, "the input", {kTfLiteFloat32, kTfLiteInt8}) ||
      !c.shape(in, "the input", -1) || !c.type(out, "the output", {kTfLiteInt32}))
    return false;
  if (in.type == kTfLiteInt8 && !c.int8Params(in, "the int8 input", false)) return false;
  std::vector<int64_t> d = dimsOf(in.dims);
  d.back() = packedWords(d.back());
  s.plan(s.op.inputs[0]);
  return s.setOutput(d);
}

// ---- LceDequantize: int32 [..., ceil(C/32)] -> float32 or int8 [..., C] ---------------------
bool prepareDequantize(Step &s) {
  NodeChecker &c = s.check;
  if (!c.count(s.op.inputs, 1, "inputs")) return false;
  const TfLiteTensor &in = s.ctx->tensors[s.op.inputs[0]];
  const TfLiteTensor &out = s.ctx->tensors[s.op.outputs[0]];
  if (!c.type(in, "the input", {kTfLiteInt32}) ||
      !c.shape(in, "the input", -1) || !c.type(out, "the output", {kTfLiteFloat32, kTfLiteInt8}))
    return false;
  if (out.type == kTfLiteInt8 && !c.int8Params(out, "the int8 output", true)) return false;
  // The channel count is only in the declared output shape (semantics.md).
  std::vector<int64_t> d = dimsOf(in.dims);
  const int64_t channels = s.op.declaredOutput.empty() ? -1 : s.op.declaredOutput.back();
  if (s.op.declaredOutput.size() != d.size() || channels < 1 || packedWords(channels) != d.back())
    return c.fail("the declared output shape %s does not unpack the input shape %s",
                  dimsText(s.op.declaredOutput).c_str(), dimsText(d).c_str());
  d.back() = channels;
  // zp +- round(1/scale), saturated: from scale 2^-8 down, round(1/scale) >= 256 saturates both
  // values for every zero point in [-128, 127], so smaller scales run as 2^-8 (1/scale would
  // overflow int32 below about 4.7e-10).
  s.op.dequantizeScale = std::max(out.params.scale, 1.0f / 256);
  s.plan(s.op.inputs[0]);
  return s.setOutput(d);
}

// ---- LceBconv2d ------------------------------------------------------------------------------
constexpr int64_t kMaxPlanEntries = int64_t(1) << 26;  // output pixels x taps of one image

bool allFinite(const float *v, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

bool prepareBconv2d(Step &s) {
  NodeChecker &c = s.check;
  Op &op = s.op;
  if (!c.count(op.inputs, 5, "inputs (input, filter, multiplier, bias, threshold)")) return false;
  if (op.inputs[0] < 0 || op.inputs[1] < 0) return c.fail("the input and the filter are required");
  const TfLiteTensor &in = s.ctx->tensors[op.inputs[0]], &filter = s.ctx->tensors[op.inputs[1]];
  const TfLiteTensor &out = s.ctx->tensors[op.outputs[0]];
  if (!c.type(in, "the input", {kTfLiteInt32}) || !c.shape(in, "the input", 4) ||
      !c.type(filter, "the filter", {kTfLiteInt32}) || !c.shape(filter, "the filter", 4) ||
      !c.type(out, "the output", {kTfLiteFloat32, kTfLiteInt8, kTfLiteInt32}))
    return false;
  const bool bitpacked = out.type == kTfLiteInt32;
  if (out.type == kTfLiteInt8 && !c.int8Params(out, "the int8 output", true)) return false;

  int64_t channelsIn, strideH, strideW, dilationH, dilationW, padding, padValues, act;
  const auto &o = op.options;
  if (!c.option(o, "channels_in", 1, kInt32Max, 0, true, channelsIn) ||
      !c.option(o, "stride_height", 1, kInt32Max, 1, false, strideH) ||
      !c.option(o, "stride_width", 1, kInt32Max, 1, false, strideW) ||
      !c.option(o, "dilation_height_factor", 1, kInt32Max, 1, false, dilationH) ||
      !c.option(o, "dilation_width_factor", 1, kInt32Max, 1, false, dilationW) ||
      !c.option(o, "padding", 0, 1, 0, true, padding) || !c.option(o, "pad_values", 0, 1, 0, false, padValues) ||
      !c.option(o, "fused_activation_function", 0, semantics::kRelu6, 0, false, act))
    return false;

  const std::vector<int64_t> id = dimsOf(in.dims), fd = dimsOf(filter.dims);
  lce_kernels::Bconv2dShape &b = op.bconv;
  b = lce_kernels::Bconv2dShape();
  b.batch = id[0], b.inHeight = id[1], b.inWidth = id[2], b.channelsIn = channelsIn;
  b.channelsOut = fd[0], b.filterHeight = fd[1], b.filterWidth = fd[2];
  if (packedWords(channelsIn) % fd[3])
    return c.fail("channels_in %lld does not split into groups of the filter depth %lld words",
                  static_cast<long long>(channelsIn), static_cast<long long>(fd[3]));
  b.groups = packedWords(channelsIn) / fd[3];
  b.strideHeight = strideH, b.strideWidth = strideW, b.dilationHeight = dilationH, b.dilationWidth = dilationW;
  b.samePadding = padding == 0;
  b.padValues = static_cast<int>(padValues);
  if (std::string err = b.finalize(); !err.empty()) return c.fail("%s", err.c_str());
  if (id[3] != b.wordsIn)
    return c.fail("input depth is %lld words, channels_in %lld needs %lld", static_cast<long long>(id[3]),
                  static_cast<long long>(channelsIn), static_cast<long long>(b.wordsIn));
  if (fd[3] != b.wordsPerGroup) return c.fail("filter depth must be ceil(channels_in / groups / 32)");

  // Per-channel inputs: multiplier and bias (float output), threshold (bitpacked output).
  static const char *kNames[] = {nullptr, nullptr, "the post-activation multiplier", "the post-activation bias",
                                 "the output threshold"};
  for (int k = 2; k < 5; ++k) {
    if (op.inputs[k] < 0) continue;
    const TfLiteTensor &t = s.ctx->tensors[op.inputs[k]];
    if (!c.type(t, kNames[k], {k == 4 ? kTfLiteInt32 : kTfLiteFloat32}) || !c.shape(t, kNames[k], -1)) return false;
    if (elementsOf(dimsOf(t.dims)) != b.channelsOut)
      return c.fail("%s has %lld values for %lld output channels", kNames[k],
                    static_cast<long long>(elementsOf(dimsOf(t.dims))), static_cast<long long>(b.channelsOut));
  }
  if (bitpacked && op.inputs[4] < 0) return c.fail("bitpacked (int32) output needs the output threshold");
  // int8 output rounds and saturates y = clamp(conv) * m + b: a NaN (from a non-finite m or b)
  // has no int8 value. Constant m and b are checked here, computed ones at every invoke.
  op.finiteCheckAtInvoke = false;
  if (out.type == kTfLiteInt8)
    for (int k = 2; k < 4; ++k) {
      if (op.inputs[k] < 0) continue;
      const TfLiteTensor &t = s.ctx->tensors[op.inputs[k]];
      if (t.allocation_type != kTfLiteMmapRo || !t.data) {
        op.finiteCheckAtInvoke = true;
        continue;
      }
      if (!allFinite(static_cast<const float *>(t.data), b.channelsOut))
        return c.fail("%s has a non-finite value, which int8 output cannot represent", kNames[k]);
    }

  int64_t pixels, entries;
  if (__builtin_mul_overflow(b.outHeight, b.outWidth, &pixels) ||
      __builtin_mul_overflow(pixels, b.filterHeight * b.filterWidth, &entries) || entries > kMaxPlanEntries)
    return c.fail("output %lldx%lld with a %lldx%lld filter is too large to plan",
                  static_cast<long long>(b.outHeight), static_cast<long long>(b.outWidth),
                  static_cast<long long>(b.filterHeight), static_cast<long long>(b.filterWidth));

  lce_kernels::Bconv2dOutput &mode = op.output;
  mode = lce_kernels::Bconv2dOutput();
  if (const semantics::Activation *a = semantics::activationByCode(act)) {  // clamp of the conv value
    if (a->hasLow) mode.clampLow = a->lo;
    if (a->hasHigh) mode.clampHigh = a->hi;
  }
  if (bitpacked) mode.type = lce_kernels::OutputType::kBitpacked;
  else if (out.type == kTfLiteInt8)
    mode.type = lce_kernels::OutputType::kInt8, mode.scale = out.params.scale, mode.zeroPoint = out.params.zero_point;

  op.constantFilter = filter.allocation_type == kTfLiteMmapRo && filter.data != nullptr;
  try {  // the plan is the size of the output image times the taps
    op.plan = std::make_unique<lce_kernels::Bconv2dPlan>(b);
    if (op.constantFilter) op.plan->setFilter(static_cast<const int32_t *>(filter.data));
  } catch (const std::exception &e) {
    op.plan.reset();
    return c.fail("cannot prepare the kernel: %s", e.what());
  }
  for (int k = 0; k < 5; ++k)
    if (op.inputs[k] >= 0) s.plan(op.inputs[k]);
  return s.setOutput({b.batch, b.outHeight, b.outWidth, bitpacked ? packedWords(b.channelsOut) : b.channelsOut});
}

// ---- LceBMaxPool2d: int32 [N, H, W, words] -> int32 [N, OH, OW, words] ----------------------
bool prepareBMaxPool2d(Step &s) {
  NodeChecker &c = s.check;
  if (!c.count(s.op.inputs, 1, "inputs")) return false;
  const TfLiteTensor &in = s.ctx->tensors[s.op.inputs[0]];
  const TfLiteTensor &out = s.ctx->tensors[s.op.outputs[0]];
  if (!c.type(in, "the input", {kTfLiteInt32}) ||
      !c.shape(in, "the input", 4) || !c.type(out, "the output", {kTfLiteInt32}))
    return false;
  int64_t fh, fw, sh, sw, padding;
  const auto &o = s.op.options;
  if (!c.option(o, "filter_height", 1, kInt32Max, 0, true, fh) ||
      !c.option(o, "filter_width", 1, kInt32Max, 0, true, fw) ||
      !c.option(o, "stride_height", 1, kInt32Max, 0, true, sh) ||
      !c.option(o, "stride_width", 1, kInt32Max, 0, true, sw) || !c.option(o, "padding", 0, 1, 0, true, padding))
    return false;
  const std::vector<int64_t> id = dimsOf(in.dims);
  lce_kernels::PoolShape &p = s.op.pool;
  p = lce_kernels::PoolShape();
  p.batch = id[0], p.inHeight = id[1], p.inWidth = id[2], p.words = id[3];
  p.filterHeight = fh, p.filterWidth = fw, p.strideHeight = sh, p.strideWidth = sw;
  p.samePadding = padding == 0;
  if (std::string err = p.finalize(); !err.empty()) return c.fail("%s", err.c_str());
  s.plan(s.op.inputs[0]);
  return s.setOutput({p.batch, p.outHeight, p.outWidth, p.words});
}

// ---- ADD / MUL (float32, with a fused activation) and RELU / RELU6 / RELU_N1_TO_1 ------------
// The shapes the delegate claims them for: both operands of one shape, or the second one (either
// operand may be it) a per-channel vector ([C] or [1, ..., 1, C]) or a single value.
bool prepareElementwise(Step &s) {
  NodeChecker &c = s.check;
  Op &op = s.op;
  const bool binary = isBinary(op.kind);
  if (!c.count(op.inputs, binary ? 2 : 1, "inputs")) return false;
  const TfLiteTensor &a = s.ctx->tensors[op.inputs[0]], &out = s.ctx->tensors[op.outputs[0]];
  if (!c.type(a, "input 0", {kTfLiteFloat32}) || !c.shape(a, "input 0", -1) ||
      !c.type(out, "the output", {kTfLiteFloat32}))
    return false;
  std::vector<int64_t> d = dimsOf(a.dims);
  op.mainInput = 0, op.broadcast = Op::Broadcast::kNone;
  if (binary) {
    const TfLiteTensor &b = s.ctx->tensors[op.inputs[1]];
    if (!c.type(b, "input 1", {kTfLiteFloat32}) || !c.shape(b, "input 1", -1)) return false;
    if (semantics::activationByCode(op.activation) == nullptr)
      return c.fail("unsupported fused activation %d", op.activation);
    const std::vector<int64_t> db = dimsOf(b.dims);
    auto perChannel = [](const std::vector<int64_t> &full, const std::vector<int64_t> &v) {
      if (v.empty() || full.empty() || v.size() > full.size() || v.back() != full.back()) return false;
      for (size_t k = 0; k + 1 < v.size(); ++k)
        if (v[k] != 1) return false;
      return true;
    };
    if (d == db) {
    } else if (elementsOf(db) == 1 || perChannel(d, db)) {
      op.broadcast = elementsOf(db) == 1 ? Op::Broadcast::kScalar : Op::Broadcast::kChannel;
    } else if (elementsOf(d) == 1 || perChannel(db, d)) {
      op.broadcast = elementsOf(d) == 1 ? Op::Broadcast::kScalar : Op::Broadcast::kChannel;
      op.mainInput = 1, d = db;
    } else {
      return c.fail("operand shapes %s and %s: only the same shape, a per-channel vector or a scalar are run here",
                    dimsText(d).c_str(), dimsText(db).c_str());
    }
    s.plan(op.inputs[1]);
  }
  if (d.empty()) return c.fail("the operands must have at least one dimension");
  s.plan(op.inputs[0]);
  return s.setOutput(d);
}

// Checks common to every op kind (one output it may write, inputs that exist), then the op's
// own prepare step.
bool prepareOp(TfLiteContext *ctx, Partition &p, Op &op) {
  Step s{ctx, p, op, NodeChecker(ctx, opName(op.kind), op.nodeIndex)};
  NodeChecker &c = s.check;
  op.planned.clear();
  op.prepared = false;
  if (!op.initError.empty()) return c.fail("%s", op.initError.c_str());
  if (!c.count(op.outputs, 1, "output")) return false;
  TfLiteTensor *out = c.tensor(op.outputs[0], "the output");
  if (!out || !c.writable(op.outputs[0], *out, op.inputs)) return false;
  for (size_t k = 0; k < op.inputs.size(); ++k)
    if (op.inputs[k] != -1 || op.kind != OpKind::kBconv2d || k < 2) {
      const std::string what = "input " + std::to_string(k);
      if (!c.tensor(op.inputs[k], what.c_str())) return false;
    }
  switch (op.kind) {
    case OpKind::kQuantize: op.prepared = prepareQuantize(s); break;
    case OpKind::kDequantize: op.prepared = prepareDequantize(s); break;
    case OpKind::kBconv2d: op.prepared = prepareBconv2d(s); break;
    case OpKind::kBMaxPool2d: op.prepared = prepareBMaxPool2d(s); break;
    case OpKind::kAdd: case OpKind::kMul: case OpKind::kRelu: case OpKind::kRelu6: case OpKind::kReluN1To1:
      op.prepared = prepareElementwise(s);
      break;
  }
  return op.prepared;
}

// An elementwise op on its own (not fused): the float32 operation of PostOp, then the clamp of
// the activation, with max/min as output_transform.h does them.
void runElementwise(TfLiteContext *ctx, const Partition &p, const Op &op) {
  const TfLiteTensor &out = ctx->tensors[op.outputs[0]];
  float *y = static_cast<float *>(p.data(ctx, op.outputs[0]));
  const int64_t n = elementsOf(dimsOf(out.dims));
  float lo = -INFINITY, hi = INFINITY;
  bool clamp = false;
  if (op.kind == OpKind::kRelu || op.kind == OpKind::kRelu6 || op.kind == OpKind::kReluN1To1)
    clamp = activationClamp(activationOf(op.kind), lo, hi);
  else clamp = activationClamp(op.activation, lo, hi);
  const float *a = static_cast<const float *>(p.data(ctx, op.inputs[op.mainInput]));
  if (isBinary(op.kind)) {
    const float *b = static_cast<const float *>(p.data(ctx, op.inputs[1 - op.mainInput]));
    const int64_t channels = dimsOf(out.dims).back();
    const bool mul = op.kind == OpKind::kMul;
    for (int64_t i = 0; i < n; ++i) {
      const float v = op.broadcast == Op::Broadcast::kNone ? b[i] : op.broadcast == Op::Broadcast::kChannel ? b[i % channels] : b[0];
      y[i] = mul ? a[i] * v : a[i] + v;
    }
  } else if (y != a) {
    std::memcpy(y, a, sizeof(float) * n);
  }
  if (clamp)
    for (int64_t i = 0; i < n; ++i) {
      float v = y[i] > lo ? y[i] : lo;
      y[i] = v < hi ? v : hi;
    }
}

// Every tensor still has the shape and a buffer of the size it was planned with.
bool stillAsPlanned(TfLiteContext *ctx, const Op &op) {
  if (!op.prepared) return NodeChecker(ctx, opName(op.kind), op.nodeIndex).fail("invoked without a successful prepare");
  for (const PlannedTensor &t : op.planned) {
    const TfLiteTensor &x = ctx->tensors[t.index];
    if (!x.data || dimsOf(x.dims) != t.dims || static_cast<int64_t>(x.bytes) < t.bytes) {
      NodeChecker(ctx, opName(op.kind), op.nodeIndex)
          .fail("tensor %d changed after prepare (shape %s, planned %s) or has no buffer", t.index,
                dimsText(dimsOf(x.dims)).c_str(), dimsText(t.dims).c_str());
      return false;
    }
  }
  return true;
}

TfLiteStatus invokeOp(TfLiteContext *ctx, const Partition &p, Op &op) {
  if (!stillAsPlanned(ctx, op)) return kTfLiteError;
  const TfLiteTensor *in = &ctx->tensors[op.inputs[0]];
  TfLiteTensor *out = &ctx->tensors[op.outputs[0]];
  const void *inData = p.data(ctx, op.inputs[0]);
  void *outData = p.data(ctx, op.outputs[0]);
  const int threads = p.threads > 0 ? p.threads : std::max(1, ctx->recommended_num_threads);
  switch (op.kind) {
    case OpKind::kQuantize: {
      const auto id = dimsOf(in->dims);
      const int64_t c = id.back(), rows = elementsOf(id) / c;
      if (in->type == kTfLiteFloat32)
        lce_kernels::bitpackFloat(static_cast<const float *>(inData), rows, c, static_cast<int32_t *>(outData),
                                  threads);
      else
        lce_kernels::bitpackInt8(static_cast<const int8_t *>(inData), rows, c,
                                 static_cast<int8_t>(in->params.zero_point), static_cast<int32_t *>(outData),
                                 threads);
      return kTfLiteOk;
    }
    case OpKind::kDequantize: {
      const auto od = dimsOf(out->dims);
      const int64_t c = od.back(), rows = elementsOf(od) / c;
      if (out->type == kTfLiteFloat32)
        lce_kernels::dequantizeFloat(static_cast<const int32_t *>(inData), rows, c, static_cast<float *>(outData),
                                     threads);
      else
        lce_kernels::dequantizeInt8(static_cast<const int32_t *>(inData), rows, c, op.dequantizeScale,
                                    out->params.zero_point, static_cast<int8_t *>(outData), threads);
      return kTfLiteOk;
    }
    case OpKind::kBconv2d: {
      lce_kernels::Bconv2dOutput o = op.output;
      auto data = [&](int k) -> const void * { return op.inputs[k] >= 0 ? p.data(ctx, op.inputs[k]) : nullptr; };
      o.multiplier = static_cast<const float *>(data(2));
      o.bias = static_cast<const float *>(data(3));
      o.threshold = static_cast<const int32_t *>(data(4));
      if (!op.plan) return NodeChecker(ctx, opName(op.kind), op.nodeIndex).fail("not prepared"), kTfLiteError;
      if (op.finiteCheckAtInvoke && !((!o.multiplier || allFinite(o.multiplier, op.bconv.channelsOut)) &&
                                      (!o.bias || allFinite(o.bias, op.bconv.channelsOut))))
        return NodeChecker(ctx, opName(op.kind), op.nodeIndex)
                   .fail("the multiplier or bias has a non-finite value, which int8 output cannot represent"),
               kTfLiteError;
      void *result = outData;
      lce_kernels::PostOp postOps[16];
      if (op.finalTensor >= 0) {  // fused epilogue: post ops, the chain's result, the Quantize bits
        for (size_t k = 0; k < op.postOps.size(); ++k) {
          postOps[k] = op.postOps[k];
          if (op.postOpTensor[k] >= 0) postOps[k].values = static_cast<const float *>(p.data(ctx, op.postOpTensor[k]));
        }
        o.postOps = postOps, o.postOpCount = static_cast<int>(op.postOps.size());
        o.writeFloat = op.writeFinal;
        result = op.writeFinal ? p.data(ctx, op.finalTensor) : nullptr;
        if (op.fusedQuantize >= 0)
          o.bits = static_cast<int32_t *>(p.data(ctx, p.ops[op.fusedQuantize].outputs[0]));
      }
      try {
        if (p.reference)  // the oracle: same bits, direct loops (lce_convert.Interpreter(use_reference_bconv=True))
          lce_kernels::bconv2dReference(op.bconv, static_cast<const int32_t *>(inData),
                                        static_cast<const int32_t *>(data(1)), o, result);
        else {
          if (!op.constantFilter) op.plan->setFilter(static_cast<const int32_t *>(data(1)));
          op.plan->run(static_cast<const int32_t *>(inData), o, result, threads);
        }
      } catch (const std::exception &e) {
        return NodeChecker(ctx, opName(op.kind), op.nodeIndex).fail("%s", e.what()), kTfLiteError;
      }
      return kTfLiteOk;
    }
    case OpKind::kBMaxPool2d:
      lce_kernels::bmaxpool2d(op.pool, static_cast<const int32_t *>(inData), static_cast<int32_t *>(outData));
      return kTfLiteOk;
    case OpKind::kAdd: case OpKind::kMul: case OpKind::kRelu: case OpKind::kRelu6: case OpKind::kReluN1To1:
      runElementwise(ctx, p, op);
      return kTfLiteOk;
  }
  return kTfLiteError;
}

// Whether elementwise op `f` (node inputs `inputs`, output `output`) can run in the output pass
// of a Bconv2d whose result so far is tensor `cur`: float32 throughout, the output of cur's
// shape, and the other operand of ADD one of cur's shape (a residual), or for ADD and MUL a
// per-channel vector ([C] or [1, ..., 1, C]) or a constant scalar. Used when claiming nodes and
// when fusing them, with the shapes the model declares.
bool fusableFollower(TfLiteContext *ctx, OpKind kind, const std::vector<int> &inputs, const std::vector<int> &outputs,
                     int cur) {
  auto valid = [&](int t) { return t >= 0 && static_cast<size_t>(t) < ctx->tensors_size; };
  if (outputs.size() != 1 || !valid(outputs[0]) || !valid(cur)) return false;
  const TfLiteTensor &c = ctx->tensors[cur], &out = ctx->tensors[outputs[0]];
  const std::vector<int64_t> shape = dimsOf(c.dims);
  if (c.type != kTfLiteFloat32 || out.type != kTfLiteFloat32 || shape.empty() || dimsOf(out.dims) != shape) return false;
  if (!isBinary(kind)) return inputs.size() == 1 && inputs[0] == cur;
  if (inputs.size() != 2 || (inputs[0] != cur && inputs[1] != cur)) return false;
  const int other = inputs[0] == cur ? inputs[1] : inputs[0];
  if (!valid(other) || other == cur || ctx->tensors[other].type != kTfLiteFloat32) return false;
  const TfLiteTensor &t = ctx->tensors[other];
  const std::vector<int64_t> d = dimsOf(t.dims);
  if (d == shape) return kind == OpKind::kAdd;
  if (elementsOf(d) == 1) return t.allocation_type == kTfLiteMmapRo && t.data != nullptr;
  if (d.empty() || d.size() > shape.size() || d.back() != shape.back()) return false;
  for (size_t k = 0; k + 1 < d.size(); ++k)
    if (d[k] != 1) return false;
  return true;
}

// Which claimed ops run in a Bconv2d's output pass (see the top of this file). From each Bconv2d
// with float output, the chain follows its result while exactly one op of the partition reads
// it, that op is a fusable elementwise op after the chain so far, its other operand is ready
// when the Bconv2d runs (a partition input, or produced by an earlier op) and the result does
// not leave the partition. Then an LceQuantize of the chain's result (float input) is fused too.
void planFusion(TfLiteContext *ctx, Partition &p) {
  const int n = static_cast<int>(p.ops.size());
  auto readers = [&](int tensor) {
    std::vector<int> r;
    for (int j = 0; j < n; ++j)
      if (std::count(p.ops[j].inputs.begin(), p.ops[j].inputs.end(), tensor)) r.push_back(j);
    return r;
  };
  auto producer = [&](int tensor) {
    for (int j = 0; j < n; ++j)
      if (std::count(p.ops[j].outputs.begin(), p.ops[j].outputs.end(), tensor)) return j;
    return -1;
  };
  auto leaves = [&](int tensor) { return std::count(p.outputs.begin(), p.outputs.end(), tensor) > 0; };
  auto validTensor = [&](int t) { return t >= 0 && static_cast<size_t>(t) < ctx->tensors_size; };
  for (int i = 0; i < n; ++i) {
    Op &b = p.ops[i];
    if (b.kind != OpKind::kBconv2d || b.fusedInto >= 0 || b.outputs.size() != 1 || !validTensor(b.outputs[0]) ||
        ctx->tensors[b.outputs[0]].type != kTfLiteFloat32 || !b.initError.empty())
      continue;
    int cur = b.outputs[0], last = i;
    while (!leaves(cur)) {
      const std::vector<int> r = readers(cur);
      if (r.size() != 1 || r[0] <= last) break;
      Op &f = p.ops[r[0]];
      if (!isElementwise(f.kind) || f.fusedInto >= 0 || !f.initError.empty() ||
          !fusableFollower(ctx, f.kind, f.inputs, f.outputs, cur))
        break;
      if (isBinary(f.kind) && producer(f.inputs[0] == cur ? f.inputs[1] : f.inputs[0]) >= i)
        break;  // the other operand is not ready when the Bconv2d runs
      f.fusedInto = i;
      b.chain.push_back(r[0]);
      cur = f.outputs[0], last = r[0];
    }
    int quantize = -1;
    std::vector<int> r = readers(cur);
    for (int j : r)
      if (j > i && p.ops[j].kind == OpKind::kQuantize && p.ops[j].fusedInto < 0 && p.ops[j].inputs.size() == 1 &&
          p.ops[j].outputs.size() == 1 && validTensor(p.ops[j].outputs[0]) && p.ops[j].initError.empty() &&
          ctx->tensors[cur].type == kTfLiteFloat32) {
        quantize = j;
        break;
      }
    if (b.chain.empty() && quantize < 0) continue;
    b.finalTensor = cur;
    b.fusedQuantize = quantize;
    if (quantize >= 0) p.ops[quantize].fusedInto = i;
    b.writeFinal = leaves(cur) || static_cast<int>(r.size()) > (quantize >= 0 ? 1 : 0);
    std::string label = opName(b.kind);
    for (int j : b.chain) label += std::string("+") + opName(p.ops[j].kind);
    if (quantize >= 0) label += "+LceQuantize";
    b.label = internName(label);
    // In place (QuickNet's residual stream: the sum of block k is written over block k-1's):
    // when the chain adds a residual R that this partition made earlier and that nothing reads
    // after this Bconv2d runs, and the result stays inside the partition, the result is written
    // over R's buffer (one working buffer instead of two: L2 instead of L3 for 56x56x64).
    auto doneBefore = [&](int tensor, int except) {  // every reader has run before op i
      for (int j = 0; j < n; ++j) {
        const Op &o = p.ops[j];
        if (j == except || !std::count(o.inputs.begin(), o.inputs.end(), tensor)) continue;
        const int at = o.fusedInto >= 0 ? o.fusedInto : j;
        if (at >= i) return false;
      }
      return true;
    };
    if (!leaves(cur) && b.writeFinal) {
      int in = b.outputs[0];
      for (int j : b.chain) {
        const Op &f = p.ops[j];
        const int other = f.inputs[0] == in ? (f.inputs.size() > 1 ? f.inputs[1] : -1) : f.inputs[0];
        in = f.outputs[0];
        if (f.kind != OpKind::kAdd || other < 0 || dimsOf(ctx->tensors[other].dims) != dimsOf(ctx->tensors[cur].dims))
          continue;
        auto root = p.storage.find(other);
        const int buffer = root == p.storage.end() ? other : root->second;
        const int made = producer(other);
        bool dead = made >= 0 && made < i && !leaves(other) && !leaves(buffer);
        for (const auto &alias : p.storage)  // every tensor living in that buffer
          if (alias.second == buffer) dead = dead && !leaves(alias.first) && doneBefore(alias.first, j);
        if (dead && doneBefore(other, j) && doneBefore(buffer, j)) {
          p.storage[cur] = buffer;
          b.label = internName(std::string(b.label) + " (in place)");
        }
        break;
      }
    }
  }
}

// The post ops of a fused Bconv2d, from its prepared followers (kernelPrepare, after every op of
// the partition is prepared): their operands, activations and the tensors invoke reads.
bool planPostOps(TfLiteContext *ctx, Partition &p, Op &b) {
  b.postOps.clear(), b.postOpTensor.clear(), b.expanded.clear();
  const int64_t channels = b.bconv.channelsOut;
  auto clampOp = [&](float lo, float hi) {
    lce_kernels::PostOp op;
    op.kind = lce_kernels::PostOp::Kind::kClamp, op.lo = lo, op.hi = hi;
    b.postOps.push_back(op), b.postOpTensor.push_back(-1);
  };
  int cur = b.outputs[0];  // the chain's result so far
  for (int j : b.chain) {
    const Op &f = p.ops[j];
    float lo, hi;
    const int in = cur;
    cur = f.outputs[0];
    if (isBinary(f.kind)) {
      const int other = f.inputs[0] == in ? f.inputs[1] : f.inputs[0];
      const TfLiteTensor &t = ctx->tensors[other];
      lce_kernels::PostOp op;
      const bool mul = f.kind == OpKind::kMul;
      if (f.broadcast == Op::Broadcast::kNone) {
        if (mul) return NodeChecker(ctx, "MUL", f.nodeIndex).fail("a fused MUL needs a per-channel or scalar operand");
        op.kind = lce_kernels::PostOp::Kind::kAddTensor;
        b.postOps.push_back(op), b.postOpTensor.push_back(other);
      } else {
        // The fused chain's result is the Bconv2d's shape, so the main operand is the chain.
        op.kind = mul ? lce_kernels::PostOp::Kind::kMul : lce_kernels::PostOp::Kind::kAdd;
        if (f.broadcast == Op::Broadcast::kScalar) {
          if (t.allocation_type != kTfLiteMmapRo || !t.data)
            return NodeChecker(ctx, opName(f.kind), f.nodeIndex).fail("a fused scalar operand must be a constant");
          b.expanded.emplace_back(channels, *static_cast<const float *>(t.data));
          op.values = b.expanded.back().data();
          b.postOps.push_back(op), b.postOpTensor.push_back(-1);
        } else {
          b.postOps.push_back(op), b.postOpTensor.push_back(other);
        }
      }
      if (activationClamp(f.activation, lo, hi)) clampOp(lo, hi);
    } else {
      activationClamp(activationOf(f.kind), lo, hi);
      clampOp(lo, hi);
    }
    if (b.postOps.size() > 16) return NodeChecker(ctx, "LceBconv2d", b.nodeIndex).fail("too many fused ops");
  }
  // The chain runs on the Bconv2d's output shape: every follower must keep it.
  const std::vector<int64_t> shape = dimsOf(ctx->tensors[b.outputs[0]].dims);
  for (int j : b.chain)
    if (dimsOf(ctx->tensors[p.ops[j].outputs[0]].dims) != shape)
      return NodeChecker(ctx, opName(p.ops[j].kind), p.ops[j].nodeIndex).fail("a fused op must keep the shape");
  return true;
}

void *kernelInit(TfLiteContext *ctx, const char *buffer, size_t) {
  const auto *params = reinterpret_cast<const TfLiteDelegateParams *>(buffer);
  auto p = std::make_unique<Partition>();
  if (params->delegate && params->delegate->data_) {
    p->threads = static_cast<const DelegateOptions *>(params->delegate->data_)->threads;
    p->reference = static_cast<const DelegateOptions *>(params->delegate->data_)->reference;
  }
  for (int i = 0; i < params->output_tensors->size; ++i) p->outputs.push_back(params->output_tensors->data[i]);
  for (int i = 0; i < params->nodes_to_replace->size; ++i) {
    const int index = params->nodes_to_replace->data[i];
    TfLiteNode *node;
    TfLiteRegistration *reg;
    if (ctx->GetNodeAndRegistration(ctx, index, &node, &reg) != kTfLiteOk) return nullptr;
    Op op;
    op.nodeIndex = index;
    if (!builtinKindOf(reg->builtin_code, op.kind)) opKindOf(reg->custom_name, op.kind);
    if (isBinary(op.kind) && node->builtin_data)  // TfLiteAddParams and TfLiteMulParams start alike
      op.activation = static_cast<const TfLiteMulParams *>(node->builtin_data)->activation;
    if (node->inputs) op.inputs.assign(node->inputs->data, node->inputs->data + node->inputs->size);
    if (node->outputs) op.outputs.assign(node->outputs->data, node->outputs->data + node->outputs->size);
    std::string error;
    if (node->custom_initial_data_size < 0 ||
        !lce_delegate::parseIntMap(static_cast<const uint8_t *>(node->custom_initial_data),
                                   node->custom_initial_data ? node->custom_initial_data_size : 0, op.options, error))
      op.initError = "malformed custom options: " + (error.empty() ? std::string("negative size") : error);
    if (tGraphErrors) {
      auto it = tGraphErrors->find(index);
      if (it != tGraphErrors->end() && op.initError.empty()) op.initError = it->second;
    }
    // The declared output shape, as the model has it (before any prepare resizes it).
    if (op.outputs.size() == 1 && op.outputs[0] >= 0 && static_cast<size_t>(op.outputs[0]) < ctx->tensors_size) {
      const TfLiteTensor &t = ctx->tensors[op.outputs[0]];
      op.declaredOutput = dimsOf(t.dims);
      const std::vector<int64_t> signature = dimsOf(t.dims_signature);
      if (signature.size() == op.declaredOutput.size())
        for (size_t k = 0; k < signature.size(); ++k)
          if (signature[k] == -1) op.declaredOutput[k] = -1;
    }
    p->ops.push_back(std::move(op));
  }
  if (!params->delegate || !params->delegate->data_ || static_cast<const DelegateOptions *>(params->delegate->data_)->fuse)
    planFusion(ctx, *p);
  return p.release();
}

void kernelFree(TfLiteContext *, void *buffer) { delete static_cast<Partition *>(buffer); }

TfLiteStatus kernelPrepare(TfLiteContext *ctx, TfLiteNode *node) {
  auto *p = static_cast<Partition *>(node->user_data);
  if (!p) {
    ctx->ReportError(ctx, "lce_convert delegate: initialisation failed\n");
    return kTfLiteError;
  }
  for (Op &op : p->ops)
    if (!prepareOp(ctx, *p, op)) return kTfLiteError;
  for (Op &op : p->ops)
    if (op.finalTensor >= 0 && !planPostOps(ctx, *p, op)) return kTfLiteError;
  return kTfLiteOk;
}

// The pool's workers are woken when a partition starts and rest when it ends: between
// partitions TFLite's own ops run on its threads (lce_kernels::ThreadPool::rest).
struct PoolWindow {
  int threads;
  explicit PoolWindow(int threads) : threads(threads) {
    if (threads > 1) lce_kernels::ThreadPool::instance().wake(threads);
  }
  ~PoolWindow() {
    if (threads > 1) lce_kernels::ThreadPool::instance().rest();
  }
};

TfLiteStatus kernelInvoke(TfLiteContext *ctx, TfLiteNode *node) {
  auto *p = static_cast<Partition *>(node->user_data);
  Profile &profile = Profile::instance();
  const PoolWindow window(p->threads > 0 ? p->threads : std::max(1, ctx->recommended_num_threads));
  for (Op &op : p->ops) {
    if (op.fusedInto >= 0) continue;  // runs in its Bconv2d's output pass
    for (int j : op.chain)
      if (!stillAsPlanned(ctx, p->ops[j])) return kTfLiteError;
    if (op.fusedQuantize >= 0 && !stillAsPlanned(ctx, p->ops[op.fusedQuantize])) return kTfLiteError;
    if (!profile.enabled) {
      if (invokeOp(ctx, *p, op) != kTfLiteOk) return kTfLiteError;
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    if (invokeOp(ctx, *p, op) != kTfLiteOk) return kTfLiteError;
    const char *name = op.label ? op.label : opName(op.kind);
    if (p->reference && op.kind == OpKind::kBconv2d)  // the profile says which kernel ran
      name = internName(std::string(name) + " (reference kernel)");
    const lce_kernels::Bconv2dShape &b = op.bconv;
    const int64_t macs = op.kind == OpKind::kBconv2d ? b.batch * b.outHeight * b.outWidth * b.channelsOut * b.K : 0;
    profile.add(p, op.nodeIndex, name,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), macs);
  }
  return kTfLiteOk;
}

// Graph-level checks of the claimed nodes: an output must have no other writer, and no node may
// read it before this one runs (that includes a graph input that an earlier node reads).
// A node that reads a tensor which it or a later node writes: the plan is not in dependency order,
// which TFLite's partitioning (ReplaceNodeSubsetsWithDelegateKernels, in TF 2.21) does not survive.
bool outOfOrder(TfLiteContext *ctx, const TfLiteIntArray *plan, std::string &message) {
  std::map<int, int> writer;  // tensor -> last plan position that writes it
  std::vector<TfLiteNode *> nodes(plan->size, nullptr);
  for (int i = 0; i < plan->size; ++i) {
    TfLiteRegistration *reg;
    if (ctx->GetNodeAndRegistration(ctx, plan->data[i], &nodes[i], &reg) != kTfLiteOk) nodes[i] = nullptr;
    if (nodes[i] && nodes[i]->outputs)
      for (int k = 0; k < nodes[i]->outputs->size; ++k) writer[nodes[i]->outputs->data[k]] = i;
  }
  for (int i = 0; i < plan->size; ++i) {
    if (!nodes[i] || !nodes[i]->inputs) continue;
    for (int k = 0; k < nodes[i]->inputs->size; ++k) {
      auto w = writer.find(nodes[i]->inputs->data[k]);
      if (w != writer.end() && w->second >= i) {
        message = "lce_convert delegate: node " + std::to_string(plan->data[i]) + " reads tensor " +
                  std::to_string(w->first) + ", which node " + std::to_string(plan->data[w->second]) +
                  " writes at or after it: the operators are not in dependency order";
        return true;
      }
    }
  }
  return false;
}

std::map<int, std::string> graphErrors(TfLiteContext *ctx, const TfLiteIntArray *plan, const std::vector<int> &claimed) {
  std::map<int, int> writers, firstReader;  // tensor -> count / plan position
  std::map<int, int> position;              // node -> plan position
  for (int i = 0; i < plan->size; ++i) {
    TfLiteNode *node;
    TfLiteRegistration *reg;
    if (ctx->GetNodeAndRegistration(ctx, plan->data[i], &node, &reg) != kTfLiteOk) continue;
    position[plan->data[i]] = i;
    if (node->outputs)
      for (int k = 0; k < node->outputs->size; ++k) ++writers[node->outputs->data[k]];
    if (node->inputs)
      for (int k = 0; k < node->inputs->size; ++k) firstReader.emplace(node->inputs->data[k], i);
  }
  std::map<int, std::string> errors;
  for (int index : claimed) {
    TfLiteNode *node;
    TfLiteRegistration *reg;
    if (ctx->GetNodeAndRegistration(ctx, index, &node, &reg) != kTfLiteOk || !node->outputs) continue;
    for (int k = 0; k < node->outputs->size; ++k) {
      const int t = node->outputs->data[k];
      if (t < 0) continue;
      auto reader = firstReader.find(t);
      if (writers[t] > 1)
        errors[index] = "output tensor " + std::to_string(t) + " is also written by another node";
      else if (reader != firstReader.end() && reader->second <= position[index])
        errors[index] = "output tensor " + std::to_string(t) + " is read by node " +
                        std::to_string(plan->data[reader->second]) + " before this node writes it";
    }
  }
  return errors;
}

TfLiteStatus delegatePrepare(TfLiteContext *ctx, TfLiteDelegate *delegate) {
  TfLiteIntArray *plan;
  if (ctx->GetExecutionPlan(ctx, &plan) != kTfLiteOk) return kTfLiteError;
  std::vector<int> claimed;
  std::vector<TfLiteNode *> planNodes(plan->size);
  std::vector<TfLiteRegistration *> regs(plan->size);
  for (int i = 0; i < plan->size; ++i) {
    if (ctx->GetNodeAndRegistration(ctx, plan->data[i], &planNodes[i], &regs[i]) != kTfLiteOk) return kTfLiteError;
    OpKind kind;
    if (regs[i]->builtin_code == kTfLiteBuiltinCustom && opKindOf(regs[i]->custom_name, kind))
      claimed.push_back(plan->data[i]);
  }
  // Fused epilogues: the fusable chain after each Bconv2d with float output, while its result
  // has exactly one reader (planFusion decides what is fused within each partition).
  const auto *options = static_cast<const DelegateOptions *>(delegate->data_);
  if (!options || options->fuse) {
    auto list = [](const TfLiteIntArray *a) {
      return a ? std::vector<int>(a->data, a->data + a->size) : std::vector<int>();
    };
    std::map<int, std::vector<int>> readers;  // tensor -> plan positions
    for (int i = 0; i < plan->size; ++i)
      for (int t : list(planNodes[i]->inputs)) readers[t].push_back(i);
    for (int i = 0; i < plan->size; ++i) {
      OpKind kind;
      if (regs[i]->builtin_code != kTfLiteBuiltinCustom || !opKindOf(regs[i]->custom_name, kind) ||
          kind != OpKind::kBconv2d || !planNodes[i]->outputs || planNodes[i]->outputs->size != 1)
        continue;
      int cur = planNodes[i]->outputs->data[0];
      for (int steps = 0; steps < 16; ++steps) {
        const auto r = readers.find(cur);
        if (r == readers.end() || r->second.size() != 1) break;
        const int j = r->second[0];
        if (j <= i || !builtinKindOf(regs[j]->builtin_code, kind) ||
            !fusableFollower(ctx, kind, list(planNodes[j]->inputs), list(planNodes[j]->outputs), cur))
          break;
        if (isBinary(kind) && (!planNodes[j]->builtin_data ||
                               !semantics::activationByCode(static_cast<const TfLiteMulParams *>(planNodes[j]->builtin_data)->activation)))
          break;
        if (std::find(claimed.begin(), claimed.end(), plan->data[j]) == claimed.end()) claimed.push_back(plan->data[j]);
        cur = planNodes[j]->outputs->data[0];
      }
    }
  }
  if (claimed.empty()) return kTfLiteOk;
  std::string order;
  if (outOfOrder(ctx, plan, order)) {
    ctx->ReportError(ctx, "%s\n", order.c_str());
    return kTfLiteError;
  }
  const std::map<int, std::string> errors = graphErrors(ctx, plan, claimed);
  TfLiteRegistration kernel{};
  kernel.init = kernelInit;
  kernel.free = kernelFree;
  kernel.prepare = kernelPrepare;
  kernel.invoke = kernelInvoke;
  kernel.builtin_code = kTfLiteBuiltinDelegate;
  kernel.custom_name = "LceConvertDelegate";
  kernel.version = 1;
  TfLiteIntArray *nodes = makeDims(std::vector<int64_t>(claimed.begin(), claimed.end()));
  if (!nodes) return kTfLiteError;
  tGraphErrors = &errors;
  const TfLiteStatus status = ctx->ReplaceNodeSubsetsWithDelegateKernels(ctx, kernel, nodes, delegate);
  tGraphErrors = nullptr;
  std::free(nodes);
  return status;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) TfLiteDelegate *tflite_plugin_create_delegate(
    const char *const *keys, const char *const *values, size_t count, void (*reportError)(const char *)) {
  DelegateOptions options;
  for (size_t i = 0; i < count; ++i) {
    if (std::strcmp(keys[i], "num_threads") == 0) {
      // Threads of the Lce ops, independent of the interpreter's (which TFLite's own ops use).
      char *end = nullptr;
      const long v = values[i] ? std::strtol(values[i], &end, 10) : 0;
      if (!values[i] || end == values[i] || *end != '\0' || v < 1 || v > 256) {
        if (reportError)
          reportError((std::string("lce_convert delegate: num_threads '") + (values[i] ? values[i] : "") +
                       "' is not an integer in 1..256").c_str());
        return nullptr;
      }
      options.threads = static_cast<int>(v);
    } else if (std::strcmp(keys[i], "fuse") == 0) {
      // Fused epilogues (the top of this file): "1" (the default) or "0".
      if (!values[i] || (std::strcmp(values[i], "0") && std::strcmp(values[i], "1"))) {
        if (reportError)
          reportError((std::string("lce_convert delegate: fuse '") + (values[i] ? values[i] : "") +
                       "' is not 0 or 1").c_str());
        return nullptr;
      }
      options.fuse = values[i][0] == '1';
    } else if (std::strcmp(keys[i], "reference") == 0) {
      // Bconv2d by the reference kernel: "0" (the default) or "1".
      if (!values[i] || (std::strcmp(values[i], "0") && std::strcmp(values[i], "1"))) {
        if (reportError)
          reportError((std::string("lce_convert delegate: reference '") + (values[i] ? values[i] : "") +
                       "' is not 0 or 1").c_str());
        return nullptr;
      }
      options.reference = values[i][0] == '1';
    } else if (std::strcmp(keys[i], "isa") == 0) {
      bool found = false;
      for (auto isa : lce_kernels::supportedIsas())
        if (values[i] && !std::strcmp(values[i], lce_kernels::isaName(isa))) lce_kernels::setIsa(isa), found = true;
      if (!found) {
        if (reportError)
          reportError((std::string("lce_convert delegate: isa '") + (values[i] ? values[i] : "") +
                       "' is not an ISA path of this CPU (it has " + lce_kernels::isaPathsDescription(true) + ")")
                          .c_str());
        return nullptr;
      }
    } else if (reportError) {
      reportError((std::string("lce_convert delegate: unknown option ") + keys[i]).c_str());
      return nullptr;
    }
  }
  if (const char *env = std::getenv("LCE_DELEGATE_PROFILE"))
    if (!std::strcmp(env, "1")) Profile::instance().enabled = true;
  auto *d = static_cast<TfLiteDelegate *>(std::calloc(1, sizeof(TfLiteDelegate)));
  if (!d) return nullptr;
  d->data_ = new DelegateOptions(options);
  d->Prepare = delegatePrepare;
  d->flags = kTfLiteDelegateFlagsAllowDynamicTensors;
  return d;
}

__attribute__((visibility("default"))) void tflite_plugin_destroy_delegate(TfLiteDelegate *d) {
  if (!d) return;
  delete static_cast<DelegateOptions *>(d->data_);
  std::free(d);
}

// Profile access (ctypes; see lce_convert/benchmark.py). enable: 1 on, 0 off; reset clears.
// The kernel path the delegate's Bconv2d runs now ("avx512", "neon", ...; LCE_KERNELS_ISA or the
// isa option may have chosen it): lce-benchmark prints it.
__attribute__((visibility("default"))) const char *lce_delegate_kernel_isa() {
  return lce_kernels::isaName(lce_kernels::activeIsa());
}

__attribute__((visibility("default"))) void lce_delegate_profile_enable(int on) { Profile::instance().enabled = on != 0; }

__attribute__((visibility("default"))) void lce_delegate_profile_reset() {
  Profile &profile = Profile::instance();
  std::lock_guard<std::mutex> lock(profile.mutex);
  profile.entries.clear();
}

// Number of entries; entry `i` (0 <= i < count) is written to the non-null pointers. Returns -1
// for an index out of range.
__attribute__((visibility("default"))) int lce_delegate_profile_entry(int i, int *node, const char **op,
                                                                      double *seconds, int64_t *calls) {
  Profile &profile = Profile::instance();
  std::lock_guard<std::mutex> lock(profile.mutex);
  const int count = static_cast<int>(profile.entries.size());
  if (i < 0) return count;
  if (i >= count) return -1;
  const ProfileEntry &e = profile.entries[i];
  if (node) *node = e.node;
  if (op) *op = e.op;
  if (seconds) *seconds = e.seconds;
  if (calls) *calls = e.calls;
  return count;
}

// Entry i's binary MACs per call (a Bconv2d's output elements times its K; 0 for the other ops),
// or -1 for an index out of range.
__attribute__((visibility("default"))) int64_t lce_delegate_profile_entry_macs(int i) {
  Profile &profile = Profile::instance();
  std::lock_guard<std::mutex> lock(profile.mutex);
  if (i < 0 || i >= static_cast<int>(profile.entries.size())) return -1;
  return profile.entries[i].binaryMacs;
}

// This core's peak for the kernel path the delegate's Bconv2d runs now (lce_kernels::pathPeak:
// the vector loop for avx512 and NEON, the byte-LUT loop for avx2), binary MAC/s: the median of
// `rounds` timings (about 0.2 ms each) in the calling thread; *name (if not null) the loop's
// name. 0 where the path has no peak loop (portable).
__attribute__((visibility("default"))) double lce_delegate_kernel_peak(int rounds, const char **name) {
  std::vector<double> rates;
  const lce_kernels::Isa isa = lce_kernels::activeIsa();
  for (int r = 0; r < std::max(1, rounds); ++r)
    rates.push_back(lce_kernels::pathPeak(lce_kernels::measurePeaks(r + 1), isa, name));
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // extern "C"
