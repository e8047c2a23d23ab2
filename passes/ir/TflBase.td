// The `tfl` dialect: the subset of TFLite builtin operators that the lce_convert passes reason
// about, with typed attributes, plus generic carriers (`tfl.builtin`, `tfl.custom`) through which
// every other operator travels unchanged between import and export. Attribute names follow the
// TFLite schema's snake_case field names; enums are strings ("SAME", "RELU", ...).
#ifndef LCE_TFL_BASE_TD
#define LCE_TFL_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Tfl_Dialect : Dialect {
  let name = "tfl";
  let cppNamespace = "::lce::tfl";
  let summary = "TFLite operators as imported from (and exported to) a .tflite flatbuffer";
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let usePropertiesForAttributes = 0;
  let extraClassDeclaration = [{
    void registerTypes();
  }];
}

// Tensor element types that have no builtin MLIR counterpart (STRING, RESOURCE, VARIANT, ...),
// named by their TFLite TensorType enum name.
def Tfl_ElementType : TypeDef<Tfl_Dialect, "Element"> {
  let mnemonic = "element";
  let summary = "TFLite tensor element type without a builtin MLIR equivalent";
  let parameters = (ins StringRefParameter<"TFLite TensorType name">:$name);
  let assemblyFormat = "`<` $name `>`";
}

class Tfl_Op<string mnemonic, list<Trait> traits = []> : Op<Tfl_Dialect, mnemonic, traits>;

// Padding and fused-activation enums are kept as strings ("SAME", "RELU", ...), like the TFLite
// converter's own dialect.
defvar Tfl_PaddingAttr = StrAttr;
defvar Tfl_ActivationAttr = StrAttr;

#endif // LCE_TFL_BASE_TD
