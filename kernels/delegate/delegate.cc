// The lce_convert TFLite delegate: an external delegate (plain C ABI, loaded with
// `load_delegate`) that claims the LceQuantize, LceDequantize, LceBconv2d and LceBMaxPool2d
// custom nodes and runs them with lce_kernels; TFLite/XNNPACK keeps every builtin op.
//
// The two traps of research/env-feasibility.md are handled: the delegate allows dynamic
// tensors (else construction fails on the unresolved custom ops), and outputs internal to a
// claimed partition are made kTfLiteDynamic before resizing (the arena plans none for them).
// Malformed options, types or shapes make preparation fail with a message, never a crash.
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
#include "tflite_abi.h"

namespace {

using lce_kernels::packedWords;

enum class OpKind { kQuantize, kDequantize, kBconv2d, kBMaxPool2d };

bool opKindOf(const char *name, OpKind &kind) {
  if (!name) return false;
  if (!std::strcmp(name, "LceQuantize")) return kind = OpKind::kQuantize, true;
  if (!std::strcmp(name, "LceDequantize")) return kind = OpKind::kDequantize, true;
  if (!std::strcmp(name, "LceBconv2d")) return kind = OpKind::kBconv2d, true;
  if (!std::strcmp(name, "LceBMaxPool2d")) return kind = OpKind::kBMaxPool2d, true;
  return false;
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
};

struct Profile {
  std::mutex mutex;
  std::atomic<bool> enabled{false};
  std::vector<ProfileEntry> entries;

  static Profile &instance() {
    static Profile profile;
    return profile;
  }
  void add(const void *partition, int node, const char *op, double seconds) {
    std::lock_guard<std::mutex> lock(mutex);
    for (ProfileEntry &e : entries)
      if (e.partition == partition && e.node == node) {
        e.seconds += seconds, ++e.calls;
        return;
      }
    entries.push_back({partition, node, op, seconds, 1});
  }
};

const char *opName(OpKind kind) {
  switch (kind) {
    case OpKind::kQuantize: return "LceQuantize";
    case OpKind::kDequantize: return "LceDequantize";
    case OpKind::kBconv2d: return "LceBconv2d";
    case OpKind::kBMaxPool2d: return "LceBMaxPool2d";
  }
  return "?";
}

struct Op {
  OpKind kind;
  std::vector<int> inputs, outputs;
  std::map<std::string, int64_t> options;
  int nodeIndex;
  lce_kernels::Bconv2dShape bconv;  // derived and validated in prepare, used by invoke
  // Built in prepare: indirection offsets and, for a constant filter, the repacked filter
  // (otherwise repacked at every invoke).
  std::unique_ptr<lce_kernels::Bconv2dPlan> plan;
  bool constantFilter = false;
  lce_kernels::PoolShape pool;
};

struct Partition {
  std::vector<Op> ops;
  std::vector<int> outputs;  // tensors visible outside the partition
  int threads = 0;           // the delegate's num_threads option; 0: the interpreter's
};

// The delegate's options (TfLiteDelegate::data_).
struct DelegateOptions {
  int threads = 0;
};

TfLiteIntArray *makeDims(const std::vector<int64_t> &dims) {
  auto *a = static_cast<TfLiteIntArray *>(std::malloc(sizeof(int) * (dims.size() + 1)));
  a->size = static_cast<int>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) a->data[i] = static_cast<int>(dims[i]);
  return a;
}

std::vector<int64_t> dimsOf(const TfLiteTensor &t) {
  std::vector<int64_t> d;
  if (t.dims)
    for (int i = 0; i < t.dims->size; ++i) d.push_back(t.dims->data[i]);
  return d;
}

int64_t numElements(const std::vector<int64_t> &d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

#define LCE_ENSURE(ctx, cond, ...)              \
  do {                                          \
    if (!(cond)) {                              \
      (ctx)->ReportError((ctx), __VA_ARGS__);   \
      return kTfLiteError;                      \
    }                                           \
  } while (0)

int64_t option(const Op &op, const char *key, int64_t fallback) {
  auto it = op.options.find(key);
  return it == op.options.end() ? fallback : it->second;
}

TfLiteTensor *tensor(TfLiteContext *ctx, int index) {
  return index >= 0 && static_cast<size_t>(index) < ctx->tensors_size ? &ctx->tensors[index] : nullptr;
}

TfLiteStatus resize(TfLiteContext *ctx, Partition &p, int index, const std::vector<int64_t> &dims) {
  TfLiteTensor *t = tensor(ctx, index);
  if (std::find(p.outputs.begin(), p.outputs.end(), index) == p.outputs.end())
    t->allocation_type = kTfLiteDynamic;  // internal to the partition: no arena buffer is planned
  return ctx->ResizeTensor(ctx, t, makeDims(dims));
}

// Shapes of Bconv2d from its tensors and options; also validates them.
TfLiteStatus bconvShape(TfLiteContext *ctx, const Op &op, lce_kernels::Bconv2dShape &s) {
  const TfLiteTensor *in = tensor(ctx, op.inputs[0]), *filter = tensor(ctx, op.inputs[1]);
  auto id = dimsOf(*in), fd = dimsOf(*filter);
  LCE_ENSURE(ctx, id.size() == 4 && fd.size() == 4, "LceBconv2d: input and filter must be 4-D");
  LCE_ENSURE(ctx, in->type == kTfLiteInt32 && filter->type == kTfLiteInt32,
             "LceBconv2d: input and filter must be bitpacked int32");
  s.batch = id[0], s.inHeight = id[1], s.inWidth = id[2];
  s.channelsIn = option(op, "channels_in", -1);
  s.channelsOut = fd[0], s.filterHeight = fd[1], s.filterWidth = fd[2];
  LCE_ENSURE(ctx, s.channelsIn > 0 && fd[3] > 0 && packedWords(s.channelsIn) % fd[3] == 0,
             "LceBconv2d: channels_in does not match the packed filter depth");
  s.groups = packedWords(s.channelsIn) / fd[3];
  s.strideHeight = option(op, "stride_height", 1), s.strideWidth = option(op, "stride_width", 1);
  s.dilationHeight = option(op, "dilation_height_factor", 1);
  s.dilationWidth = option(op, "dilation_width_factor", 1);
  const int64_t padding = option(op, "padding", -1);
  LCE_ENSURE(ctx, padding == 0 || padding == 1, "LceBconv2d: padding must be SAME (0) or VALID (1)");
  s.samePadding = padding == 0;
  s.padValues = static_cast<int>(option(op, "pad_values", 0));
  const std::string err = s.finalize();
  LCE_ENSURE(ctx, err.empty(), "LceBconv2d: %s", err.c_str());
  LCE_ENSURE(ctx, id[3] == s.wordsIn, "LceBconv2d: input depth must be ceil(channels_in/32)");
  return kTfLiteOk;
}

TfLiteStatus prepareOp(TfLiteContext *ctx, Partition &p, Op &op) {
  for (int i : op.inputs) LCE_ENSURE(ctx, i == -1 || tensor(ctx, i), "Lce op: bad input tensor index");
  for (int i : op.outputs) LCE_ENSURE(ctx, tensor(ctx, i), "Lce op: bad output tensor index");
  const TfLiteTensor *in = tensor(ctx, op.inputs[0]);
  TfLiteTensor *out = tensor(ctx, op.outputs[0]);
  LCE_ENSURE(ctx, in != nullptr, "Lce op: missing input");
  auto id = dimsOf(*in);
  switch (op.kind) {
    case OpKind::kQuantize: {
      LCE_ENSURE(ctx, in->type == kTfLiteFloat32 || in->type == kTfLiteInt8, "LceQuantize: input must be float32 or int8");
      LCE_ENSURE(ctx, out->type == kTfLiteInt32 && !id.empty(), "LceQuantize: output must be int32, input ranked");
      id.back() = packedWords(id.back());
      return resize(ctx, p, op.outputs[0], id);
    }
    case OpKind::kDequantize: {
      auto od = dimsOf(*out);
      LCE_ENSURE(ctx, in->type == kTfLiteInt32 && (out->type == kTfLiteFloat32 || out->type == kTfLiteInt8),
                 "LceDequantize: int32 to float32 or int8");
      LCE_ENSURE(ctx, !od.empty() && od.size() == id.size() && packedWords(od.back()) == id.back(),
                 "LceDequantize: output channels do not match the packed input");
      LCE_ENSURE(ctx, out->type != kTfLiteInt8 || out->params.scale > 0, "LceDequantize: int8 output needs a scale");
      od.assign(id.begin(), id.end() - 1);
      od.push_back(dimsOf(*out).back());
      return resize(ctx, p, op.outputs[0], od);
    }
    case OpKind::kBconv2d: {
      lce_kernels::Bconv2dShape &s = op.bconv;
      if (bconvShape(ctx, op, s) != kTfLiteOk) return kTfLiteError;
      LCE_ENSURE(ctx, op.inputs.size() == 5, "LceBconv2d: needs 5 inputs");
      const int64_t act = option(op, "fused_activation_function", 0);
      LCE_ENSURE(ctx, act >= 0 && act <= 3, "LceBconv2d: unsupported fused_activation_function %d", static_cast<int>(act));
      const bool bitpacked = out->type == kTfLiteInt32;
      LCE_ENSURE(ctx, bitpacked || out->type == kTfLiteFloat32 || out->type == kTfLiteInt8,
                 "LceBconv2d: output must be float32, int8 or int32");
      LCE_ENSURE(ctx, !bitpacked || op.inputs[4] >= 0, "LceBconv2d: bitpacked output needs thresholds");
      LCE_ENSURE(ctx, out->type != kTfLiteInt8 || out->params.scale > 0, "LceBconv2d: int8 output needs a scale");
      for (int k = 2; k < 5; ++k) {
        if (op.inputs[k] < 0) continue;
        const TfLiteTensor *t = tensor(ctx, op.inputs[k]);
        LCE_ENSURE(ctx, numElements(dimsOf(*t)) == s.channelsOut, "LceBconv2d: per-channel input of the wrong size");
        LCE_ENSURE(ctx, t->type == (k == 4 ? kTfLiteInt32 : kTfLiteFloat32), "LceBconv2d: per-channel input of the wrong type");
      }
      const TfLiteTensor *filter = tensor(ctx, op.inputs[1]);
      LCE_ENSURE(ctx, dimsOf(*filter)[3] == s.wordsPerGroup, "LceBconv2d: filter depth must be ceil(channels_in/groups/32)");
      op.constantFilter = filter->allocation_type == kTfLiteMmapRo && filter->data != nullptr;
      try {  // the plan is the size of the output image times the taps: huge shapes may not fit
        op.plan = std::make_unique<lce_kernels::Bconv2dPlan>(s);
        if (op.constantFilter) op.plan->setFilter(static_cast<const int32_t *>(filter->data));
      } catch (const std::exception &e) {
        op.plan.reset();
        LCE_ENSURE(ctx, false, "LceBconv2d: cannot prepare the kernel: %s", e.what());
      }
      return resize(ctx, p, op.outputs[0],
                    {s.batch, s.outHeight, s.outWidth, bitpacked ? packedWords(s.channelsOut) : s.channelsOut});
    }
    case OpKind::kBMaxPool2d: {
      LCE_ENSURE(ctx, in->type == kTfLiteInt32 && id.size() == 4, "LceBMaxPool2d: input must be 4-D int32");
      lce_kernels::PoolShape &s = op.pool;
      s.batch = id[0], s.inHeight = id[1], s.inWidth = id[2], s.words = id[3];
      s.filterHeight = option(op, "filter_height", -1), s.filterWidth = option(op, "filter_width", -1);
      s.strideHeight = option(op, "stride_height", -1), s.strideWidth = option(op, "stride_width", -1);
      const int64_t padding = option(op, "padding", -1);
      LCE_ENSURE(ctx, padding == 0 || padding == 1, "LceBMaxPool2d: padding must be SAME (0) or VALID (1)");
      s.samePadding = padding == 0;
      const std::string err = s.finalize();
      LCE_ENSURE(ctx, err.empty(), "LceBMaxPool2d: %s", err.c_str());
      return resize(ctx, p, op.outputs[0], {s.batch, s.outHeight, s.outWidth, s.words});
    }
  }
  return kTfLiteError;
}

TfLiteStatus invokeOp(TfLiteContext *ctx, const Partition &p, Op &op) {
  const TfLiteTensor *in = tensor(ctx, op.inputs[0]);
  TfLiteTensor *out = tensor(ctx, op.outputs[0]);
  auto id = dimsOf(*in);
  LCE_ENSURE(ctx, in->data && out->data, "Lce op: unallocated tensor");
  const int threads = p.threads > 0 ? p.threads : std::max(1, ctx->recommended_num_threads);
  switch (op.kind) {
    case OpKind::kQuantize: {
      const int64_t c = id.back(), rows = numElements(id) / std::max<int64_t>(c, 1);
      if (in->type == kTfLiteFloat32)
        lce_kernels::bitpackFloat(static_cast<const float *>(in->data), rows, c, static_cast<int32_t *>(out->data),
                                  threads);
      else
        lce_kernels::bitpackInt8(static_cast<const int8_t *>(in->data), rows, c,
                                 static_cast<int8_t>(in->params.zero_point), static_cast<int32_t *>(out->data),
                                 threads);
      return kTfLiteOk;
    }
    case OpKind::kDequantize: {
      auto od = dimsOf(*out);
      const int64_t c = od.back(), rows = numElements(od) / std::max<int64_t>(c, 1);
      if (out->type == kTfLiteFloat32)
        lce_kernels::dequantizeFloat(static_cast<const int32_t *>(in->data), rows, c, static_cast<float *>(out->data),
                                     threads);
      else
        lce_kernels::dequantizeInt8(static_cast<const int32_t *>(in->data), rows, c, out->params.scale,
                                    out->params.zero_point, static_cast<int8_t *>(out->data), threads);
      return kTfLiteOk;
    }
    case OpKind::kBconv2d: {
      lce_kernels::Bconv2dOutput o;
      const int64_t act = option(op, "fused_activation_function", 0);
      if (act == 1) o.clampLow = 0;                        // RELU
      else if (act == 3) o.clampLow = 0, o.clampHigh = 6;  // RELU6
      else if (act == 2) o.clampLow = -1, o.clampHigh = 1; // RELU_N1_TO_1
      auto data = [&](int k) -> const void * { return op.inputs[k] >= 0 ? tensor(ctx, op.inputs[k])->data : nullptr; };
      o.multiplier = static_cast<const float *>(data(2));
      o.bias = static_cast<const float *>(data(3));
      o.threshold = static_cast<const int32_t *>(data(4));
      if (out->type == kTfLiteInt32) o.type = lce_kernels::OutputType::kBitpacked;
      else if (out->type == kTfLiteInt8)
        o.type = lce_kernels::OutputType::kInt8, o.scale = out->params.scale, o.zeroPoint = out->params.zero_point;
      const TfLiteTensor *filter = tensor(ctx, op.inputs[1]);
      LCE_ENSURE(ctx, op.plan && filter->data, "LceBconv2d: not prepared");
      try {
        if (!op.constantFilter) op.plan->setFilter(static_cast<const int32_t *>(filter->data));
        op.plan->run(static_cast<const int32_t *>(in->data), o, out->data, threads);
      } catch (const std::exception &e) {
        LCE_ENSURE(ctx, false, "LceBconv2d: %s", e.what());
      }
      return kTfLiteOk;
    }
    case OpKind::kBMaxPool2d: {
      const lce_kernels::PoolShape &s = op.pool;
      lce_kernels::bmaxpool2d(s, static_cast<const int32_t *>(in->data), static_cast<int32_t *>(out->data));
      return kTfLiteOk;
    }
  }
  return kTfLiteError;
}

void *kernelInit(TfLiteContext *ctx, const char *buffer, size_t) {
  const auto *params = reinterpret_cast<const TfLiteDelegateParams *>(buffer);
  auto p = std::make_unique<Partition>();
  if (params->delegate && params->delegate->data_)
    p->threads = static_cast<const DelegateOptions *>(params->delegate->data_)->threads;
  for (int i = 0; i < params->output_tensors->size; ++i) p->outputs.push_back(params->output_tensors->data[i]);
  for (int i = 0; i < params->nodes_to_replace->size; ++i) {
    const int index = params->nodes_to_replace->data[i];
    TfLiteNode *node;
    TfLiteRegistration *reg;
    if (ctx->GetNodeAndRegistration(ctx, index, &node, &reg) != kTfLiteOk) return nullptr;
    Op op;
    op.nodeIndex = index;
    opKindOf(reg->custom_name, op.kind);
    op.inputs.assign(node->inputs->data, node->inputs->data + node->inputs->size);
    op.outputs.assign(node->outputs->data, node->outputs->data + node->outputs->size);
    std::string error;
    if (!lce_delegate::parseIntMap(static_cast<const uint8_t *>(node->custom_initial_data),
                                   node->custom_initial_data_size > 0 ? node->custom_initial_data_size : 0,
                                   op.options, error)) {
      ctx->ReportError(ctx, "%s (node %d): malformed custom options: %s", reg->custom_name, index, error.c_str());
      op.options.clear();
      op.options["__malformed__"] = 1;
    }
    p->ops.push_back(std::move(op));
  }
  return p.release();
}

void kernelFree(TfLiteContext *, void *buffer) { delete static_cast<Partition *>(buffer); }

TfLiteStatus kernelPrepare(TfLiteContext *ctx, TfLiteNode *node) {
  auto *p = static_cast<Partition *>(node->user_data);
  LCE_ENSURE(ctx, p != nullptr, "lce_convert delegate: initialisation failed");
  for (Op &op : p->ops) {
    LCE_ENSURE(ctx, !op.options.count("__malformed__"), "lce_convert delegate: malformed custom options");
    LCE_ENSURE(ctx, !op.inputs.empty() && op.outputs.size() == 1, "Lce op: expected inputs and one output");
    if (prepareOp(ctx, *p, op) != kTfLiteOk) return kTfLiteError;
  }
  return kTfLiteOk;
}

TfLiteStatus kernelInvoke(TfLiteContext *ctx, TfLiteNode *node) {
  auto *p = static_cast<Partition *>(node->user_data);
  Profile &profile = Profile::instance();
  for (Op &op : p->ops) {
    if (!profile.enabled) {
      if (invokeOp(ctx, *p, op) != kTfLiteOk) return kTfLiteError;
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    if (invokeOp(ctx, *p, op) != kTfLiteOk) return kTfLiteError;
    profile.add(p, op.nodeIndex, opName(op.kind),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return kTfLiteOk;
}

TfLiteStatus delegatePrepare(TfLiteContext *ctx, TfLiteDelegate *delegate) {
  TfLiteIntArray *plan;
  if (ctx->GetExecutionPlan(ctx, &plan) != kTfLiteOk) return kTfLiteError;
  std::vector<int> claimed;
  for (int i = 0; i < plan->size; ++i) {
    TfLiteNode *node;
    TfLiteRegistration *reg;
    if (ctx->GetNodeAndRegistration(ctx, plan->data[i], &node, &reg) != kTfLiteOk) return kTfLiteError;
    OpKind kind;
    if (reg->builtin_code == kTfLiteBuiltinCustom && opKindOf(reg->custom_name, kind)) claimed.push_back(plan->data[i]);
  }
  if (claimed.empty()) return kTfLiteOk;
  TfLiteRegistration kernel{};
  kernel.init = kernelInit;
  kernel.free = kernelFree;
  kernel.prepare = kernelPrepare;
  kernel.invoke = kernelInvoke;
  kernel.builtin_code = kTfLiteBuiltinDelegate;
  kernel.custom_name = "LceConvertDelegate";
  kernel.version = 1;
  TfLiteIntArray *nodes = makeDims(std::vector<int64_t>(claimed.begin(), claimed.end()));
  const TfLiteStatus status = ctx->ReplaceNodeSubsetsWithDelegateKernels(ctx, kernel, nodes, delegate);
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
    } else if (std::strcmp(keys[i], "isa") == 0) {
      bool found = false;
      for (auto isa : lce_kernels::supportedIsas())
        if (values[i] && !std::strcmp(values[i], lce_kernels::isaName(isa))) lce_kernels::setIsa(isa), found = true;
      if (!found) {
        if (reportError)
          reportError((std::string("lce_convert delegate: isa '") + (values[i] ? values[i] : "") +
                       "' is not an ISA path of this CPU").c_str());
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

}  // extern "C"
