"""lce_convert: convert larq binarized neural networks to fast, exact TFLite models.

Importing this package is cheap: TensorFlow is imported only by the functions that need it.
"""
from .converter import (ConversionReport, ConvertedModel, LayerReport, convert_keras_model,
                        convert_saved_model, convert_tflite)
from .errors import (InterpreterError, InvalidInputError, InvalidModelError, InvalidOptionError, LceConvertError,
                     PassPipelineError)
from .interpreter import Interpreter
from .mlir import Module, import_tflite, run_pass_pipeline, tflite_to_mlir

__version__ = "0.1.0"

__all__ = [
    "ConversionReport",
    "ConvertedModel",
    "LayerReport",
    "convert_keras_model",
    "convert_saved_model",
    "convert_tflite",
    "Interpreter",
    "InterpreterError",
    "InvalidInputError",
    "InvalidModelError",
    "InvalidOptionError",
    "LceConvertError",
    "Module",
    "PassPipelineError",
    "import_tflite",
    "run_pass_pipeline",
    "tflite_to_mlir",
]
