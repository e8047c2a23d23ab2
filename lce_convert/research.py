"""Research utilities (LCE's `larq_compute_engine.mlir.python.util` equivalents):

- `strip_lcedequantize_ops(model)`: the model outputs the bitpacked int32 tensors instead of
  their LceDequantize (so that a caller can read the bits), also where an int8 LceDequantize is
  followed by an output DEQUANTIZE (an int8 model with float outputs).
- `modify_integer_quantized_model_io_type(model, inference_input_type, inference_output_type)`:
  an int8-quantized model with float32 inputs/outputs gets int8 ones.

Both work on every entry subgraph (not on control-flow bodies), keep signature defs consistent
and drop the buffers that become unused. Both are MLIR passes (lq-strip-output-dequantize,
tfl-int8-io) under a thin Python layer that checks arguments and explains what cannot be done.
"""
from .mlir import import_tflite


def _output_types(module):
    """[(function name, [output element types], [input element types])] of a module."""
    return [(f["function"], [t["elem"] for t in f["outputs"]], [t["elem"] for t in f["inputs"]])
            for f in module.output_types()]


def _type_name(t, what):
    name = getattr(t, "name", t)
    if name not in ("float32", "int8"):
        raise ValueError("%s must be tf.float32 or tf.int8, got %r" % (what, t))
    return name


def strip_lcedequantize_ops(model):
    """Make each model output that LceDequantize produces (directly, or through the DEQUANTIZE
    of its int8 result) the bitpacked int32 tensor itself.

    Raises ValueError if no output of any entry subgraph is produced by an LceDequantize (a
    float model, or one whose binary outputs were already stripped)."""
    module = import_tflite(model)
    before = _output_types(module)
    module.run_pipeline("lq-strip-output-dequantize")
    after = _output_types(module)
    if before == after:
        raise ValueError("no model output is produced by LceDequantize: nothing to strip (outputs: %s)"
                         % ", ".join("%s -> %s" % (name, outs) for name, outs, _ in before))
    return module.to_tflite()


def modify_integer_quantized_model_io_type(model, inference_input_type="float32",
                                           inference_output_type="float32"):
    """Make the float32 inputs (outputs) of an int8-quantized model int8, removing the
    QUANTIZE (DEQUANTIZE) ops at the model boundary. Types are tf.float32 or tf.int8."""
    input_type = _type_name(inference_input_type, "inference_input_type")
    output_type = _type_name(inference_output_type, "inference_output_type")
    module = import_tflite(model)
    if input_type == output_type == "float32":
        return module.to_tflite()
    before = _output_types(module)
    module.run_pipeline("tfl-int8-io{input-int8=%s output-int8=%s}"
                        % (str(input_type == "int8").lower(), str(output_type == "int8").lower()))
    after = _output_types(module)
    for (name, outs_b, ins_b), (_, outs_a, ins_a) in zip(before, after):
        if input_type == "int8" and any(t == "f32" for t in ins_a) and ins_a == ins_b:
            raise ValueError("Model is not integer quantized: no float32 input of %s is quantized to "
                             "int8 by a QUANTIZE op" % name)
        if output_type == "int8" and any(t == "f32" for t in outs_a) and outs_a == outs_b:
            raise ValueError("Model is not integer quantized: no float32 output of %s comes from an "
                             "int8 DEQUANTIZE op" % name)
    return module.to_tflite()
