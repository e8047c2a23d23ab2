// lce_convert._kernels: numpy access to lce_kernels, for tests and experiments (private).
// Every entry point validates shapes and raises ValueError instead of touching bad memory.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "lce_kernels/kernels.h"

namespace py = pybind11;
using namespace lce_kernels;

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::vector<int64_t> shapeOf(const py::array &a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

Isa isaFromName(const std::string &name) {
  Isa isa;
  if (parseIsa(name.c_str(), isa)) return isa;
  throw py::value_error("unknown ISA '" + name + "' (" + isaPathsDescription(false) + ")");
}

py::array bitpack(py::array x, int zeroPoint, int threads) {
  if (x.ndim() < 1) throw py::value_error("bitpack needs at least one dimension");
  if (threads < 1) throw py::value_error("threads must be positive");
  auto shape = shapeOf(x);
  const int64_t channels = shape.back(), rows = x.size() / std::max<int64_t>(channels, 1);
  shape.back() = packedWords(channels);
  py::array_t<int32_t> out(shape);
  if (x.dtype().is(py::dtype::of<int8_t>())) {
    if (zeroPoint < -128 || zeroPoint > 127) throw py::value_error("zero point out of int8 range");
    Array<int8_t> in(x);
    bitpackInt8(in.data(), rows, channels, static_cast<int8_t>(zeroPoint), out.mutable_data(), threads);
  } else if (x.dtype().is(py::dtype::of<float>())) {
    Array<float> in(x);
    bitpackFloat(in.data(), rows, channels, out.mutable_data(), threads);
  } else {
    throw py::value_error("bitpack takes float32 or int8");
  }
  return out;
}

py::array dequantize(Array<int32_t> x, int64_t channels, std::optional<float> scale, int zeroPoint, int threads) {
  if (threads < 1) throw py::value_error("threads must be positive");
  auto shape = shapeOf(x);
  if (shape.empty() || shape.back() != packedWords(channels)) throw py::value_error("last dim must be ceil(channels/32)");
  const int64_t rows = x.size() / shape.back();
  shape.back() = channels;
  if (!scale) {
    py::array_t<float> out(shape);
    dequantizeFloat(x.data(), rows, channels, out.mutable_data(), threads);
    return out;
  }
  if (!(*scale > 0)) throw py::value_error("scale must be positive");
  py::array_t<int8_t> out(shape);
  dequantizeInt8(x.data(), rows, channels, *scale, zeroPoint, out.mutable_data(), threads);
  return out;
}

py::object bconv2d(Array<int32_t> input, Array<int32_t> filter, int64_t channelsIn, int64_t groups,
                  std::pair<int64_t, int64_t> strides, std::pair<int64_t, int64_t> dilations,
                  const std::string &padding, int padValues, const std::string &outputType,
                  std::pair<int64_t, int64_t> clamp, std::optional<Array<float>> multiplier,
                  std::optional<Array<float>> bias, std::optional<Array<int32_t>> threshold, float scale,
                  int zeroPoint, const std::string &kernel, int threads, py::list postOps, bool quantize,
                  bool writeFloat, bool inPlace) {
  if (threads < 1) throw py::value_error("threads must be positive");
  if (kernel != "reference" && kernel != "indirect") throw py::value_error("kernel must be reference or indirect");
  if (input.ndim() != 4 || filter.ndim() != 4) throw py::value_error("input and filter must be 4-D");
  Bconv2dShape s;
  s.batch = input.shape(0), s.inHeight = input.shape(1), s.inWidth = input.shape(2);
  s.channelsIn = channelsIn, s.groups = groups;
  s.channelsOut = filter.shape(0), s.filterHeight = filter.shape(1), s.filterWidth = filter.shape(2);
  s.strideHeight = strides.first, s.strideWidth = strides.second;
  s.dilationHeight = dilations.first, s.dilationWidth = dilations.second;
  if (padding != "SAME" && padding != "VALID") throw py::value_error("padding must be SAME or VALID");
  s.samePadding = padding == "SAME";
  s.padValues = padValues;
  if (std::string err = s.finalize(); !err.empty()) throw py::value_error(err);
  if (input.shape(3) != s.wordsIn) throw py::value_error("input depth must be ceil(channels_in/32)");
  if (filter.shape(3) != s.wordsPerGroup) throw py::value_error("filter depth must be ceil(channels_in/groups/32)");
  Bconv2dOutput o;
  o.clampLow = clamp.first, o.clampHigh = clamp.second;
  auto perChannel = [&](auto &arr, const char *name) {
    if (arr && (arr->ndim() != 1 || arr->shape(0) != s.channelsOut))
      throw py::value_error(std::string(name) + " must have one value per output channel");
  };
  perChannel(multiplier, "multiplier");
  perChannel(bias, "bias");
  perChannel(threshold, "threshold");
  if (multiplier) o.multiplier = multiplier->data();
  if (bias) o.bias = bias->data();
  std::vector<int64_t> outShape{s.batch, s.outHeight, s.outWidth, s.channelsOut};
  py::array out;
  if (outputType == "float") {
    o.type = OutputType::kFloat;
    out = py::array_t<float>(outShape);
  } else if (outputType == "int8") {
    if (!(scale > 0)) throw py::value_error("int8 output needs a positive scale");
    o.type = OutputType::kInt8, o.scale = scale, o.zeroPoint = zeroPoint;
    out = py::array_t<int8_t>(outShape);
  } else if (outputType == "bitpacked") {
    if (!threshold) throw py::value_error("bitpacked output needs thresholds");
    o.type = OutputType::kBitpacked, o.threshold = threshold->data();
    outShape.back() = packedWords(s.channelsOut);
    out = py::array_t<int32_t>(outShape);
  } else {
    throw py::value_error("output_type must be float, int8 or bitpacked");
  }
  // Float output's post ops: ("mul", [C]), ("add", [C]), ("add_tensor", [N, OH, OW, C]),
  // ("clamp", lo, hi); quantize: also the fused Quantize bits (returned as (float, bits), or
  // bits alone when write_float is False).
  std::vector<PostOp> ops;
  std::vector<Array<float>> opArrays;
  for (py::handle item : postOps) {
    auto t = item.cast<py::tuple>();
    if (t.size() < 2) throw py::value_error("a post op is (kind, values) or (\"clamp\", lo, hi)");
    const std::string kind = t[0].cast<std::string>();
    PostOp op;
    if (kind == "clamp") {
      if (t.size() != 3) throw py::value_error("clamp takes lo and hi");
      op.kind = PostOp::Kind::kClamp, op.lo = t[1].cast<float>(), op.hi = t[2].cast<float>();
    } else {
      opArrays.push_back(t[1].cast<Array<float>>());
      const Array<float> &v = opArrays.back();
      if (kind == "mul" || kind == "add") {
        if (v.ndim() != 1 || v.shape(0) != s.channelsOut) throw py::value_error(kind + " takes one value per channel");
        op.kind = kind == "mul" ? PostOp::Kind::kMul : PostOp::Kind::kAdd;
      } else if (kind == "add_tensor") {
        if (shapeOf(v) != outShape) throw py::value_error("add_tensor takes a tensor of the output's shape");
        op.kind = PostOp::Kind::kAddTensor;
      } else {
        throw py::value_error("unknown post op " + kind);
      }
      op.values = v.data();
    }
    ops.push_back(op);
  }
  py::array_t<int32_t> bits;
  if (!ops.empty() || quantize || !writeFloat) {
    if (o.type != OutputType::kFloat) throw py::value_error("post ops and quantize need float output");
    if (!quantize && !writeFloat) throw py::value_error("write_float=False needs quantize");
    o.postOps = ops.data(), o.postOpCount = static_cast<int>(ops.size()), o.writeFloat = writeFloat;
    if (quantize) {
      std::vector<int64_t> bitsShape = outShape;
      bitsShape.back() = packedWords(s.channelsOut);
      bits = py::array_t<int32_t>(bitsShape);
      o.bits = bits.mutable_data();
    }
  }
  // in_place: the float result overwrites the residual's own array (the first post op), as the
  // delegate runs a Bconv2d whose ADD reads a tensor nothing else needs, and that array is returned.
  if (inPlace) {
    if (ops.empty() || ops[0].kind != PostOp::Kind::kAddTensor || !writeFloat)
      throw py::value_error("in_place needs add_tensor as the first post op and the float result");
    py::handle given = py::reinterpret_borrow<py::tuple>(postOps[0])[1];
    if (given.ptr() != opArrays[0].ptr() || !opArrays[0].writeable())
      throw py::value_error("in_place needs the residual as a writeable C-contiguous float32 array");
    out = opArrays[0];
  }
  void *outData = writeFloat ? out.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    if (kernel == "reference")
      bconv2dReference(s, input.data(), filter.data(), o, outData);
    else
      bconv2dIndirect(s, input.data(), filter.data(), o, outData, threads);
  }
  if (quantize) return writeFloat ? py::object(py::make_tuple(out, bits)) : py::object(bits);
  return std::move(out);
}

py::array bmaxpool(Array<int32_t> input, std::pair<int64_t, int64_t> filterSize,
                   std::pair<int64_t, int64_t> strides, const std::string &padding) {
  if (input.ndim() != 4) throw py::value_error("input must be 4-D");
  PoolShape s;
  s.batch = input.shape(0), s.inHeight = input.shape(1), s.inWidth = input.shape(2), s.words = input.shape(3);
  s.filterHeight = filterSize.first, s.filterWidth = filterSize.second;
  s.strideHeight = strides.first, s.strideWidth = strides.second;
  if (padding != "SAME" && padding != "VALID") throw py::value_error("padding must be SAME or VALID");
  s.samePadding = padding == "SAME";
  if (std::string err = s.finalize(); !err.empty()) throw py::value_error(err);
  py::array_t<int32_t> out(std::vector<int64_t>{s.batch, s.outHeight, s.outWidth, s.words});
  bmaxpool2d(s, input.data(), out.mutable_data());
  return out;
}

}  // namespace

PYBIND11_MODULE(_kernels, m) {
  m.doc() = "lce_kernels for tests (private)";
  m.def("supported_isas", [] {
    std::vector<std::string> out;
    for (Isa isa : supportedIsas()) out.push_back(isaName(isa));
    return out;
  });
  m.def("active_isa", [] { return std::string(isaName(activeIsa())); });
  m.def("set_isa", [](const std::string &name) {
    Isa isa = isaFromName(name);
    try {
      setIsa(isa);
    } catch (const std::invalid_argument &e) {
      throw py::value_error(e.what());
    }
  });
  m.def("bitpack", &bitpack, py::arg("x"), py::arg("zero_point") = 0, py::arg("threads") = 1);
  m.def("dequantize", &dequantize, py::arg("x"), py::arg("channels"), py::arg("scale") = py::none(),
        py::arg("zero_point") = 0, py::arg("threads") = 1);
  m.def("bconv2d", &bconv2d, py::arg("input"), py::arg("filter"), py::arg("channels_in"), py::arg("groups") = 1,
        py::arg("strides") = std::pair<int64_t, int64_t>{1, 1},
        py::arg("dilations") = std::pair<int64_t, int64_t>{1, 1}, py::arg("padding") = "VALID",
        py::arg("pad_values") = 0, py::arg("output_type") = "float",
        py::arg("clamp") = std::pair<int64_t, int64_t>{INT32_MIN, INT32_MAX}, py::arg("multiplier") = py::none(),
        py::arg("bias") = py::none(), py::arg("threshold") = py::none(), py::arg("scale") = 1.0f,
        py::arg("zero_point") = 0, py::arg("kernel") = "indirect", py::arg("threads") = 1,
        py::arg("post_ops") = py::list(), py::arg("quantize") = false, py::arg("write_float") = true,
        py::arg("in_place") = false);
  m.def("bmaxpool", &bmaxpool, py::arg("input"), py::arg("filter_size"), py::arg("strides"),
        py::arg("padding"));
}
