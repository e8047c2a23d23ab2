"""The schema of a model description: the plain Python form in which a model crosses between
the flatbuffer code (`_tflite_io`) and the MLIR bridge (`_core`).

`Module.description()` returns a `Description` (what `_core.Module.to_description` builds in
passes/bindings/Core.cpp); `_tflite_io.write` turns one into .tflite bytes. The import direction
(`_tflite_io.read` -> `_core.Module.from_description`) uses the same layout with two
differences (see `ImportOp`): types are MLIR type strings
("tensor<1x8x8x3xf32>") and constants carry their bytes (`data`, a numpy array) and an MLIR type
string (`data_type`) instead of a blob index.

The views `Module.layers()`, `Module.output_types()` and `Module.signatures()` return the
`Layer`, `FunctionTypes` and `Signature` records defined here.

Attribute values are plain Python: bool, int, float, bytes (MLIR strings), dict, list, numpy
arrays (dense elements), None (unit attributes), `_core.SymbolRef` (symbol references) and
`_core.Scalar` (typed scalars on the import side).
"""
from typing import Any, Dict, List, Optional, Tuple, TypedDict


# Module attributes that `_tflite_io` reads and writes (the flatbuffer's model-level fields).
SCHEMA_VERSION = "tfl.schema_version"
DESCRIPTION = "tfl.description"
METADATA = "tfl.metadata"
METADATA_BUFFER = "tfl.metadata_buffer"
SIGNATURES = "tfl.signatures"


class QuantType(TypedDict):
    """A quantized element type."""
    storage: str                 # "i8", "ui8", "i16", ... (storage type, "u" for unsigned)
    axis: int                    # quantized dimension, -1 for per-tensor
    scales: List[float]
    zero_points: List[int]


class Type(TypedDict):
    """The type of a value."""
    shape: Optional[List[int]]   # None when unranked; -1 for a dynamic dimension
    quant: Optional[QuantType]   # None unless the element type is quantized
    elem: str                    # "f32", "i32", "i8", "i1", "none", a tfl element type name, ...


class Arg(TypedDict):
    """A function argument (a subgraph input)."""
    id: int                      # value id, unique within the function
    type: Type
    name: Optional[bytes]        # the tensor name
    attrs: Dict[str, Any]


class Result(TypedDict):
    id: int
    type: Type
    name: Optional[bytes]


class _OpData(TypedDict, total=False):
    data: int                    # constants (tfl.const, tfl.variable): index into Description.blobs
    data_elem: str               # ... and the element type of that data


class Op(_OpData):
    """One operation; values are referred to by id (args first, then results in order)."""
    name: str                    # "tfl.conv_2d", "lq.Bconv2d", "tfl.const", ...
    operands: List[int]
    results: List[Result]
    attrs: Dict[str, Any]


class Function(TypedDict):
    """One function (a TFLite subgraph)."""
    name: str
    attrs: Dict[str, Any]
    args: List[Arg]
    ops: List[Op]
    returns: List[int]           # value ids of the outputs


class Description(TypedDict):
    """A whole module, as `Module.description()` returns it."""
    attrs: Dict[str, Any]        # module attributes; see SIGNATURES etc. above
    functions: List[Function]
    blobs: List[bytes]           # raw little-endian constant data, shared between equal constants


class _ImportOpOptional(TypedDict, total=False):
    attrs: Dict[str, Any]
    data: Any                    # numpy array with the constant's raw bytes
    data_type: str               # its MLIR tensor type


class ImportOp(_ImportOpOptional):
    """(Import side) an op as `_tflite_io.read` writes it."""
    name: str
    operands: List[int]
    results: List[Dict[str, Any]]        # {"type": MLIR type string, "name": bytes or None}


# -- the views of Module --

class Value(TypedDict):
    """An operand or result of a `Layer`."""
    id: int
    type: Type
    name: str                    # tensor name ("" if none)
    constant: Optional[bytes]    # raw data if a constant op produces the value, else None


class Layer(TypedDict):
    """A non-constant op of a function, with its operands resolved (`Module.layers()`)."""
    function: str
    index: int                   # position among the function's ops (constants included)
    op: str
    name: str                    # the tensor name of its first result ("" if none)
    attrs: Dict[str, Any]
    operands: List[Value]
    results: List[Value]


class FunctionTypes(TypedDict):
    """The input and output types of one function (`Module.output_types()`)."""
    function: str
    inputs: List[Type]
    outputs: List[Type]


class Signature(TypedDict):
    """A TFLite signature def (`Module.signatures()`)."""
    key: str
    function: str
    inputs: List[Tuple[str, int]]    # (name, position among the function's inputs)
    outputs: List[Tuple[str, int]]   # (name, position among the function's outputs)
