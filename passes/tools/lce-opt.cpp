// lce-opt: mlir-opt with the lce_convert dialects and passes, for the lit tests.
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "transforms/Passes.h"

int main(int argc, char **argv) {
  lce::registerAllPasses();
  mlir::DialectRegistry registry;
  lce::registerAllDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "lce_convert optimizer driver\n", registry));
}
