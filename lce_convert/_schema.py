"""Access to the TFLite flatbuffer schema's generated Python module.

No wheel ships schema.fbs, but ai_edge_litert and tensorflow both ship the generated Python
module (with the object API). We use ai_edge_litert's (newer, and importing it does not pull in
TensorFlow), falling back to TensorFlow's.
"""
import functools


@functools.lru_cache(maxsize=None)
def schema():
    try:
        from ai_edge_litert import schema_py_generated as s
    except ImportError:  # pragma: no cover - depends on the installed runtime
        from tensorflow.lite.python import schema_py_generated as s
    return s


def enum_names(enum_class):
    """{value: NAME} of a generated enum class."""
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


def enum_values(enum_class):
    """{NAME: value} of a generated enum class."""
    return {k: v for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}
