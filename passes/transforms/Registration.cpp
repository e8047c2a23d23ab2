// One place that knows every dialect and pass of lce_convert; used by lce-opt and the
// Python extension so both see the same world.
#include "transforms/Passes.h"

#include <mutex>

#include "ir/LqOps.h"
#include "ir/TflOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Transforms/Passes.h"

namespace lce {

void registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::func::FuncDialect, mlir::arith::ArithDialect, mlir::quant::QuantDialect,
                  tfl::TflDialect, lq::LqDialect>();
}

void registerAllPasses() {
  static std::once_flag once;
  std::call_once(once, [] {
    mlir::registerTransformsPasses();
    registerLcePasses();
    registerLcePipelines();
  });
}

}  // namespace lce
