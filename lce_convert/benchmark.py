"""`lce-benchmark` (also `python -m lce_convert.benchmark`): model latency, median over repeated
runs, in one process for
  - our delegate (lce_convert.Interpreter),
  - LCE 0.16's interpreter, default kernels and use_indirect_bgemm=True (if installed),
  - TFLite float (XNNPACK) on the unconverted model, if given with --float,
and the ratios against our delegate. Figures only: nothing is asserted.

    lce-benchmark converted.tflite [--float plain.tflite] [--threads 1] [--runs 20]
"""
import argparse
import statistics
import sys
import time
import warnings

import numpy as np


def _median_ms(run, runs, warmup=2):
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def _inputs(details, rng):
    out = []
    for d in details:
        shape = [max(1, int(s)) for s in d["shape"]]
        if np.issubdtype(d["dtype"], np.integer):
            out.append(rng.integers(-100, 100, size=shape).astype(d["dtype"]))
        else:
            out.append(rng.normal(size=shape).astype(d["dtype"]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lce-benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="converted .tflite (Lce* custom ops)")
    parser.add_argument("--float", dest="float_model", help="the unconverted float .tflite, for TFLite float")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    model = open(args.model, "rb").read()

    from .interpreter import Interpreter
    ours = Interpreter(model, num_threads=args.threads)
    rng = np.random.default_rng(0)
    x = _inputs(ours.input_details, rng)
    results = [("lce_convert delegate", _median_ms(lambda: ours.predict(x), args.runs))]
    try:
        from larq_compute_engine.tflite.python.interpreter import Interpreter as LceInterpreter
        for name, kwargs in (("LCE 0.16 default", {}), ("LCE 0.16 indirect_bgemm", {"use_indirect_bgemm": True})):
            lce = LceInterpreter(model, num_threads=args.threads, **kwargs)
            results.append((name, _median_ms(lambda: lce.predict(x if len(x) > 1 else x[0]), args.runs)))
    except ImportError:
        print("(larq-compute-engine not installed: no LCE figures)")
    if args.float_model:
        from ai_edge_litert.interpreter import Interpreter as LiteRt
        plain = LiteRt(model_content=open(args.float_model, "rb").read(), num_threads=args.threads)
        plain.allocate_tensors()

        def run_float():
            for d, v in zip(plain.get_input_details(), x):
                plain.set_tensor(d["index"], v)
            plain.invoke()
        results.append(("TFLite float (XNNPACK)", _median_ms(run_float, args.runs)))

    ours_ms = results[0][1][0]
    print("%d thread(s), median (min) of %d runs" % (args.threads, args.runs))
    for name, (median, best) in results:
        print("  %-26s %9.2f ms (%8.2f)   %6.2fx our time" % (name, median, best, median / ours_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
