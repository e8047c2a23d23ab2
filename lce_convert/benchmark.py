"""`lce-benchmark` (also `python -m lce_convert.benchmark`): model latency, median over repeated
runs (the runtimes take turns, run by run; a run sets the inputs, invokes and reads the outputs,
the same work in every runtime), in one process for
  - our delegate (lce_convert.Interpreter),
  - LCE 0.16's interpreter, default kernels and use_indirect_bgemm=True (if installed),
  - TFLite float (XNNPACK) on the unconverted model, if given with --float,
and the ratios against our delegate. Figures only: nothing is asserted.

    lce-benchmark converted.tflite [--float plain.tflite] [--threads 1[,2,...]] [--runs 20] [--consecutive]
                  [--profile] [--bounds] [--json out.json] [--csv out.csv] [--plot profile.png]

Our delegate also runs with its fused epilogues off (`Interpreter(fuse=False)`: the float ops
after each Bconv2d run in TFLite/XNNPACK), and, when --threads lists more than one count, at
each further count, so that the fusion and the threading gains are ratios within one run.

`--profile` adds a per-op profile. The TFLite Python interpreters have no op profiler, so every
operator is timed alone: a one-op model is cut from the model (the operator, its constant
inputs, its other inputs as model inputs), fed the real intermediate values of the full model
(captured once by a variant whose outputs are every tensor), and timed in each runtime as the
median of "set inputs, invoke, read outputs" (the same work in every runtime; LCE's wrapper
offers nothing finer). The copies and the per-invoke overhead are included, so the sum of the
per-op times exceeds the full model's time; it is printed next to it. For our delegate the
time of every Lce node measured inside the full model (LCE_DELEGATE_PROFILE, no copies; mean
over the runs) is printed as well. Each profile row names the layer: the TFLite name of the
op's output tensor (TensorFlow puts the Keras layer's name scope there).

`--bounds` prints what the model's time is made of and what bounds it on this machine: for each
thread count, the full model's median time split into our delegate's nodes and the rest (the
ops TFLite/XNNPACK runs, TFLite's invoke, the input and output copies), measured in the same
invokes (the delegate's profile on); the binary MACs of our Bconv2d nodes and their time at this
core's peak for the kernel path that runs (a register-resident loop of its instruction mix: the
XOR + popcount vector loop for AVX-512 and NEON, the byte-LUT loop for AVX2; measured in the
same run); and from
these the floor of the model with every binary conv at that peak and the rest as measured (so
the largest possible ratio against TFLite float), and the largest possible speed-up of each
further thread count with our nodes scaling perfectly.

`--json` / `--csv` write the figures (and the profile) in machine-readable form, `--plot` draws
the per-layer times of each runtime (it implies --profile; needs matplotlib:
pip install 'lce_convert[plot]').
"""
import argparse
import statistics
import sys
import time
import warnings

import numpy as np

from .errors import LceConvertError


def _interleaved_ms(runners, runs, warmup=2, consecutive=False):
    """[(name, (median ms, min ms))]: the runners take turns, run by run, so that load from
    other jobs on a shared machine affects all of them alike (each run then starts with the
    caches the other runtimes left); with `consecutive`, each runner does all its runs in a row
    (warm caches, as a deployed model runs)."""
    times = [[] for _ in runners]
    if consecutive:
        for (_, run), t in zip(runners, times):
            for _ in range(warmup):
                run()
            for _ in range(runs):
                start = time.perf_counter()
                run()
                t.append((time.perf_counter() - start) * 1e3)
        return [(name, (statistics.median(t), min(t))) for (name, _), t in zip(runners, times)]
    for _, run in runners:
        for _ in range(warmup):
            run()
    for _ in range(runs):
        for (_, run), t in zip(runners, times):
            start = time.perf_counter()
            run()
            t.append((time.perf_counter() - start) * 1e3)
    return [(name, (statistics.median(t), min(t))) for (name, _), t in zip(runners, times)]


def _inputs(details, rng):
    out = []
    for d in details:
        shape = [max(1, int(s)) for s in d["shape"]]
        if np.issubdtype(d["dtype"], np.integer):
            out.append(rng.integers(-100, 100, size=shape).astype(d["dtype"]))
        else:
            out.append(rng.normal(size=shape).astype(d["dtype"]))
    return out


# --- per-op profile ------------------------------------------------------------------------------

def _model_t(model_bytes):
    from ._tflite_io import model_object
    return model_object(model_bytes)


def _pack(model_t):
    from ._tflite_io import model_bytes
    return model_bytes(model_t)


def _op_name(model_t, op):
    from ._schema import enum_names, schema
    code = model_t.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if code.customCode:
        return code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
    return enum_names(schema().BuiltinOperator).get(builtin, str(builtin))


def _is_constant(model_t, tensor):
    buf = model_t.buffers[tensor.buffer] if 0 < tensor.buffer < len(model_t.buffers) else None
    return buf is not None and buf.data is not None and len(buf.data) > 0


def _all_outputs_model(model_bytes):
    """The model with every operator output as a model output (for capturing intermediates)."""
    m = _model_t(model_bytes)
    sg = m.subgraphs[0]
    outs = []
    for op in sg.operators:
        outs += [t for t in op.outputs if t >= 0 and t not in outs]
    sg.outputs = outs
    m.signatureDefs = None
    return _pack(m), outs


def _one_op_model(model_t, index):
    """Operator `index` of subgraph 0 alone: (model bytes, original indices of its inputs)."""
    import copy
    from ._schema import schema
    s = schema()
    sg = model_t.subgraphs[0]
    op = copy.deepcopy(sg.operators[index])
    used = [t for t in list(op.inputs) + list(op.outputs) if t >= 0]
    used = list(dict.fromkeys(used))
    new_index = {t: i for i, t in enumerate(used)}
    buffers = [s.BufferT()]
    tensors, inputs = [], []
    for t in used:
        tensor = copy.copy(sg.tensors[t])
        if _is_constant(model_t, tensor):
            buffers.append(model_t.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
            if t in op.inputs:
                inputs.append(t)
        tensors.append(tensor)
    op.inputs = [new_index[t] if t >= 0 else -1 for t in op.inputs]
    op.outputs = [new_index[t] for t in op.outputs]
    if getattr(op, "intermediates", None) is not None and len(op.intermediates):
        raise ValueError("operators with intermediates are not supported")
    sub = s.SubGraphT()
    sub.tensors, sub.operators = tensors, [op]
    sub.inputs, sub.outputs = [new_index[t] for t in inputs], list(op.outputs)
    sub.name = "op%d" % index
    m = s.ModelT()
    m.version, m.description = model_t.version, "one op"
    m.operatorCodes, m.buffers, m.subgraphs = model_t.operatorCodes, buffers, [sub]
    return _pack(m), inputs


class _TfliteRunner:
    """set inputs, invoke, read outputs; for tf.lite-style interpreters (ours, TFLite float)."""

    def __init__(self, interpreter, inputs):
        self.it = interpreter
        self.inputs = [(d["index"], v) for d, v in zip(interpreter.get_input_details(), inputs)]
        self.outputs = [d["index"] for d in interpreter.get_output_details()]

    def __call__(self):
        for index, value in self.inputs:
            self.it.set_tensor(index, value)
        self.it.invoke()
        return [self.it.get_tensor(i) for i in self.outputs]


def _make_runner(runtime, model_bytes, inputs, threads):
    if runtime == "ours":
        from .interpreter import Interpreter
        return _TfliteRunner(Interpreter(model_bytes, num_threads=threads)._interpreter, inputs)
    if runtime == "float":
        from ai_edge_litert.interpreter import Interpreter as LiteRt
        it = LiteRt(model_content=model_bytes, num_threads=threads)
        it.allocate_tensors()
        return _TfliteRunner(it, inputs)
    from larq_compute_engine.tflite.python.interpreter import Interpreter as LceInterpreter
    lce = LceInterpreter(model_bytes, num_threads=threads, use_indirect_bgemm=runtime == "lce_indirect")
    return lambda: lce.interpreter.predict(inputs)


def _capture(model_bytes, x, runtime, threads):
    """Values of every operator output of the full model for input x: {tensor index: array}."""
    data, outs = _all_outputs_model(model_bytes)
    values = _make_runner(runtime, data, x, threads)()
    return dict(zip(outs, values))


def _layer_name(tensor):
    """A profile row's layer: the op's output tensor name, without TensorFlow's fused-op prefixes
    (the part after the last ';') and the model's own scope."""
    name = tensor.name.decode("utf-8", "replace") if isinstance(tensor.name, bytes) else str(tensor.name or "")
    name = name.split(";")[-1]
    parts = name.split("/")
    return "/".join(parts[1:]) if len(parts) > 2 else name


def _profile(model_bytes, x, runtimes, threads, runs, title="profile"):
    """[(op index, op name, output shape, {runtime: median ms}, layer name)] for subgraph 0 of
    the model, with a progress bar over the ops on stderr."""
    model_t = _model_t(model_bytes)
    sg = model_t.subgraphs[0]
    values = _capture(model_bytes, x, runtimes[0], threads)
    for t, v in zip(sg.inputs, x):
        values[t] = v
    rows = []
    try:
        from tqdm import tqdm
        ops = tqdm(list(enumerate(sg.operators)), desc=title, unit="op", file=sys.stderr, leave=False)
    except ImportError:
        ops = enumerate(sg.operators)
    for i, op in ops:
        name = _op_name(model_t, op)
        shape = list(sg.tensors[op.outputs[0]].shape) if len(op.outputs) else []
        layer = _layer_name(sg.tensors[op.outputs[0]]) if len(op.outputs) else ""
        sub, inputs = _one_op_model(model_t, i)
        runners = []
        for runtime in runtimes:
            try:
                runner = _make_runner(runtime, sub, [values[t] for t in inputs], threads)
                runner()
                runners.append((runtime, runner))
            except Exception as e:  # a runtime that cannot run this op alone: reported, not fatal
                print("  (op %d %s: %s failed: %s)" % (i, name, runtime, (str(e).splitlines() or [""])[0][:100]))
        times = dict.fromkeys(runtimes)
        times.update({runtime: median for runtime, (median, _) in _interleaved_ms(runners, runs, warmup=1)})
        rows.append((i, name, shape, times, layer))
    return rows


def _delegate_kernel_isa():
    """The kernel path our delegate runs (its own answer: also right on a runtime-only install,
    which has no lce_convert._kernels)."""
    import ctypes
    from .interpreter import delegate_path
    lib = ctypes.CDLL(delegate_path())
    lib.lce_delegate_kernel_isa.restype = ctypes.c_char_p
    return lib.lce_delegate_kernel_isa().decode()


def _delegate_node_times(model_bytes, x, threads, runs):
    """{node index: ms per invoke} of our delegate's nodes inside the full model (mean over
    `runs` invokes after a warm-up)."""
    import ctypes
    from .interpreter import Interpreter, delegate_path
    lib = ctypes.CDLL(delegate_path())
    lib.lce_delegate_profile_entry.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                               ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_double),
                                               ctypes.POINTER(ctypes.c_int64)]
    ours = Interpreter(model_bytes, num_threads=threads)
    ours.predict(x)
    lib.lce_delegate_profile_reset()
    lib.lce_delegate_profile_enable(1)
    try:
        for _ in range(runs):
            ours.predict(x)
    finally:
        lib.lce_delegate_profile_enable(0)
    out = {}
    node, seconds, calls = ctypes.c_int(), ctypes.c_double(), ctypes.c_int64()
    for i in range(max(0, lib.lce_delegate_profile_entry(-1, None, None, None, None))):
        lib.lce_delegate_profile_entry(i, ctypes.byref(node), None, ctypes.byref(seconds), ctypes.byref(calls))
        out[node.value] = seconds.value * 1e3 / max(1, calls.value)
    lib.lce_delegate_profile_reset()
    return out


def _profile_lib():
    import ctypes
    from .interpreter import delegate_path
    lib = ctypes.CDLL(delegate_path())
    lib.lce_delegate_profile_entry.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                               ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_double),
                                               ctypes.POINTER(ctypes.c_int64)]
    lib.lce_delegate_profile_entry_macs.restype = ctypes.c_int64
    lib.lce_delegate_profile_entry_macs.argtypes = [ctypes.c_int]
    lib.lce_delegate_kernel_peak.restype = ctypes.c_double
    lib.lce_delegate_kernel_peak.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
    return lib


def _split_ms(lib, model_bytes, x, threads, runs):
    """Medians over `runs` runs (set inputs, invoke, read outputs) of the full model: (whole ms,
    our nodes' ms, the rest ms), each run's own split (the delegate's profile on, reset before
    each); and the binary MACs of our nodes per invoke."""
    import ctypes
    from .interpreter import Interpreter
    run = _TfliteRunner(Interpreter(model_bytes, num_threads=threads)._interpreter, x)
    for _ in range(2):
        run()
    whole, inside, rest, macs = [], [], [], 0
    seconds, calls = ctypes.c_double(), ctypes.c_int64()
    lib.lce_delegate_profile_enable(1)
    try:
        for _ in range(runs):
            lib.lce_delegate_profile_reset()
            start = time.perf_counter()
            run()
            ms = (time.perf_counter() - start) * 1e3
            nodes, macs = 0.0, 0
            for i in range(max(0, lib.lce_delegate_profile_entry(-1, None, None, None, None))):
                lib.lce_delegate_profile_entry(i, None, None, ctypes.byref(seconds), ctypes.byref(calls))
                nodes += seconds.value * 1e3
                macs += lib.lce_delegate_profile_entry_macs(i) * calls.value
            whole.append(ms), inside.append(nodes), rest.append(ms - nodes)
    finally:
        lib.lce_delegate_profile_enable(0)
        lib.lce_delegate_profile_reset()
    return (statistics.median(whole), statistics.median(inside), statistics.median(rest)), macs


def _times(a, b):
    """a / b as "1.23x", or "-" when b is not positive (e.g. no node of ours ran)."""
    return "%.2fx" % (a / b) if b > 0 else "-"


def _bounds(model_bytes, x, counts, runs, float_ms):
    """--bounds: prints the split of the model's time per thread count and the bounds that follow
    from this core's peak for the active kernel path; returns them for the JSON report."""
    import ctypes
    lib = _profile_lib()
    name = ctypes.c_char_p()
    splits, macs = {}, 0
    for t in counts:
        splits[t], macs = _split_ms(lib, model_bytes, x, t, runs)
    peak = lib.lce_delegate_kernel_peak(31, ctypes.byref(name))  # after the runs: the same moment of the host
    peak_name = name.value.decode() if name.value else ""
    one = counts[0]
    whole1, ours1, rest1 = splits[one]
    out = {"peak_binary_macs_per_s": peak, "peak_loop": peak_name, "binary_macs": macs,
           "threads": {str(t): {"model_ms": w, "our_nodes_ms": o, "rest_ms": r} for t, (w, o, r) in splits.items()}}
    print("\nbounds (median of %d invokes per thread count, the delegate's profile on):" % runs)
    for t in counts:
        w, o, r = splits[t]
        if t == one:
            print("  %d thread(s): model %.3f ms: our nodes %.3f, the rest %.3f (TFLite's ops and invoke, the copies)"
                  % (t, w, o, r))
        else:
            best = whole1 / max(1e-9, r + ours1 * one / t)
            out["threads"][str(t)]["max_speedup"] = best
            print("  %d threads: model %.3f ms (%s): our nodes %.3f (%s), the rest %.3f (%s)"
                  % (t, w, _times(whole1, w), o, _times(ours1, o), r, _times(rest1, r)))
            print("    our nodes %gx as fast as on %d thread(s), the rest as measured: at most %.2fx"
                  % (t / one, one, best))
    if macs > 0 and peak > 0:
        at_peak = macs / peak * 1e3 / one  # the peak of `one` cores
        floor = rest1 + at_peak
        out.update({"binary_ms_at_peak": at_peak, "floor_ms": floor, "our_nodes_of_peak": at_peak / ours1})
        print("  our Bconv2d nodes: %.3g binary MACs per invoke, %.3f ms at this core's peak (%s, %.3g binary "
              "MAC/s%s): our nodes at %.0f %% of it" % (macs, at_peak, peak_name, peak,
                                                        "" if one == 1 else ", times %d threads" % one,
                                                        100 * at_peak / ours1))
        line = "  every binary conv at the peak, the rest as measured: %.3f ms" % floor
        if float_ms:
            out["max_ratio_float"] = float_ms / floor
            line += ", at most %.1fx TFLite float (%.2f ms, above)" % (float_ms / floor, float_ms)
        print(line)
    elif macs == 0:
        print("  (no Bconv2d node of ours ran: no binary MACs to bound)")
    else:
        print("  (the %s kernel path has no peak loop of its own: no floor)" % _delegate_kernel_isa())
    return out


def _print_profile(title, rows, runtimes, labels, totals, extra=None):
    print("\n%s: per-op profile, median ms of set inputs + invoke + read outputs of each op alone" % title)
    header = "  %4s %-22s %-18s" % ("op", "operator", "output shape") + "".join("%12s" % labels[r] for r in runtimes)
    if extra:
        header += "%14s" % extra[0]
    print(header + "  layer")
    for i, name, shape, times, layer in rows:
        line = "  %4d %-22s %-18s" % (i, name[:22], "x".join(str(d) for d in shape)[:18])
        line += "".join("%12s" % ("-" if times[r] is None else "%.3f" % times[r]) for r in runtimes)
        if extra:
            line += "%14s" % ("%.3f" % extra[1][i] if i in extra[1] else "")
        print(line + "  " + layer)
    print("  by operator type (sum of the ops alone):")
    kinds = sorted({row[1] for row in rows},
                   key=lambda k: -sum(row[3][runtimes[0]] or 0 for row in rows if row[1] == k))
    for kind in kinds:
        sums = [sum(row[3][r] or 0 for row in rows if row[1] == kind) for r in runtimes]
        count = sum(1 for row in rows if row[1] == kind)
        print("  %-29s %3d ops  " % (kind[:29], count) + "".join("%12.3f" % v for v in sums))
    print("  %-38s" % "sum of all ops alone" + "".join(
        "%12.3f" % sum(row[3][r] or 0 for row in rows) for r in runtimes))
    print("  %-38s" % "full model (median, above)" + "".join(
        "%12s" % ("%.3f" % totals[r] if r in totals else "-") for r in runtimes))


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block)."""

    def error(self, message):
        self.exit(2, "%s: error: %s (see %s --help)\n" % (self.prog, message, self.prog))


def _parser():
    parser = _Parser(prog="lce-benchmark", description=__doc__.strip(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="converted .tflite (Lce* custom ops)")
    parser.add_argument("--float", dest="float_model", help="the unconverted float .tflite, for TFLite float")
    parser.add_argument("--threads", default="1",
                        help="threads of every runtime; a list (1,2) also times our delegate at the further counts")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per runtime (at least 1)")
    parser.add_argument("--profile", action="store_true", help="also time every operator alone (see above)")
    parser.add_argument("--bounds", action="store_true",
                        help="also split the model's time into our nodes and the rest, and print the bounds "
                             "that follow from this core's peak (see above)")
    parser.add_argument("--consecutive", action="store_true",
                        help="each runtime does all its runs in a row (warm caches) instead of taking turns")
    parser.add_argument("--json", metavar="PATH", help="write the figures (and the profile) as JSON")
    parser.add_argument("--csv", metavar="PATH", help="write the figures (and the profile) as CSV")
    parser.add_argument("--plot", metavar="PNG", help="draw the per-layer profile of each runtime (implies --profile)")
    return parser


def _read_model(path, what):
    import os
    if not os.path.exists(path):
        raise LceConvertError("%s %s does not exist" % (what, path))
    if os.path.isdir(path):
        raise LceConvertError("%s %s is a directory; give a .tflite file" % (what, path))
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise LceConvertError("%s %s is not a .tflite model (no TFL3 identifier); convert a Keras model first "
                              "with lce-convert convert" % (what, path))
    return data


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise LceConvertError("--plot needs matplotlib, which is not installed: pip install 'lce_convert[plot]'") \
            from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("lce-benchmark: interrupted", file=sys.stderr)
        return 130
    except (LceConvertError, OSError, ValueError) as e:
        message = " ".join(str(e).split())
    except Exception as e:  # anything else: still one line, with its type
        message = "%s: %s" % (type(e).__name__, " ".join(str(e).split()))
    print("lce-benchmark: error: %s" % message, file=sys.stderr)
    return 1


def _run(args):
    parser = _parser()
    try:
        counts = [int(t) for t in str(args.threads).split(",")]
    except ValueError:
        parser.error("--threads takes a count or a comma-separated list of counts, got %r" % args.threads)
    if any(t < 1 for t in counts):
        parser.error("--threads counts must be at least 1")
    if args.runs < 1:
        parser.error("--runs must be at least 1, got %d" % args.runs)
    plt = _pyplot() if args.plot else None  # before the work: a missing matplotlib fails at once
    if args.plot:
        args.profile = True
    args.threads = counts[0]
    warnings.simplefilter("ignore")
    model = _read_model(args.model, "the model")
    float_bytes = _read_model(args.float_model, "the float model") if args.float_model else None

    from .interpreter import Interpreter
    ours = Interpreter(model, num_threads=args.threads)
    rng = np.random.default_rng(0)
    x = _inputs(ours.input_details, rng)
    unfused = Interpreter(model, num_threads=args.threads, fuse=False)
    # Every runtime is timed doing the same work, "set inputs, invoke, read outputs" (LCE's through
    # its predict, which does that; its wrapper offers nothing finer), so that no runtime's figure
    # carries another's Python-side checks (predict's validation of the inputs is ~0.03 ms).
    runners = [("lce_convert delegate", _TfliteRunner(ours._interpreter, x)),
               ("  same, fusion off", _TfliteRunner(unfused._interpreter, x))]
    for t in counts[1:]:
        more = Interpreter(model, num_threads=t)
        runners.append(("  same, %d threads" % t, _TfliteRunner(more._interpreter, x)))
    notes = []
    try:
        from larq_compute_engine.tflite.python.interpreter import Interpreter as LceInterpreter
        for name, kwargs in (("LCE 0.16 default", {}), ("LCE 0.16 indirect_bgemm", {"use_indirect_bgemm": True})):
            try:
                lce = LceInterpreter(model, num_threads=args.threads, **kwargs)
            except RuntimeError as e:  # e.g. a model converted with lce_compatible=False
                notes.append("%s cannot run this model: %s" % (name, str(e).strip().splitlines()[-1]))
                print("(%s)" % notes[-1])
                continue
            runners.append((name, lambda lce=lce: lce.predict(x if len(x) > 1 else x[0])))
    except ImportError:
        notes.append("larq-compute-engine not installed: no LCE figures")
        print("(%s)" % notes[-1])
    if float_bytes is not None:
        from ai_edge_litert.interpreter import Interpreter as LiteRt
        plain = LiteRt(model_content=float_bytes, num_threads=args.threads)
        plain.allocate_tensors()

        runners.append(("TFLite float (XNNPACK)", _TfliteRunner(plain, x)))
    results = _interleaved_ms(runners, args.runs, consecutive=args.consecutive)

    ours_ms = results[0][1][0]
    isa = _delegate_kernel_isa()
    print("%d thread(s), kernels %s, median (min) of %d runs, %s" % (
        args.threads, isa, args.runs, "each runtime's runs in a row" if args.consecutive else "the runtimes taking turns"))
    for name, (median, best) in results:
        print("  %-26s %9.2f ms (%8.2f)   %6.2fx our time" % (name, median, best, median / ours_ms))
    report = {"model": args.model, "float_model": args.float_model, "threads": args.threads, "thread_counts": counts, "isa": isa, "runs": args.runs,
              "mode": "consecutive" if args.consecutive else "taking turns", "notes": notes,
              "results": [{"runtime": name.strip(), "median_ms": median, "min_ms": best, "ratio": median / ours_ms}
                          for name, (median, best) in results],
              "profile": {}}
    if args.bounds:
        float_ms = next((median for name, (median, _) in results if name.startswith("TFLite float")), None)
        report["bounds"] = _bounds(model, x, counts, args.runs, float_ms)
    if args.profile:
        totals = {"ours": ours_ms}
        labels = {"ours": "ours", "lce": "LCE dflt", "lce_indirect": "LCE indir", "float": "TFLite flt"}
        for name, (median, _) in results:
            if name == "LCE 0.16 default":
                totals["lce"] = median
            elif name == "LCE 0.16 indirect_bgemm":
                totals["lce_indirect"] = median
            elif name.startswith("TFLite float"):
                totals["float"] = median
        runtimes = ["ours"] + [r for r in ("lce", "lce_indirect") if r in totals]
        rows = _profile(model, x, runtimes, args.threads, args.runs, "profiling the converted model")
        inside = _delegate_node_times(model, x, args.threads, args.runs)
        _print_profile("converted model", rows, runtimes, labels, totals, ("ours in model", inside))
        report["profile"]["converted"] = _profile_records(rows, labels, inside)
        if float_bytes is not None:
            rows = _profile(float_bytes, x, ["float"], args.threads, args.runs, "profiling the float model")
            _print_profile("float model", rows, ["float"], labels, totals)
            report["profile"]["float"] = _profile_records(rows, labels)
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.csv:
        _write_csv(args.csv, report)
    if plt is not None:
        _plot(plt, args.plot, report)
        print("wrote %s" % args.plot)
    return 0


def _profile_records(rows, labels, inside=None):
    out = []
    for i, name, shape, times, layer in rows:
        record = {"op": i, "operator": name, "layer": layer, "output_shape": [int(d) for d in shape],
                  "ms": {labels[r]: t for r, t in times.items()}}
        if inside is not None and i in inside:
            record["ours_in_model_ms"] = inside[i]
        out.append(record)
    return out


def _write_csv(path, report):
    """One row per runtime of the model, then one per profiled op and runtime."""
    import csv
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "model", "runtime", "op", "operator", "layer", "output_shape", "median_ms", "min_ms",
                    "threads", "isa"])
        for r in report["results"]:
            w.writerow(["model", "", r["runtime"], "", "", "", "", "%.6f" % r["median_ms"], "%.6f" % r["min_ms"],
                        report["threads"], report["isa"]])
        for which, records in report["profile"].items():
            for rec in records:
                for runtime, ms in rec["ms"].items():
                    w.writerow(["op", which, runtime, rec["op"], rec["operator"], rec["layer"],
                                "x".join(map(str, rec["output_shape"])), "" if ms is None else "%.6f" % ms, "",
                                report["threads"], report["isa"]])


def _plot(plt, path, report):
    """Horizontal bars: the time of every op alone, one bar per runtime, ops in model order,
    labelled with their layer; one panel per profiled model."""
    panels = [(which, records) for which, records in report["profile"].items() if records]
    height = max(3.0, 0.28 * max(len(r) for _, r in panels) * max(1, len(panels[0][1][0]["ms"])) / 2 + 1.5)
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, height * len(panels)), squeeze=False)
    for ax, (which, records) in zip(axes[:, 0], panels):
        runtimes = list(records[0]["ms"])
        width = 0.8 / len(runtimes)
        ys = np.arange(len(records))
        for k, runtime in enumerate(runtimes):
            ax.barh(ys + k * width, [rec["ms"][runtime] or 0.0 for rec in records], height=width, label=runtime)
        ax.set_yticks(ys + 0.4 - width / 2)
        ax.set_yticklabels(["%d %s %s" % (rec["op"], rec["operator"], rec["layer"][-40:]) for rec in records],
                           fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("ms per op alone (median of %d runs)" % report["runs"])
        model = report["float_model"] if which == "float" else report["model"]
        ax.set_title("%s model: %s, %d thread(s), kernels %s" % (which, model, report["threads"], report["isa"]))
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
