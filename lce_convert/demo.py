"""`make demo`: build a small larq BNN in code and
1. round-trip TensorFlow's plain .tflite through our MLIR import/export (outputs identical);
2. convert it with `convert_keras_model(..., experimental_enable_bitpacked_activations=True)`,
   print the conversion report and the MLIR of the binary layers, and check the converted
   model against Keras in LCE 0.16's interpreter and in ours (lce_convert.Interpreter);
3. print the latency of our delegate, LCE 0.16 and TFLite float, measured in the same run.
"""
import os
import sys
import time
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_model():
    import numpy as np
    import tensorflow as tf
    import larq as lq

    tf.keras.utils.set_random_seed(42)
    kw = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign",
              kernel_constraint="weight_clip", use_bias=False)
    model = tf.keras.Sequential([
        tf.keras.Input((16, 16, 1)),
        tf.keras.layers.Conv2D(32, 3, padding="same", use_bias=False),
        tf.keras.layers.BatchNormalization(),
        lq.layers.QuantConv2D(32, 3, padding="same", pad_values=1.0, **kw),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.MaxPool2D(2),
        lq.layers.QuantConv2D(64, 3, padding="same", **kw),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.GlobalAveragePooling2D(),
        lq.layers.QuantDense(10, **kw),
        tf.keras.layers.Activation("softmax"),
    ])
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial BatchNorm statistics, as after training
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("f4") if i in (0, 3)
                               else rng.normal(0, 0.5, w.shape).astype("f4")
                               for i, w in enumerate(layer.get_weights())])
    return model


def run(model_bytes, x):
    import tensorflow as tf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = tf.lite.Interpreter(model_content=model_bytes)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def main():
    import numpy as np
    import tensorflow as tf

    import lce_convert

    model = build_model()
    import larq as lq
    lq.models.summary(model)
    tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()

    start = time.perf_counter()
    module = lce_convert.import_tflite(tflite)
    text = module.text(elide_large_constants=8)
    roundtrip = module.to_tflite()
    elapsed = time.perf_counter() - start

    lines = text.splitlines()
    first = [l for l in lines if "tfl.const" not in l][:14]
    print("\n== MLIR of the first layers (constants omitted) ==")
    print("\n".join(first))
    print("   ... (%d lines in all)" % len(lines))
    print("\n== round trip: %d bytes -> MLIR -> %d bytes in %.3f s" % (len(tflite), len(roundtrip), elapsed))

    x = np.random.default_rng(0).normal(size=(1, 16, 16, 1)).astype(np.float32)
    before, after = run(tflite, x), run(roundtrip, x)
    keras = model(x, training=False).numpy()
    print("keras vs tflite max |diff|: %.3g" % float(np.max(np.abs(keras - before))))
    if not np.array_equal(before, after):
        print("round trip outputs DIFFER: max |diff| %g" % float(np.max(np.abs(before - after))))
        return 1
    print("outputs identical")

    print("\n== convert_keras_model(experimental_enable_bitpacked_activations=True) ==")
    start = time.perf_counter()
    converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True)
    print("converted in %.2f s: %d bytes (plain float model: %d bytes)"
          % (time.perf_counter() - start, len(converted), len(tflite)))
    print(converted.report)
    text = lce_convert.tflite_to_mlir(converted, elide_large_constants=4)
    print("\n== MLIR of the converted model (constants omitted) ==")
    print("\n".join(l for l in text.splitlines() if "tfl.const" not in l and "no_value" not in l))

    from larq_compute_engine.tflite.python.interpreter import Interpreter as LceInterpreter
    samples = np.random.default_rng(1).normal(size=(8, 16, 16, 1)).astype(np.float32)
    keras = model(samples, training=False).numpy()
    ours = np.asarray(LceInterpreter(converted).predict(samples))
    diff = float(np.max(np.abs(ours - keras)))
    same_class = int(np.sum(np.argmax(ours, 1) == np.argmax(keras, 1)))
    print("\nconverted model (LCE 0.16 interpreter) vs Keras on %d samples: max |diff| %.3g, "
          "same class for %d/%d" % (len(samples), diff, same_class, len(samples)))
    ours = lce_convert.Interpreter(converted).predict(samples)
    ours_diff = float(np.max(np.abs(ours - keras)))
    print("converted model (our delegate) vs Keras: max |diff| %.3g" % ours_diff)

    hls_ok = _hls_demo(converted, samples)

    print("\n== latency, one thread, one sample (median of 50 runs) ==")
    import tempfile
    from . import benchmark
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("converted.tflite", "plain.tflite")]
        for path, data in zip(paths, (converted, tflite)):
            with open(path, "wb") as f:
                f.write(data)
        benchmark.main([paths[0], "--float", paths[1], "--runs", "50"])
    return 0 if diff < 1e-4 and ours_diff < 1e-4 and hls_ok else 1


def _hls_demo(converted, samples):
    """Lower the converted model to Vitis-HLS C++, C-simulate it and compare layer by layer."""
    import tempfile
    import numpy as np
    from . import hls
    from .errors import LceConvertError
    print("\n== HLS lowering (lce_convert.hls): report, g++ C-simulation vs our CPU runtime ==")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            project = hls.export(converted, os.path.join(tmp, "hls"))
            print(project.report_text)
            x = hls.quantize_input(samples, project.design.input_type).astype(np.float32)
            rows = hls.compare(project, converted, x, verbose=1)
        except LceConvertError as e:
            print("skipped: %s" % e)
            return True
    ok = True
    for r in rows:
        if r["kind"] == "bits":
            print("  %-12s bits differing from the CPU: %d" % (r["name"], r["mismatches"]))
            ok &= r["mismatches"] == 0
        elif "max_abs_diff" in r:
            print("  %-12s max |C-sim - CPU| %.3g" % (r["name"], r["max_abs_diff"]))
    return ok


if __name__ == "__main__":
    sys.exit(main())
