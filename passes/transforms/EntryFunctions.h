// Which functions of an imported module are model entry points (subgraphs a caller invokes),
// as opposed to bodies of control-flow ops (WHILE/IF/CALL_ONCE refer to them by symbol from
// their options). Passes that change a function's signature may only touch entry points.
#ifndef LCE_TRANSFORMS_ENTRYFUNCTIONS_H
#define LCE_TRANSFORMS_ENTRYFUNCTIONS_H

#include "llvm/ADT/SmallVector.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace lce {
llvm::SmallVector<mlir::func::FuncOp> entryFunctions(mlir::ModuleOp module);
}

#endif  // LCE_TRANSFORMS_ENTRYFUNCTIONS_H
