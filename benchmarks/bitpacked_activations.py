"""Bitpacked activations must never be slower than float ones: a stack of binary 3x3 convs
(each followed by BatchNorm, so that with experimental_enable_bitpacked_activations=True every
conv but the last writes bitpacked output with thresholds) converted both ways, timed in our
runtime in the same process, the two models taking turns run by run. Prints the medians and the
ratio bitpacked / float.

    .venv/bin/python benchmarks/bitpacked_activations.py [--size 56] [--channels 64] [--layers 6]
        [--runs 50] [--threads 1] [--isa avx512|avx2|...]
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def binary_stack(size, channels, layers, seed=0):
    import numpy as np
    import tensorflow as tf
    import larq as lq
    L = tf.keras.layers
    tf.keras.utils.set_random_seed(seed)
    q = dict(input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
             use_bias=False, padding="same", pad_values=1.0)
    x = inp = tf.keras.Input((size, size, channels))
    for i in range(layers):
        x = lq.layers.QuantConv2D(channels, 3, name="bconv%d" % i, **q)(x)
        x = L.BatchNormalization(name="bn%d" % i)(x)
    model = tf.keras.Model(inp, x)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape).astype("f4"), rng.normal(0, 0.5, b.shape).astype("f4"),
                               rng.normal(0, 2, m.shape).astype("f4"), rng.uniform(0.5, 2, v.shape).astype("f4")])
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--isa", default=None, help="kernel path (LCE_KERNELS_ISA), e.g. avx2")
    args = parser.parse_args(argv)
    if args.isa:
        os.environ["LCE_KERNELS_ISA"] = args.isa
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import numpy as np
    import lce_convert
    from lce_convert import _kernels
    model = binary_stack(args.size, args.channels, args.layers)
    x = np.random.default_rng(1).normal(size=(1, args.size, args.size, args.channels)).astype(np.float32)
    runners, bitpacked_outputs = {}, {}
    for bitpacked in (False, True):
        converted = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=bitpacked)
        text = lce_convert.import_tflite(converted).text()
        bitpacked_outputs[bitpacked] = sum('"lq.Bconv2d"' in line and line.rstrip().endswith("xi32>")
                                           for line in text.splitlines())
        runners[bitpacked] = lce_convert.Interpreter(bytes(converted), num_threads=args.threads)
    times = {False: [], True: []}
    results = {}
    for _ in range(args.runs + 3):
        for bitpacked, it in runners.items():
            t0 = time.perf_counter()
            results[bitpacked] = it.predict(x)
            times[bitpacked].append(time.perf_counter() - t0)
    if not np.array_equal(results[False], results[True]):
        print("note: the outputs differ (near-ties at a binarization count as allowed; semantics.md)")
    print("%d binary 3x3 convs %dx%dx%d, ISA %s, %d thread(s), median (min) of %d runs:" % (
        args.layers, args.size, args.size, args.channels, _kernels.active_isa(), args.threads, args.runs))
    for bitpacked in (False, True):
        t = times[bitpacked][3:]
        print("  %-22s %7.3f ms (%7.3f)   Bconv2d outputs bitpacked: %d" % (
            "bitpacked activations" if bitpacked else "float activations", 1e3 * statistics.median(t), 1e3 * min(t),
            bitpacked_outputs[bitpacked]))
    ratio = statistics.median(times[True][3:]) / statistics.median(times[False][3:])
    print("  ratio bitpacked / float: %.2f" % ratio)


if __name__ == "__main__":
    main()
