// C++ declarations of the `tfl` dialect (see TflBase.td / TflOps.td).
#ifndef LCE_IR_TFLOPS_H
#define LCE_IR_TFLOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "ir/TflDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "ir/TflTypes.h.inc"

#define GET_OP_CLASSES
#include "ir/TflOps.h.inc"

#endif // LCE_IR_TFLOPS_H
