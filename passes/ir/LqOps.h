// C++ declarations of the `lq` dialect (see LqOps.td and docs/semantics.md).
#ifndef LCE_IR_LQOPS_H
#define LCE_IR_LQOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "ir/LqDialect.h.inc"

#define GET_OP_CLASSES
#include "ir/LqOps.h.inc"

namespace lce::lq {
// Number of int32 words that hold `channels` bits.
inline int64_t packedWords(int64_t channels) { return (channels + 31) / 32; }
}  // namespace lce::lq

#endif // LCE_IR_LQOPS_H
