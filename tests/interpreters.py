"""Running .tflite models in the real interpreters, for comparisons in tests."""
import warnings

import numpy as np


def make_interpreter(model_bytes, runtime="tf"):
    if runtime == "tf":
        import tensorflow as tf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            it = tf.lite.Interpreter(model_content=model_bytes)
    elif runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter
        it = Interpreter(model_content=model_bytes)
    elif runtime == "lce":
        from larq_compute_engine.tflite.python.interpreter import Interpreter
        return Interpreter(model_bytes)
    else:
        raise ValueError(runtime)
    it.allocate_tensors()
    return it


def random_inputs(model_bytes, seed=0, runtime="tf"):
    """Seeded random inputs matching the model's input details (ints in a small range)."""
    it = make_interpreter(model_bytes, runtime)
    rng = np.random.default_rng(seed)
    out = []
    if runtime == "lce":
        details = [{"shape": s, "dtype": np.dtype(t)} for s, t in zip(it.input_shapes, it.input_types)]
    else:
        details = it.get_input_details()
    for d in details:
        shape = [max(1, s) for s in d["shape"]]
        if np.issubdtype(d["dtype"], np.integer):
            lo, hi = (0, 5) if d["dtype"] == np.int32 and len(shape) == 0 else (-100, 100)
            out.append(rng.integers(lo, hi, size=shape).astype(d["dtype"]))
        else:
            out.append(rng.normal(size=shape).astype(d["dtype"]))
    return out


def run(model_bytes, inputs, runtime="tf"):
    """All outputs of the model for `inputs`, in output order."""
    if runtime == "lce":
        it = make_interpreter(model_bytes, "lce")
        outs = it.predict(inputs if len(inputs) > 1 else inputs[0])
        return [np.asarray(o) for o in (outs if isinstance(outs, list) else [outs])]
    it = make_interpreter(model_bytes, runtime)
    for d, x in zip(it.get_input_details(), inputs):
        if list(d["shape"]) != list(x.shape):
            it.resize_tensor_input(d["index"], x.shape)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]
