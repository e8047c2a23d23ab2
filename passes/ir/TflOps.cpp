// Dialect registration and the few hand-written methods of the `tfl` dialect.
#include "ir/TflOps.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

#include "ir/TflDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "ir/TflTypes.cpp.inc"

namespace lce::tfl {

void TflDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/TflOps.cpp.inc"
      >();
  registerTypes();
}

void TflDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "ir/TflTypes.cpp.inc"
      >();
}

Operation *TflDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements) return nullptr;
  return ConstOp::create(builder, loc, type, elements);
}

// The storage element type of a tensor element type: the integer storage of a quantized type,
// the type itself otherwise.
static Type storageElementType(Type elementType) {
  if (auto q = dyn_cast<quant::QuantizedType>(elementType)) return q.getStorageType();
  return elementType;
}

LogicalResult ConstOp::verify() {
  auto resultType = dyn_cast<ShapedType>(getType());
  if (!resultType) return emitOpError("result must be a tensor, got ") << getType();
  auto valueType = cast<ShapedType>(getValue().getType());
  if (valueType.getElementType() == storageElementType(resultType.getElementType())) {
    if (resultType.hasRank() && valueType.hasRank() &&
        (resultType.getRank() != valueType.getRank() ||
         (resultType.hasStaticShape() && valueType.getShape() != resultType.getShape())))
      return emitOpError("value shape ") << valueType << " does not match result " << resultType;
    return success();
  }
  if (valueType.getRank() == 1 && valueType.getElementType().isUnsignedInteger(8))
    return success();  // raw little-endian buffer bytes
  return emitOpError("value of type ")
         << valueType << " is neither the result's storage type nor raw ui8 bytes";
}

OpFoldResult ConstOp::fold(FoldAdaptor) { return getValue(); }

}  // namespace lce::tfl

#define GET_OP_CLASSES
#include "ir/TflOps.cpp.inc"
