"""Exceptions raised by lce_convert. All derive from LceConvertError."""


class LceConvertError(Exception):
    """Base class of every lce_convert error."""


class InvalidModelError(LceConvertError, ValueError):
    """The input is not a well-formed .tflite model (or not one we can represent)."""


class PassPipelineError(LceConvertError, RuntimeError):
    """A pass pipeline was malformed or failed on the module."""


class HlsUnsupportedError(LceConvertError, ValueError):
    """The HLS lowering cannot lower this model (the message names the layer and the reason)."""


class InvalidOptionError(LceConvertError, ValueError):
    """A conversion option has a value that is not allowed."""


class InvalidInputError(LceConvertError, ValueError):
    """An input given to `Interpreter.predict` does not fit the model (type, shape, empty batch)."""


class InterpreterError(LceConvertError, RuntimeError):
    """The TFLite runtime could not prepare or run the model for a reason other than a malformed
    model (for example, not enough memory for the tensors)."""
