// tfl-fold-filters: the filter of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED that TensorFlow
// left as a computation on constants becomes the constant it computes.
//
// TensorFlow's converter does not constant-fold an op whose operands exceed 2^30 bits (33.5 M
// float32 values). A larq kernel quantizer on a bigger kernel (BinaryAlexNet's and XNORNet's
// 37.7 M-weight layers at 224x224) then arrives computed at run time, e.g.
// TRANSPOSE(SIGN(ADD(SIGN(w), 0.1))) for ste_sign, or MUL(MEAN(|w|), SIGN(ADD(SIGN(w), 0.1)))
// for XNORNet's scaled sign, and the binary-layer passes see no constant filter. This pass
// evaluates such a chain when every leaf is a float32 constant and the ops are among SIGN, ADD,
// SUB, MUL, DIV (no fused activation, numpy broadcasting), MEAN (constant axes), RESHAPE and
// TRANSPOSE (constant permutation), and replaces the filter operand by the result.
//
// Exactness: SIGN, the arithmetic ops, RESHAPE and TRANSPOSE are evaluated with the same float32
// operations as TFLite's kernels, so the folded filter is the one TFLite computes. MEAN sums in
// double and rounds the mean once; TFLite's and TensorFlow's own summation orders differ from
// each other and from this one by float32 rounding, which only moves a per-channel scale (the
// alpha of XNORNet's weights) within float32 rounding.
//
// Only the filter operand is folded (a chain of a few ops on one huge tensor); it runs before
// lq-detect-binarize, which would otherwise read SIGN(ADD(SIGN(w))) as a binarized activation.
#include "transforms/Common.h"
#include "transforms/Passes.h"

#include <cmath>
#include <numeric>

#include "mlir/IR/BuiltinAttributes.h"

namespace lce {

#define GEN_PASS_DEF_FOLDFILTERS
#include "transforms/Passes.h.inc"

namespace {

using namespace mlir;

struct Tensor {
  llvm::SmallVector<int64_t, 6> shape;
  std::vector<float> data;
};

constexpr int kMaxDepth = 16;

int64_t numElements(llvm::ArrayRef<int64_t> shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<int64_t>());
}

std::optional<Tensor> evaluate(Value v, int depth);

std::optional<Tensor> constant(tfl::ConstOp c) {
  auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
  auto type = dyn_cast<RankedTensorType>(c.getType());
  if (!dense || !type || !type.hasStaticShape() || !type.getElementType().isF32() ||
      !dense.getElementType().isF32())
    return std::nullopt;
  Tensor t;
  t.shape.assign(type.getShape().begin(), type.getShape().end());
  if (dense.isSplat()) {
    t.data.assign(numElements(t.shape), dense.getSplatValue<float>());
  } else {
    auto range = dense.getValues<float>();
    t.data.assign(range.begin(), range.end());
  }
  return t;
}

// numpy broadcasting of two operands; f is the float32 operation.
template <typename F>
std::optional<Tensor> broadcast(const Tensor &a, const Tensor &b, F f) {
  size_t rank = std::max(a.shape.size(), b.shape.size());
  auto padded = [rank](const Tensor &t) {
    llvm::SmallVector<int64_t, 6> s(rank - t.shape.size(), 1);
    s.append(t.shape.begin(), t.shape.end());
    return s;
  };
  auto sa = padded(a), sb = padded(b);
  Tensor out;
  for (size_t i = 0; i < rank; ++i) {
    if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1) return std::nullopt;
    out.shape.push_back(std::max(sa[i], sb[i]));
  }
  int64_t n = numElements(out.shape);
  out.data.resize(n);
  if (sa == sb) {
    for (int64_t i = 0; i < n; ++i) out.data[i] = f(a.data[i], b.data[i]);
    return out;
  }
  if (b.data.size() == 1 || a.data.size() == 1) {
    for (int64_t i = 0; i < n; ++i)
      out.data[i] = f(a.data[a.data.size() == 1 ? 0 : i], b.data[b.data.size() == 1 ? 0 : i]);
    return out;
  }
  // General case: strides of each operand in the output's index space (0 where broadcast).
  llvm::SmallVector<int64_t, 6> strideA(rank), strideB(rank);
  for (int64_t i = int64_t(rank) - 1, ka = 1, kb = 1; i >= 0; --i) {
    strideA[i] = sa[i] == 1 ? 0 : ka;
    strideB[i] = sb[i] == 1 ? 0 : kb;
    ka *= sa[i];
    kb *= sb[i];
  }
  llvm::SmallVector<int64_t, 6> index(rank, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < n; ++i) {
    out.data[i] = f(a.data[ia], b.data[ib]);
    for (int64_t d = int64_t(rank) - 1; d >= 0; --d) {
      ia += strideA[d];
      ib += strideB[d];
      if (++index[d] < out.shape[d]) break;
      ia -= strideA[d] * out.shape[d];
      ib -= strideB[d] * out.shape[d];
      index[d] = 0;
    }
  }
  return out;
}

template <typename Op, typename F>
std::optional<Tensor> binary(Op op, int depth, F f) {
  if (op.getFusedActivationFunction() != "NONE") return std::nullopt;
  auto a = evaluate(op.getLhs(), depth + 1);
  if (!a) return std::nullopt;
  auto b = evaluate(op.getRhs(), depth + 1);
  if (!b) return std::nullopt;
  return broadcast(*a, *b, f);
}

std::optional<Tensor> transpose(const Tensor &x, llvm::ArrayRef<int32_t> perm) {
  size_t rank = x.shape.size();
  if (perm.size() != rank) return std::nullopt;
  llvm::SmallVector<bool, 6> seen(rank, false);
  for (int32_t p : perm) {
    if (p < 0 || size_t(p) >= rank || seen[p]) return std::nullopt;
    seen[p] = true;
  }
  llvm::SmallVector<int64_t, 6> inStride(rank, 1);
  for (int64_t i = int64_t(rank) - 2; i >= 0; --i) inStride[i] = inStride[i + 1] * x.shape[i + 1];
  Tensor out;
  llvm::SmallVector<int64_t, 6> stride(rank);  // input stride of each output dimension
  for (size_t i = 0; i < rank; ++i) {
    out.shape.push_back(x.shape[perm[i]]);
    stride[i] = inStride[perm[i]];
  }
  int64_t n = numElements(out.shape);
  out.data.resize(n);
  llvm::SmallVector<int64_t, 6> index(rank, 0);
  int64_t in = 0;
  for (int64_t i = 0; i < n; ++i) {
    out.data[i] = x.data[in];
    for (int64_t d = int64_t(rank) - 1; d >= 0; --d) {
      in += stride[d];
      if (++index[d] < out.shape[d]) break;
      in -= stride[d] * out.shape[d];
      index[d] = 0;
    }
  }
  return out;
}

std::optional<Tensor> mean(const Tensor &x, llvm::ArrayRef<int32_t> axes, bool keepDims) {
  size_t rank = x.shape.size();
  llvm::SmallVector<bool, 6> reduced(rank, false);
  for (int32_t a : axes) {
    int64_t d = a < 0 ? a + int64_t(rank) : a;
    if (d < 0 || size_t(d) >= rank) return std::nullopt;
    reduced[d] = true;
  }
  llvm::SmallVector<int64_t, 6> kept;  // the output shape with kept dimensions as 1
  for (size_t i = 0; i < rank; ++i) kept.push_back(reduced[i] ? 1 : x.shape[i]);
  int64_t outN = numElements(kept), count = outN ? numElements(x.shape) / outN : 0;
  if (count == 0) return std::nullopt;
  std::vector<double> sum(outN, 0.0);
  llvm::SmallVector<int64_t, 6> outStride(rank, 0);
  for (int64_t i = int64_t(rank) - 1, k = 1; i >= 0; --i) {
    outStride[i] = reduced[i] ? 0 : k;
    k *= kept[i];
  }
  llvm::SmallVector<int64_t, 6> index(rank, 0);
  int64_t o = 0, n = numElements(x.shape);
  for (int64_t i = 0; i < n; ++i) {
    sum[o] += x.data[i];
    for (int64_t d = int64_t(rank) - 1; d >= 0; --d) {
      o += outStride[d];
      if (++index[d] < x.shape[d]) break;
      o -= outStride[d] * x.shape[d];
      index[d] = 0;
    }
  }
  Tensor out;
  for (size_t i = 0; i < rank; ++i)
    if (keepDims || !reduced[i]) out.shape.push_back(kept[i]);
  out.data.resize(outN);
  for (int64_t i = 0; i < outN; ++i) out.data[i] = static_cast<float>(sum[i] / double(count));
  return out;
}

bool staticF32(Value v, llvm::SmallVectorImpl<int64_t> &shape) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || !type.getElementType().isF32()) return false;
  shape.assign(type.getShape().begin(), type.getShape().end());
  return true;
}

std::optional<Tensor> evaluate(Value v, int depth) {
  llvm::SmallVector<int64_t, 6> shape;
  if (depth > kMaxDepth || !staticF32(v, shape)) return std::nullopt;
  Operation *op = v.getDefiningOp();
  if (!op) return std::nullopt;
  std::optional<Tensor> result;
  if (auto c = dyn_cast<tfl::ConstOp>(op)) {
    result = constant(c);
  } else if (auto s = dyn_cast<tfl::SignOp>(op)) {
    result = evaluate(s.getX(), depth + 1);
    if (result)
      for (float &x : result->data) x = float((0.0f < x) - (x < 0.0f));
  } else if (auto a = dyn_cast<tfl::AddOp>(op)) {
    result = binary(a, depth, [](float x, float y) { return x + y; });
  } else if (auto s = dyn_cast<tfl::SubOp>(op)) {
    result = binary(s, depth, [](float x, float y) { return x - y; });
  } else if (auto m = dyn_cast<tfl::MulOp>(op)) {
    result = binary(m, depth, [](float x, float y) { return x * y; });
  } else if (auto d = dyn_cast<tfl::DivOp>(op)) {
    result = binary(d, depth, [](float x, float y) { return x / y; });
  } else if (auto m = dyn_cast<tfl::MeanOp>(op)) {
    auto axes = getConstI32(m.getAxis());
    if (axes && (result = evaluate(m.getInput(), depth + 1))) result = mean(*result, *axes, m.getKeepDims());
  } else if (auto r = dyn_cast<tfl::ReshapeOp>(op)) {
    result = evaluate(r->getOperand(0), depth + 1);
    if (result && numElements(shape) == int64_t(result->data.size())) result->shape.assign(shape.begin(), shape.end());
    else result.reset();
  } else if (auto b = dyn_cast<tfl::BuiltinOp>(op); b && b.getName() == "TRANSPOSE" && b->getNumOperands() == 2) {
    auto perm = getConstI32(b->getOperand(1));
    if (perm && (result = evaluate(b->getOperand(0), depth + 1))) result = transpose(*result, *perm);
  }
  if (!result || llvm::ArrayRef<int64_t>(result->shape) != llvm::ArrayRef<int64_t>(shape)) return std::nullopt;
  return result;
}

// Erases `op` if nothing uses it any more, then its producers the same way (the generic
// tfl.builtin TRANSPOSE has unknown effects, so nothing else would remove it).
void eraseIfDead(Operation *op) {
  if (!op || !op->use_empty() || op->getNumRegions() != 0) return;
  if (!isa<tfl::ConstOp, tfl::SignOp, tfl::AddOp, tfl::SubOp, tfl::MulOp, tfl::DivOp, tfl::MeanOp,
           tfl::ReshapeOp, tfl::BuiltinOp>(op))
    return;
  llvm::SmallVector<Operation *, 4> producers;
  for (Value v : op->getOperands()) producers.push_back(v.getDefiningOp());
  op->erase();
  for (Operation *p : producers) eraseIfDead(p);
}

struct FoldFiltersPass : impl::FoldFiltersBase<FoldFiltersPass> {
  void runOnOperation() override {
    llvm::SmallVector<Operation *> layers;
    getOperation().walk([&](Operation *op) {
      if (isa<tfl::Conv2dOp, tfl::DepthwiseConv2dOp, tfl::FullyConnectedOp>(op) && op->getNumOperands() >= 2)
        layers.push_back(op);
    });
    for (Operation *layer : layers) {
      Value filter = layer->getOperand(1);
      Operation *producer = filter.getDefiningOp();
      if (!producer || isa<tfl::ConstOp>(producer)) continue;
      auto value = evaluate(filter, 0);
      if (!value) continue;
      OpBuilder b(producer);
      Value folded = makeConstF32(b, producer->getLoc(), value->shape, value->data);
      layer->setOperand(1, folded);
      eraseIfDead(producer);
    }
  }
};

}  // namespace
}  // namespace lce
