// See EntryFunctions.h.
#include "transforms/EntryFunctions.h"

#include "llvm/ADT/StringSet.h"

using namespace mlir;

namespace lce {

static void collectSymbolRefs(Attribute attr, llvm::StringSet<> &out) {
  attr.walk([&](FlatSymbolRefAttr ref) { out.insert(ref.getValue()); });
}

SmallVector<func::FuncOp> entryFunctions(ModuleOp module) {
  llvm::StringSet<> calledByOps;
  module.walk([&](Operation *op) {
    if (isa<func::FuncOp, ModuleOp>(op)) return;
    for (NamedAttribute a : op->getAttrs()) collectSymbolRefs(a.getValue(), calledByOps);
  });
  SmallVector<func::FuncOp> out;
  for (auto f : module.getOps<func::FuncOp>())
    if (!calledByOps.contains(f.getSymName())) out.push_back(f);
  return out;
}

}  // namespace lce
