"""Conversion time of every larq_zoo 2.4.0 model (the real definitions, weights=None): our
converter against LCE 0.16's, in the same run. Prints, per model, the median time of each over
the repeats, the ratio, and how many layers each binarized.

    .venv/bin/python benchmarks/convert_time.py [--repeats 1] [--input-size 224] [--models QuickNet,XNORNet]

larq-zoo comes from the test-only folder that tools/setup.sh fills (.venv/larq-zoo, or
LCE_CONVERT_LARQ_ZOO), with tests/zoo_stubs standing in for tensorflow_datasets. Each model is
measured in a child process (LCE 0.16's converter crashes the process on DoReFaNet).
Conversion time depends on the machine's load: run it on a quiet machine.
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


def measure(module, name, size, repeats):
    """One model, in this process: prints a JSON line for ours, then one for LCE (whose
    converter may crash the process: DoReFaNet)."""
    import json

    import numpy as np
    import tensorflow as tf
    import larq_compute_engine as lce
    import lce_convert
    lqz = import_larq_zoo()
    tf.keras.utils.set_random_seed(0)
    model = getattr(getattr(lqz, module), name)(input_shape=(size, size, 3), weights=None)
    model(np.zeros((1, size, size, 3), np.float32))
    count = lambda m: lce_convert.tflite_to_mlir(m).count('"lq.Bconv2d"')
    # Warm-up: TensorFlow's first conversion in a process pays its one-time set-up.
    import larq as lq
    tiny_in = tf.keras.Input((8, 8, 3))
    tiny = tf.keras.Model(tiny_in, lq.layers.QuantConv2D(8, 3, input_quantizer="ste_sign",
                                                          kernel_quantizer="ste_sign")(tiny_in))
    lce_convert.convert_keras_model(tiny)
    lce.convert_keras_model(tiny)
    for who, convert in (("ours", lambda: lce_convert.convert_keras_model(
            model, experimental_enable_bitpacked_activations=True)), ("lce", lambda: lce.convert_keras_model(model))):
        t, _, result = timed(convert, repeats)
        print(json.dumps({"who": who, "params": model.count_params(), "time": t,
                          "bconv": None if isinstance(result, Exception) else count(result),
                          "error": str(result).splitlines()[0][:200] if isinstance(result, Exception) else None}),
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--models", default="", help="comma-separated names (default: all)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # module:name, measured in this process
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.one:
        measure(*args.one.split(":"), args.input_size, args.repeats)
        return

    import json
    import subprocess
    wanted = set(filter(None, args.models.split(",")))
    print("larq_zoo 2.4.0 at %dx%d, median of %d run(s), bitpacked activations for ours (LCE's default); "
          "each model in its own process" % (args.input_size, args.input_size, args.repeats))
    print("%-24s %7s %9s %9s %7s %14s" % ("model", "params", "ours [s]", "LCE [s]", "ratio", "bconv ours/LCE"))
    ratios = []
    for module, name in MODELS:
        if wanted and name not in wanted:
            continue
        run = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", "%s:%s" % (module, name),
                              "--input-size", str(args.input_size), "--repeats", str(args.repeats)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        rows = {}
        for line in run.stdout.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                rows[row["who"]] = row
        ours, theirs = rows.get("ours"), rows.get("lce")
        if theirs is None and ours is not None:
            theirs = {"time": None, "bconv": None, "error": "the process died (exit %d)" % run.returncode}
        if ours is None:
            print("%-24s failed (exit %d)" % (name, run.returncode))
            continue
        fmt = lambda r: "%.2f" % r["time"] if r["time"] is not None else ("crash" if r is theirs else "error")
        ratio = ""
        if ours["time"] is not None and theirs["time"] is not None:
            ratios.append(ours["time"] / theirs["time"])
            ratio = "%.2f" % ratios[-1]
        print("%-24s %6.1fM %9s %9s %7s %14s" % (name, ours["params"] / 1e6, fmt(ours), fmt(theirs), ratio,
                                                "%s/%s" % (ours["bconv"], "-" if theirs["bconv"] is None else theirs["bconv"])),
              flush=True)
        for who, r in (("ours", ours), ("LCE", theirs)):
            if r["error"]:
                print("  %s: %s" % (who, r["error"]))
    if ratios:
        print("ratio ours / LCE: max %.2f, median %.2f (target: <= 1.0 on every model)"
              % (max(ratios), statistics.median(ratios)))


if __name__ == "__main__":
    main()
