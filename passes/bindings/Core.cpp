// lce_convert._core: the pybind11 bridge between Python and our MLIR world.
//
// The flatbuffer itself is read and written in Python (lce_convert/_tflite_io.py). This module
// builds an MLIR module from the plain description Python makes of it, and turns a module back
// into such a description. Constant data crosses as raw bytes into DenseElementsAttr (never as
// text). Types cross as MLIR type strings on the way in and as small dicts on the way out.
// Every failure becomes a Python exception carrying the MLIR diagnostics; nothing throws
// through MLIR callbacks.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "ir/LqOps.h"
#include "ir/TflOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/raw_ostream.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "transforms/Common.h"
#include "transforms/Passes.h"

namespace py = pybind11;
using namespace mlir;

namespace {

constexpr int kMaxAttrDepth = 64;

// Python-side markers for attribute kinds that plain Python values cannot express.
struct SymbolRef {
  std::string name;
};
struct Scalar {
  std::string type;  // "i32", "i64", "f32", "f64"
  py::object value;
};

// Collects diagnostics emitted while it is alive.
class DiagnosticCollector {
 public:
  explicit DiagnosticCollector(MLIRContext *ctx)
      : handler_(ctx, [this](Diagnostic &d) {
          llvm::raw_string_ostream os(text_);
          if (!text_.empty()) os << "\n";
          os << d.getLocation() << ": " << d;
          for (auto &note : d.getNotes()) os << "\n  note: " << note;
          return success();
        }) {}
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
  ScopedDiagnosticHandler handler_;
};

[[noreturn]] void raiseValue(const std::string &what, const std::string &diagnostics = "") {
  throw py::value_error(diagnostics.empty() ? what : what + ":\n" + diagnostics);
}

py::object item(py::handle dict, const char *key) {
  py::dict d = py::reinterpret_borrow<py::dict>(dict);
  if (!d.contains(key)) raiseValue(std::string("description lacks '") + key + "'");
  return d[key];
}

py::object optionalItem(py::handle dict, const char *key) {
  py::dict d = py::reinterpret_borrow<py::dict>(dict);
  return d.contains(key) ? py::reinterpret_borrow<py::object>(d[key]) : py::none();
}

// ---------------------------------------------------------------------------------------------
// Python value <-> MLIR attribute

Type numpyElementType(MLIRContext *ctx, const py::dtype &dt) {
  const char kind = dt.kind();
  const int bits = static_cast<int>(dt.itemsize()) * 8;
  if (kind == 'b') return IntegerType::get(ctx, 1);
  if (kind == 'i') return IntegerType::get(ctx, bits);
  if (kind == 'u') return IntegerType::get(ctx, bits, IntegerType::Unsigned);
  if (kind == 'f' && bits == 32) return Float32Type::get(ctx);
  if (kind == 'f' && bits == 64) return Float64Type::get(ctx);
  if (kind == 'f' && bits == 16) return Float16Type::get(ctx);
  raiseValue("unsupported numpy dtype in attribute: " + std::string(py::str(dt)));
}

Attribute toAttribute(MLIRContext *ctx, py::handle v, int depth = 0);

DenseElementsAttr arrayToAttribute(MLIRContext *ctx, py::handle obj) {
  auto arr = py::array::ensure(obj, py::array::c_style);
  if (!arr) raiseValue("cannot read numpy array");
  std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
  Type elem = numpyElementType(ctx, arr.dtype());
  auto type = RankedTensorType::get(shape, elem);
  const char *data = static_cast<const char *>(arr.data());
  if (elem.isInteger(1)) {
    std::vector<bool> values(arr.size());
    for (py::ssize_t i = 0; i < arr.size(); ++i) values[i] = data[i] != 0;
    llvm::SmallVector<bool> small(values.begin(), values.end());
    return DenseElementsAttr::get(type, ArrayRef<bool>(small));
  }
  ArrayRef<char> raw(data, arr.nbytes());
  bool splat = false;
  if (!DenseElementsAttr::isValidRawBuffer(type, raw, splat))
    raiseValue("array data does not match its shape");
  return DenseElementsAttr::getFromRawBuffer(type, raw);
}

Attribute toAttribute(MLIRContext *ctx, py::handle v, int depth) {
  if (depth > kMaxAttrDepth) raiseValue("attribute nesting too deep");
  if (v.is_none()) return UnitAttr::get(ctx);
  if (py::isinstance<py::bool_>(v)) return BoolAttr::get(ctx, v.cast<bool>());
  if (py::isinstance<py::int_>(v)) {
    int64_t x;
    try {
      x = v.cast<int64_t>();
    } catch (const py::cast_error &) {
      raiseValue("integer attribute out of int64 range");
    }
    return IntegerAttr::get(IntegerType::get(ctx, 64), x);
  }
  if (py::isinstance<py::float_>(v)) return FloatAttr::get(Float64Type::get(ctx), v.cast<double>());
  if (py::isinstance<py::str>(v)) return StringAttr::get(ctx, v.cast<std::string>());
  if (py::isinstance<py::bytes>(v)) return StringAttr::get(ctx, v.cast<std::string>());
  if (py::isinstance<SymbolRef>(v)) return FlatSymbolRefAttr::get(ctx, v.cast<SymbolRef &>().name);
  if (py::isinstance<Scalar>(v)) {
    auto &s = v.cast<Scalar &>();
    if (s.type == "i32" || s.type == "i64" || s.type == "i8" || s.type == "i16") {
      int width = std::stoi(s.type.substr(1));
      int64_t x;
      try {
        x = s.value.cast<int64_t>();
      } catch (const py::cast_error &) {
        raiseValue("integer scalar is not an integer");
      }
      if (width < 64 && (x < -(int64_t(1) << (width - 1)) || x >= (int64_t(1) << (width - 1))))
        raiseValue("value " + std::to_string(x) + " does not fit " + s.type);
      return IntegerAttr::get(IntegerType::get(ctx, width), x);
    }
    if (s.type == "f32") return FloatAttr::get(Float32Type::get(ctx), s.value.cast<double>());
    if (s.type == "f64") return FloatAttr::get(Float64Type::get(ctx), s.value.cast<double>());
    raiseValue("unknown scalar type " + s.type);
  }
  if (py::isinstance<py::dict>(v)) {
    llvm::SmallVector<NamedAttribute> entries;
    for (auto kv : py::reinterpret_borrow<py::dict>(v)) {
      if (!py::isinstance<py::str>(kv.first)) raiseValue("attribute dictionary keys must be str");
      entries.emplace_back(StringAttr::get(ctx, kv.first.cast<std::string>()),
                           toAttribute(ctx, kv.second, depth + 1));
    }
    return DictionaryAttr::get(ctx, entries);
  }
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    llvm::SmallVector<Attribute> elems;
    for (auto e : py::reinterpret_borrow<py::sequence>(v)) elems.push_back(toAttribute(ctx, e, depth + 1));
    return ArrayAttr::get(ctx, elems);
  }
  if (py::isinstance<py::array>(v)) return arrayToAttribute(ctx, v);
  raiseValue("cannot turn a Python " + std::string(py::str(v.get_type())) + " into an attribute");
}

py::dtype numpyDtype(Type elem) {
  if (elem.isInteger(1)) return py::dtype("bool");
  if (auto it = dyn_cast<IntegerType>(elem)) {
    std::string prefix = it.isUnsigned() ? "uint" : "int";
    return py::dtype(prefix + std::to_string(it.getWidth()));
  }
  if (elem.isF32()) return py::dtype("float32");
  if (elem.isF64()) return py::dtype("float64");
  if (elem.isF16()) return py::dtype("float16");
  return py::dtype("uint8");  // unreachable for attributes we create
}

// Raw little-endian bytes of a dense attribute, splats expanded and i1 as one byte per element.
std::string denseBytes(DenseElementsAttr attr) {
  auto type = attr.getType();
  const int64_t n = type.getNumElements();
  if (type.getElementType().isInteger(1)) {
    std::string out(n, '\0');
    int64_t i = 0;
    for (bool b : attr.getValues<bool>()) out[i++] = b ? 1 : 0;
    return out;
  }
  ArrayRef<char> raw = attr.getRawData();
  if (!attr.isSplat()) return std::string(raw.data(), raw.size());
  std::string out;
  out.reserve(raw.size() * n);
  for (int64_t i = 0; i < n; ++i) out.append(raw.data(), raw.size());
  return out;
}

py::object fromAttribute(Attribute a) {
  if (auto b = dyn_cast<BoolAttr>(a)) return py::bool_(b.getValue());
  if (auto i = dyn_cast<IntegerAttr>(a)) {
    if (i.getType().isUnsignedInteger()) return py::int_(i.getValue().getZExtValue());
    if (i.getType().isIndex() || i.getType().isSignlessInteger() || i.getType().isSignedInteger())
      return py::int_(i.getValue().getSExtValue());
  }
  if (auto f = dyn_cast<FloatAttr>(a)) return py::float_(f.getValueAsDouble());
  if (auto s = dyn_cast<StringAttr>(a)) return py::bytes(s.getValue().data(), s.getValue().size());
  if (auto s = dyn_cast<FlatSymbolRefAttr>(a)) return py::cast(SymbolRef{s.getValue().str()});
  if (auto d = dyn_cast<DictionaryAttr>(a)) {
    py::dict out;
    for (auto na : d) out[py::str(na.getName().str())] = fromAttribute(na.getValue());
    return out;
  }
  if (auto arr = dyn_cast<ArrayAttr>(a)) {
    py::list out;
    for (auto e : arr) out.append(fromAttribute(e));
    return out;
  }
  if (auto dense = dyn_cast<DenseIntOrFPElementsAttr>(a)) {
    auto type = dense.getType();
    std::vector<py::ssize_t> shape(type.getShape().begin(), type.getShape().end());
    std::string bytes = denseBytes(dense);
    py::array out(numpyDtype(type.getElementType()), shape);
    if (static_cast<size_t>(out.nbytes()) != bytes.size()) {
      std::string text;
      llvm::raw_string_ostream os(text);
      os << type;
      raiseValue("cannot export a dense attribute of type " + text);
    }
    std::memcpy(out.mutable_data(), bytes.data(), bytes.size());
    return out;
  }
  if (isa<UnitAttr>(a)) return py::none();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << a;
  raiseValue("cannot export attribute " + text);
}

// ---------------------------------------------------------------------------------------------
// Types

py::dict describeType(Type t) {
  py::dict out;
  auto shaped = dyn_cast<ShapedType>(t);
  Type elem = shaped ? shaped.getElementType() : t;
  if (shaped && shaped.hasRank()) {
    py::list dims;
    for (int64_t d : shaped.getShape()) dims.append(ShapedType::isDynamic(d) ? -1 : d);
    out["shape"] = dims;
  } else {
    out["shape"] = py::none();
  }
  out["quant"] = py::none();
  if (auto q = dyn_cast<quant::QuantizedType>(elem)) {
    py::dict qd;
    auto storage = cast<IntegerType>(q.getStorageType());
    qd["storage"] = (q.isSigned() ? "i" : "ui") + std::to_string(storage.getWidth());
    py::list scales, zeroPoints;
    if (auto u = dyn_cast<quant::UniformQuantizedType>(q)) {
      scales.append(u.getScale());
      zeroPoints.append(u.getZeroPoint());
      qd["axis"] = -1;
    } else if (auto p = dyn_cast<quant::UniformQuantizedPerAxisType>(q)) {
      for (double s : p.getScales()) scales.append(s);
      for (int64_t z : p.getZeroPoints()) zeroPoints.append(z);
      qd["axis"] = p.getQuantizedDimension();
    } else {
      std::string text;
      llvm::raw_string_ostream os(text);
      os << q;
      raiseValue("cannot export quantized type " + text);
    }
    qd["scales"] = scales;
    qd["zero_points"] = zeroPoints;
    out["quant"] = qd;
    elem = q.getStorageType();
    elem = IntegerType::get(t.getContext(), storage.getWidth(),
                            q.isSigned() ? IntegerType::Signless : IntegerType::Unsigned);
  }
  std::string name;
  if (auto e = dyn_cast<lce::tfl::ElementType>(elem)) {
    name = e.getName().str();
  } else if (isa<NoneType>(elem)) {
    name = "none";
  } else {
    llvm::raw_string_ostream os(name);
    os << elem;
  }
  out["elem"] = name;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The module handle

Location namedLoc(MLIRContext *ctx, py::handle name) {
  if (name.is_none()) return UnknownLoc::get(ctx);
  return NameLoc::get(StringAttr::get(ctx, name.cast<std::string>()));
}

// The tensor name recorded in a location: the index-th NameLoc of a FusedLoc for multi-result
// ops whose fused location lists one name per result, else the first NameLoc found.
std::optional<std::string> locName(Location loc, unsigned index, unsigned count) {
  if (auto n = dyn_cast<NameLoc>(loc)) return n.getName().str();
  if (auto f = dyn_cast<FusedLoc>(loc)) {
    auto locs = f.getLocations();
    if (count > 1 && locs.size() == count) return locName(locs[index], 0, 1);
    for (Location l : locs)
      if (auto s = locName(l, 0, 1)) return s;
  }
  if (auto c = dyn_cast<CallSiteLoc>(loc)) return locName(c.getCallee(), index, count);
  return std::nullopt;
}

py::object pyName(std::optional<std::string> s) {
  if (!s) return py::none();
  return py::bytes(*s);
}

class Module {
 public:
  Module() : ctx_(std::make_unique<MLIRContext>(MLIRContext::Threading::DISABLED)) {
    lce::registerAllPasses();
    DialectRegistry registry;
    lce::registerAllDialects(registry);
    ctx_->appendDialectRegistry(registry);
    ctx_->loadAllAvailableDialects();
  }

  static std::unique_ptr<Module> parse(const std::string &text) {
    auto m = std::make_unique<Module>();
    DiagnosticCollector diags(m->ctx_.get());
    m->module_ = parseSourceString<ModuleOp>(text, ParserConfig(m->ctx_.get()));
    if (!m->module_) raiseValue("cannot parse MLIR", diags.take());
    return m;
  }

  static std::unique_ptr<Module> fromDescription(py::dict desc) {
    auto m = std::make_unique<Module>();
    m->build(desc);
    return m;
  }

  std::string toText(bool debugInfo, int64_t elideElementsLimit, bool generic) {
    OpPrintingFlags flags;
    if (debugInfo) flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false).useLocalScope();
    if (elideElementsLimit >= 0) flags.elideLargeElementsAttrs(elideElementsLimit);
    if (generic) flags.printGenericOpForm();
    std::string out;
    llvm::raw_string_ostream os(out);
    module_->print(os, flags);
    return out;
  }

  void verify() {
    DiagnosticCollector diags(ctx_.get());
    if (failed(mlir::verify(*module_))) raiseValue("invalid module", diags.take());
  }

  void runPipeline(const std::string &pipeline) {
    DiagnosticCollector diags(ctx_.get());
    // The textual parser never nests implicitly (MLIR turns implicit nesting off while it adds a
    // parsed pipeline), so a pipeline of function passes without an anchor
    // ("lq-fuse-bconv2d,canonicalize") is run as func.func(...) on every function: the
    // documented contract of Module.run_pipeline and `lce_convert opt -p`. The converter itself
    // runs module-level pipelines (lq-binarize, lq-fuse-quantized, tfl-int8-io) and never
    // takes this path.
    auto pm = std::make_unique<PassManager>(ctx_.get(), ModuleOp::getOperationName());
    std::string err;
    llvm::raw_string_ostream es(err);
    if (failed(parsePassPipeline(pipeline, *pm, es))) {
      pm = std::make_unique<PassManager>(ctx_.get(), ModuleOp::getOperationName());
      std::string ignored;
      llvm::raw_string_ostream is(ignored);
      if (StringRef(pipeline).contains('(') ||
          failed(parsePassPipeline("func.func(" + pipeline + ")", *pm, is)))
        raiseValue("invalid pass pipeline '" + pipeline + "'", err);
    }
    LogicalResult result = success();
    {
      py::gil_scoped_release release;
      result = pm->run(*module_);
    }
    if (failed(result))
      throw std::runtime_error("pass pipeline '" + pipeline + "' failed:\n" + diags.take());
  }

  py::dict toDescription();

 private:
  void build(py::dict desc);
  Type parseTypeString(const std::string &s);

  std::unique_ptr<MLIRContext> ctx_;
  OwningOpRef<ModuleOp> module_;
  llvm::StringMap<Type> typeCache_;
};

Type Module::parseTypeString(const std::string &s) {
  auto it = typeCache_.find(s);
  if (it != typeCache_.end()) return it->second;
  DiagnosticCollector diags(ctx_.get());
  size_t consumed = 0;
  Type t = mlir::parseType(s, ctx_.get(), &consumed);
  if (!t || consumed != s.size()) raiseValue("invalid type '" + s + "'", diags.take());
  typeCache_[s] = t;
  return t;
}

void Module::build(py::dict desc) {
  MLIRContext *ctx = ctx_.get();
  DiagnosticCollector diags(ctx);
  OpBuilder b(ctx);
  module_ = ModuleOp::create(UnknownLoc::get(ctx));
  for (auto kv : py::reinterpret_borrow<py::dict>(optionalItem(desc, "attrs").is_none()
                                                      ? py::dict()
                                                      : item(desc, "attrs")))
    (*module_)->setAttr(kv.first.cast<std::string>(), toAttribute(ctx, kv.second));

  for (auto fdesc : item(desc, "functions")) {
    b.setInsertionPointToEnd(module_->getBody());
    auto func = func::FuncOp::create(b, UnknownLoc::get(ctx),
                                     item(fdesc, "name").cast<std::string>(),
                                     FunctionType::get(ctx, {}, {}));
    Block *block = func.addEntryBlock();
    std::vector<Value> values;
    llvm::SmallVector<Type> argTypes;
    for (auto adesc : item(fdesc, "args")) {
      Type t = parseTypeString(item(adesc, "type").cast<std::string>());
      BlockArgument arg = block->addArgument(t, namedLoc(ctx, optionalItem(adesc, "name")));
      argTypes.push_back(t);
      values.push_back(arg);
    }
    auto valueAt = [&](py::handle id) -> Value {
      int64_t i = id.cast<int64_t>();
      if (i < 0 || i >= static_cast<int64_t>(values.size()))
        raiseValue("value id " + std::to_string(i) + " is not defined before its use");
      return values[i];
    };
    b.setInsertionPointToEnd(block);
    for (auto odesc : item(fdesc, "ops")) {
      std::string name = item(odesc, "name").cast<std::string>();
      OperationName opName(name, ctx);
      if (!opName.isRegistered()) raiseValue("unknown operation '" + name + "'");
      llvm::SmallVector<Location> locs;
      OperationState state(UnknownLoc::get(ctx), opName);
      for (auto r : item(odesc, "results")) {
        state.addTypes(parseTypeString(item(r, "type").cast<std::string>()));
        locs.push_back(namedLoc(ctx, optionalItem(r, "name")));
      }
      if (locs.size() == 1) state.location = locs[0];
      else if (!locs.empty()) state.location = FusedLoc::get(ctx, locs);
      for (auto id : item(odesc, "operands")) state.addOperands(valueAt(id));
      py::object attrs = optionalItem(odesc, "attrs");
      if (!attrs.is_none())
        for (auto kv : py::reinterpret_borrow<py::dict>(attrs))
          state.addAttribute(kv.first.cast<std::string>(), toAttribute(ctx, kv.second));
      py::object data = optionalItem(odesc, "data");
      if (!data.is_none()) {
        auto type = dyn_cast<ShapedType>(parseTypeString(item(odesc, "data_type").cast<std::string>()));
        if (!type || !type.hasStaticShape()) raiseValue("constant data needs a static tensor type");
        py::buffer_info info = py::reinterpret_borrow<py::buffer>(data).request();
        ArrayRef<char> raw(static_cast<const char *>(info.ptr), info.size * info.itemsize);
        bool splat = false;
        if (!DenseElementsAttr::isValidRawBuffer(type, raw, splat))
          raiseValue("constant for '" + name + "' has " + std::to_string(raw.size()) +
                     " bytes, which does not fit its type");
        state.addAttribute("value", DenseElementsAttr::getFromRawBuffer(type, raw));
      }
      Operation *op = b.create(state);
      for (Value r : op->getResults()) values.push_back(r);
    }
    llvm::SmallVector<Value> returns;
    for (auto id : item(fdesc, "returns")) returns.push_back(valueAt(id));
    func::ReturnOp::create(b, UnknownLoc::get(ctx), returns);
    func.setFunctionType(FunctionType::get(ctx, argTypes, ValueRange(returns).getTypes()));
    py::object fattrs = optionalItem(fdesc, "attrs");
    if (!fattrs.is_none())
      for (auto kv : py::reinterpret_borrow<py::dict>(fattrs))
        func->setAttr(kv.first.cast<std::string>(), toAttribute(ctx, kv.second));
    int argIndex = 0;
    for (auto adesc : item(fdesc, "args")) {
      py::object aattrs = optionalItem(adesc, "attrs");
      if (!aattrs.is_none())
        for (auto kv : py::reinterpret_borrow<py::dict>(aattrs))
          func.setArgAttr(argIndex, kv.first.cast<std::string>(), toAttribute(ctx, kv.second));
      ++argIndex;
    }
  }
  if (failed(mlir::verify(*module_))) raiseValue("the imported module is invalid", diags.take());
}

py::dict Module::toDescription() {
  py::dict out;
  py::dict mattrs;
  for (auto na : (*module_)->getAttrs())
    if (na.getName() != "sym_name") mattrs[py::str(na.getName().str())] = fromAttribute(na.getValue());
  out["attrs"] = mattrs;
  py::list blobs;
  llvm::DenseMap<Attribute, int64_t> blobIndex;
  auto blobFor = [&](Attribute a) -> int64_t {
    auto it = blobIndex.find(a);
    if (it != blobIndex.end()) return it->second;
    auto dense = dyn_cast<DenseElementsAttr>(a);
    if (!dense) raiseValue("constant values must be dense elements attributes");
    std::string bytes = denseBytes(dense);
    blobs.append(py::bytes(bytes));
    return blobIndex[a] = static_cast<int64_t>(blobs.size()) - 1;
  };
  py::list funcs;
  for (auto func : module_->getOps<func::FuncOp>()) {
    py::dict f;
    f["name"] = func.getSymName().str();
    py::dict fattrs;
    for (auto na : func->getAttrs()) {
      StringRef n = na.getName();
      if (n == "sym_name" || n == "function_type" || n == "arg_attrs" || n == "res_attrs" ||
          n == "sym_visibility")
        continue;
      fattrs[py::str(n.str())] = fromAttribute(na.getValue());
    }
    f["attrs"] = fattrs;
    if (func.getBody().getBlocks().size() != 1)
      raiseValue("function @" + func.getSymName().str() + " must have exactly one block");
    Block &block = func.getBody().front();
    llvm::DenseMap<Value, int64_t> ids;
    py::list args;
    for (BlockArgument arg : block.getArguments()) {
      py::dict a;
      a["id"] = ids[arg] = static_cast<int64_t>(ids.size());
      a["type"] = describeType(arg.getType());
      a["name"] = pyName(locName(arg.getLoc(), 0, 1));
      py::dict aattrs;
      if (auto dict = func.getArgAttrDict(arg.getArgNumber()))
        for (auto na : dict) aattrs[py::str(na.getName().str())] = fromAttribute(na.getValue());
      a["attrs"] = aattrs;
      args.append(a);
    }
    f["args"] = args;
    py::list ops;
    py::list returns;
    for (Operation &op : block) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (Value v : ret.getOperands()) returns.append(ids.lookup(v));
        continue;
      }
      if (op.getNumRegions() != 0)
        raiseValue("operation " + op.getName().getStringRef().str() + " with regions cannot be exported");
      py::dict o;
      o["name"] = op.getName().getStringRef().str();
      py::list operands;
      for (Value v : op.getOperands()) {
        auto it = ids.find(v);
        if (it == ids.end()) raiseValue("operand defined outside the function's block");
        operands.append(it->second);
      }
      o["operands"] = operands;
      py::list results;
      for (OpResult r : op.getResults()) {
        py::dict rd;
        rd["id"] = ids[r] = static_cast<int64_t>(ids.size());
        rd["type"] = describeType(r.getType());
        rd["name"] = pyName(locName(op.getLoc(), r.getResultNumber(), op.getNumResults()));
        results.append(rd);
      }
      o["results"] = results;
      py::dict attrs;
      for (auto na : op.getAttrs()) {
        if (na.getName() == "value" && isa<lce::tfl::ConstOp, lce::tfl::VariableOp>(op)) {
          o["data"] = blobFor(na.getValue());
          auto vt = cast<ShapedType>(cast<TypedAttr>(na.getValue()).getType());
          o["data_elem"] = describeType(vt)["elem"];
          continue;
        }
        attrs[py::str(na.getName().str())] = fromAttribute(na.getValue());
      }
      o["attrs"] = attrs;
      ops.append(o);
    }
    f["ops"] = ops;
    f["returns"] = returns;
    funcs.append(f);
  }
  out["functions"] = funcs;
  out["blobs"] = blobs;
  return out;
}

// A context with every dialect loaded, for the registry queries below.
MLIRContext &registryContext() {
  static MLIRContext *ctx = [] {
    auto *c = new MLIRContext(MLIRContext::Threading::DISABLED);
    DialectRegistry registry;
    lce::registerAllDialects(registry);
    c->appendDialectRegistry(registry);
    c->loadAllAvailableDialects();
    return c;
  }();
  return *ctx;
}

RegisteredOperationName registeredOp(const std::string &name) {
  auto op = RegisteredOperationName::lookup(name, &registryContext());
  if (!op) raiseValue("unknown operation '" + name + "'");
  return *op;
}

// The ODS default values of an op's attributes (DefaultValuedAttr), as description values.
py::dict opDefaults(const std::string &name) {
  NamedAttrList attrs;
  registeredOp(name).populateDefaultAttrs(attrs);
  py::dict out;
  for (const NamedAttribute &na : attrs) out[py::str(na.getName().str())] = fromAttribute(na.getValue());
  return out;
}

py::list opAttributeNames(const std::string &name) {
  py::list out;
  for (StringAttr a : registeredOp(name).getAttributeNames()) out.append(a.str());
  return out;
}

py::list registeredOps(const std::string &prefix) {
  py::list out;
  for (RegisteredOperationName op : registryContext().getRegisteredOperations())
    if (op.getStringRef().starts_with(prefix)) out.append(op.getStringRef().str());
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "lce_convert MLIR bridge (private; use the lce_convert package)";
  py::class_<SymbolRef>(m, "SymbolRef")
      .def(py::init<std::string>())
      .def_readonly("name", &SymbolRef::name)
      .def("__repr__", [](const SymbolRef &s) { return "SymbolRef(@" + s.name + ")"; })
      .def("__eq__", [](const SymbolRef &a, const SymbolRef &b) { return a.name == b.name; });
  py::class_<Scalar>(m, "Scalar")
      .def(py::init<std::string, py::object>())
      .def_readonly("type", &Scalar::type)
      .def_readonly("value", &Scalar::value);
  py::class_<Module>(m, "Module")
      .def_static("parse", &Module::parse, py::arg("text"))
      .def_static("from_description", &Module::fromDescription, py::arg("description"))
      .def("to_text", &Module::toText, py::arg("debug_info") = false,
           py::arg("elide_elements_limit") = -1, py::arg("generic") = false)
      .def("verify", &Module::verify)
      .def("run_pipeline", &Module::runPipeline, py::arg("pipeline"))
      .def("to_description", &Module::toDescription);
  m.def("bitpacked_threshold",
        [](int64_t K, int64_t lo, int64_t hi, float m, float b) {
          if (K < 1 || lo > hi || lo < -K || hi > K || !(m >= 0.0f) || !std::isfinite(m) || !std::isfinite(b))
            throw py::value_error("need K >= 1, -K <= lo <= hi <= K, finite m >= 0 and finite b");
          return lce::bitpackedThreshold(K, lo, hi, m, b);
        },
        py::arg("K"), py::arg("lo"), py::arg("hi"), py::arg("m"), py::arg("b"),
        "The converter's exact bitpacked-output threshold (for tests; see semantics.md).");
  namespace sem = lce_kernels::semantics;
  m.def("activations", [] {
    py::list out;
    for (const sem::Activation &a : sem::kActivations) {
      py::dict d;
      d["name"] = a.name, d["code"] = a.code;
      d["lo"] = a.hasLow ? py::object(py::int_(a.lo)) : py::object(py::none());
      d["hi"] = a.hasHigh ? py::object(py::int_(a.hi)) : py::object(py::none());
      out.append(d);
    }
    return out;
  }, "The fused activations as clamps (lce_kernels/semantics.h): [{name, code, lo, hi}], None where unbounded.");
  m.def("same_padding",
        [](int64_t in, int64_t kernel, int64_t stride, int64_t dilation) {
          if (in < 1 || kernel < 1 || stride < 1 || dilation < 1)
            throw py::value_error("need in, kernel, stride and dilation >= 1");
          const sem::SamePadding p = sem::samePadding(in, kernel, stride, dilation);
          return py::make_tuple(p.out, p.before, p.after);
        },
        py::arg("size"), py::arg("kernel"), py::arg("stride") = 1, py::arg("dilation") = 1,
        "TF's SAME padding of one dimension (lce_kernels/semantics.h): (out, before, after).");
  m.def("bitpacked_bit",
        [](int64_t K, int64_t conv, int64_t threshold) {
          if (threshold < INT32_MIN || threshold > INT32_MAX) throw py::value_error("threshold must be an int32");
          return sem::bitpackedBit(K, conv, static_cast<int32_t>(threshold));
        },
        py::arg("K"), py::arg("conv"), py::arg("threshold"),
        "The bitpacked-output bit of a conv value under a threshold (lce_kernels/semantics.h): K - conv > 2 t.");
  m.def("op_defaults", &opDefaults, py::arg("name"),
        "The ODS default values of an operation's attributes, e.g. op_defaults('lq.Bconv2d').");
  m.def("op_attribute_names", &opAttributeNames, py::arg("name"),
        "The ODS attribute names of a registered operation.");
  m.def("registered_ops", &registeredOps, py::arg("prefix") = "",
        "The registered operations whose name starts with `prefix` ('tfl.', 'lq.').");
  m.def("has_pass", [](const std::string &name) {
    lce::registerAllPasses();
    return mlir::PassInfo::lookup(name) != nullptr;
  }, py::arg("name"), "True if `name` is a registered pass argument (e.g. 'canonicalize').");
}
