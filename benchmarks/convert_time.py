"""Conversion time of a QuickNet-sized larq model (about 13 M parameters): our converter against
LCE 0.16's, in the same run. Prints the median over repeats and the ratio.

    .venv/bin/python benchmarks/convert_time.py [--repeats 3] [--input-size 224]
"""
import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input-size", type=int, default=224)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import tensorflow as tf
    import larq_compute_engine as lce
    import lce_convert
    from quicknet import quicknet

    model = quicknet(args.input_size)
    params = model.count_params()
    print("QuickNet %dx%d: %.1f M parameters" % (args.input_size, args.input_size, params / 1e6))

    t_tf, _, plain = timed(lambda: tf.lite.TFLiteConverter.from_keras_model(model).convert(), args.repeats)
    t_passes, _, _ = timed(lambda: lce_convert.convert_tflite(
        plain, experimental_enable_bitpacked_activations=True), args.repeats)
    t_ours, ours_all, ours = timed(lambda: lce_convert.convert_keras_model(
        model, experimental_enable_bitpacked_activations=True), args.repeats)
    t_lce, lce_all, theirs = timed(lambda: lce.convert_keras_model(model), args.repeats)

    print("median of %d runs (all runs in s: ours %s, LCE %s)" % (
        args.repeats, ", ".join("%.2f" % t for t in ours_all), ", ".join("%.2f" % t for t in lce_all)))
    print("  TensorFlow's plain TFLite converter : %6.2f s" % t_tf)
    print("  our passes + import/export          : %6.2f s" % t_passes)
    print("  lce_convert.convert_keras_model     : %6.2f s  (%d bytes, %d of %d layers binarized)" % (
        t_ours, len(ours), len(ours.report.binarized), len(ours.report)))
    print("  LCE 0.16 convert_keras_model        : %6.2f s  (%d bytes)" % (t_lce, len(theirs)))
    print("ratio ours / LCE: %.2f (target: <= 1.0)" % (t_ours / t_lce))


if __name__ == "__main__":
    main()
