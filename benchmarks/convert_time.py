"""Conversion time of every larq_zoo 2.4.0 model (the real definitions, weights=None): our
converter against LCE 0.16's, in the same run. Prints, per model, the median time of each over
the repeats, the ratio, and how many layers each binarized.

    .venv/bin/python benchmarks/convert_time.py [--repeats 1] [--input-size 224] [--models QuickNet,XNORNet]

larq-zoo comes from the test-only folder that tools/setup.sh fills (.venv/larq-zoo, or
LCE_CONVERT_LARQ_ZOO), with tests/zoo_stubs standing in for tensorflow_datasets. Conversion
time depends on the machine's load: run it on a quiet machine.
"""
import argparse
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = [("sota", "QuickNetSmall"), ("sota", "QuickNet"), ("sota", "QuickNetLarge"),
          ("literature", "BiRealNet"), ("literature", "BinaryAlexNet"), ("literature", "BinaryDenseNet28"),
          ("literature", "BinaryDenseNet37"), ("literature", "BinaryDenseNet37Dilated"),
          ("literature", "BinaryDenseNet45"), ("literature", "BinaryResNetE18"), ("literature", "DoReFaNet"),
          ("literature", "MeliusNet22"), ("literature", "RealToBinaryNet"), ("literature", "XNORNet")]


def import_larq_zoo():
    zoo_dir = os.environ.get("LCE_CONVERT_LARQ_ZOO", os.path.join(ROOT, ".venv", "larq-zoo"))
    if not os.path.isdir(zoo_dir):
        sys.exit("larq-zoo is not installed in %s: run tools/setup.sh" % zoo_dir)
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.join(ROOT, "tests", "zoo_stubs"))
    sys.path.append(zoo_dir)
    import larq_zoo
    return larq_zoo


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            result = fn()
        except Exception as e:  # LCE 0.16's converter crashes on DoReFaNet
            return None, [], e
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--models", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import numpy as np
    import tensorflow as tf
    import larq_compute_engine as lce
    import lce_convert
    lqz = import_larq_zoo()
    wanted = set(filter(None, args.models.split(",")))
    size = args.input_size

    print("larq_zoo %s at %dx%d, median of %d run(s), bitpacked activations for ours (LCE's default)"
          % (lqz.__version__, size, size, args.repeats))
    print("%-24s %7s %9s %9s %7s %12s" % ("model", "params", "ours [s]", "LCE [s]", "ratio", "bconv ours/LCE"))
    ratios = []
    for module, name in MODELS:
        if wanted and name not in wanted:
            continue
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(0)
        model = getattr(getattr(lqz, module), name)(input_shape=(size, size, 3), weights=None)
        model(np.zeros((1, size, size, 3), np.float32))
        t_ours, _, ours = timed(lambda: lce_convert.convert_keras_model(
            model, experimental_enable_bitpacked_activations=True), args.repeats)
        t_lce, _, theirs = timed(lambda: lce.convert_keras_model(model), args.repeats)
        count = lambda m: lce_convert.tflite_to_mlir(m).count('"lq.Bconv2d"')
        ours_n = "error" if isinstance(ours, Exception) else str(count(ours))
        lce_n = "crash" if isinstance(theirs, Exception) else str(count(theirs))
        ratio = "" if t_ours is None or t_lce is None else "%.2f" % (t_ours / t_lce)
        if ratio:
            ratios.append(t_ours / t_lce)
        print("%-24s %6.1fM %9s %9s %7s %12s" % (
            name, model.count_params() / 1e6, "%.2f" % t_ours if t_ours is not None else "error",
            "%.2f" % t_lce if t_lce is not None else "crash", ratio, "%s/%s" % (ours_n, lce_n)), flush=True)
        if isinstance(ours, Exception):
            print("  ours failed: %s" % str(ours).splitlines()[0])
    if ratios:
        print("ratio ours / LCE: max %.2f, median %.2f (target: <= 1.0 on every model)"
              % (max(ratios), statistics.median(ratios)))


if __name__ == "__main__":
    main()
