"""The fuzzer's engine: runs mutated models (mutate.py) in forked workers with a timeout and
classifies every case:

- ok: the model ran (runtime) or imported, exported and re-imported (importer);
- clean: refused with an lce_convert.LceConvertError subclass;
- unclean: any other Python exception (a bug: every refusal must be an LceConvertError);
- crash: the worker died by a signal (SIGSEGV, SIGABRT from ASan/UBSan, ...);
- hang: no result within the timeout (the worker is killed);
- nondeterministic (runtime): two runs of the same input gave different outputs, the sign of a
  read of memory nothing wrote.

This process is the fork server: it imports lce_convert and the runtime once, then forks one
worker per batch of cases; a worker reports "start i" / "end i outcome" lines over a pipe, so a
crash or hang is attributed to its case and the batch goes on in a new worker. Loops are
bounded by the case count and by `--time-limit`.

    python tests/fuzz/engine.py --mode runtime --start 0 --count 200 [--backend litert|tf]
           [--delegate path/to/liblce_delegate.so] [--out DIR] [--time-limit SECONDS]

prints one JSON line of counts, then one JSON line per failure (case, seed, steps, outcome).
"""
import argparse
import json
import os
import select
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import mutate  # noqa: E402

RUNTIME_SEEDS = ["ours_float", "ours_bitpacked", "ours_maxpool", "ours_zero_padding", "ours_int8", "lce_float",
                 "lce_maxpool", "lce_quicknet", "lce_birealnet"]
IMPORTER_SEEDS = RUNTIME_SEEDS + ["plain_bnn", "while_loop"]
FAILURES = ("unclean", "crash", "hang", "nondeterministic")


def load_seeds(names):
    out = []
    for n in names:
        with open(os.path.join(HERE, "seeds", n + ".tflite"), "rb") as f:
            out.append((n, f.read()))
    return out


def case_model(mode, seeds, i, keep=None):
    """(seed name, mutated bytes or None, steps) of case i: deterministic in (mode, i). A case
    is a pair (i, keep) when minimizing (only the steps in `keep`), or a path of a model file."""
    if isinstance(i, str):
        with open(i, "rb") as f:
            return os.path.basename(i), f.read(), ["file"]
    if isinstance(i, tuple):
        i, keep = i
    name, data = seeds[i % len(seeds)]
    if mode == "importer" and i % 4 == 3:  # every fourth importer case: byte-level
        model, steps = mutate.mutate_bytes(data, "%s:%d" % (mode, i), keep)
    else:
        model, steps = mutate.mutate_case(data, "%s:%d" % (mode, i), keep, lce_only=mode == "runtime")
    return name, model, steps


def _inputs(details, rng):
    xs = []
    for d in details:
        shape = [int(s) for s in d["shape"]]
        if any(s < 1 or s > 4096 for s in shape) or int(np.prod(shape, dtype=np.int64)) > 2**22:
            shape = [max(1, min(s, 8)) for s in shape]  # let predict refuse or resize
        dt = np.dtype(d["dtype"])
        if dt.kind == "f":
            xs.append(rng.normal(size=shape).astype(dt))
        elif dt.kind in "iu":
            xs.append(rng.integers(-100 if dt.kind == "i" else 0, 100, size=shape).astype(dt))
        elif dt.kind == "b":
            xs.append(rng.integers(0, 2, size=shape).astype(dt))
        else:
            xs.append(np.zeros(shape, dt))
    return xs


def run_runtime_case(model, backend):
    import lce_convert
    it = lce_convert.Interpreter(model, runtime=backend)
    xs = _inputs(it.input_details, np.random.default_rng(0))
    first = it.predict(xs)
    first = [np.array(a, copy=True) for a in (first if isinstance(first, list) else [first])]
    second = it.predict(xs)
    second = second if isinstance(second, list) else [second]
    for a, b in zip(first, second):
        if a.shape != b.shape or a.tobytes() != np.asarray(b).tobytes():
            return "nondeterministic", "two runs differ"
    return "ok", ""


def run_importer_case(model, convert):
    import lce_convert
    module = lce_convert.import_tflite(model)
    out = module.to_tflite()
    again = lce_convert.import_tflite(out)
    if module.text(elide_large_constants=8) != again.text(elide_large_constants=8):
        return "unclean", "the round trip changed the module"
    if convert:
        lce_convert.convert_tflite(model)
    return "ok", ""


def _worker(mode, backend, seeds, keys, positions, write_fd):
    import lce_convert
    out = os.fdopen(write_fd, "w", buffering=1)
    for i in positions:
        out.write("start %d\n" % i)
        _, model, steps = case_model(mode, seeds, keys[i])
        try:
            if model is None:
                outcome, detail = "skipped", "unpackable"
            elif mode == "runtime":
                outcome, detail = run_runtime_case(model, backend)
            else:
                outcome, detail = run_importer_case(model, convert=i % 8 == 0 and isinstance(keys[i], int))
        except lce_convert.LceConvertError as e:
            outcome, detail = "clean", "%s: %s" % (type(e).__name__, str(e)[:300])
        except Exception as e:  # noqa: BLE001 - classified, not hidden
            outcome, detail = "unclean", "%s: %s" % (type(e).__name__, str(e)[:300])
        out.write("end %d %s %s\n" % (i, outcome, json.dumps(detail)))
    out.flush()
    os._exit(0)


def run(mode, cases, backend="litert", timeout=60.0, batch=None, time_limit=None, out_dir=None, log=None,
        report_all=False):
    """Runs `cases` (case numbers, (number, kept steps) pairs or model paths); returns (counts,
    failures, cases_run); with `report_all`, every case is in the list. Workers are told
    positions in `cases`."""
    keys = list(cases)
    seeds = load_seeds(RUNTIME_SEEDS if mode == "runtime" else IMPORTER_SEEDS)
    import lce_convert  # noqa: F401 - loaded once, before forking
    if mode == "runtime":
        if backend == "litert":
            import ai_edge_litert.interpreter  # noqa: F401
        else:
            import tensorflow  # noqa: F401
    batch = batch or (1 if mode == "runtime" else 50)
    deadline = time.time() + time_limit if time_limit else None
    counts = {k: 0 for k in ("ok", "clean", "skipped") + FAILURES}
    failures = []
    pending = list(range(len(keys)))
    done = 0
    while pending and (deadline is None or time.time() < deadline):
        chunk, pending = pending[:batch], pending[batch:]
        read_fd, write_fd = os.pipe()
        err = tempfile.TemporaryFile()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            os.dup2(err.fileno(), 2)
            try:
                _worker(mode, backend, seeds, keys, chunk, write_fd)
            finally:
                os._exit(3)
        os.close(write_fd)
        buf, current, finished = b"", None, set()
        status = None
        last = time.time()
        while True:
            ready, _, _ = select.select([read_fd], [], [], 1.0)
            if ready:
                data = os.read(read_fd, 65536)
                if not data:
                    break
                last = time.time()
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    parts = line.decode().split(" ", 3)
                    if parts[0] == "start":
                        current = int(parts[1])
                    elif parts[0] == "end":
                        i, outcome, detail = int(parts[1]), parts[2], json.loads(parts[3])
                        finished.add(i)
                        current = None
                        counts[outcome] += 1
                        done += 1
                        if outcome in FAILURES or report_all:
                            failures.append(_failure(mode, seeds, keys[i], outcome, detail, out_dir))
            elif time.time() - last > timeout:
                os.kill(pid, signal.SIGKILL)
                status = "hang"
                break
        os.close(read_fd)
        _, wait_status = os.waitpid(pid, 0)
        if current is not None:  # the case that was running when the worker died or hung
            if status != "hang":
                sig = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
                status = "crash"
                err.seek(0)
                tail = err.read()[-6000:].decode("utf-8", "replace")
                detail = "signal %s, exit %s: %s" % (sig, os.WEXITSTATUS(wait_status) if sig is None else "-",
                                                     _report_line(tail))
            else:
                detail = "no result in %.0f s" % timeout
            counts[status] += 1
            done += 1
            failures.append(_failure(mode, seeds, keys[current], status, detail, out_dir))
            finished.add(current)
        err.close()
        pending = [i for i in chunk if i not in finished] + pending
        if log and done and done % 1000 < batch:
            print("%s: %d cases, %s" % (mode, done, counts), file=log, flush=True)
    return counts, failures, done


def _report_line(stderr_tail):
    """The sanitizer's summary line, or the last lines of the worker's stderr."""
    for line in stderr_tail.splitlines():
        if "SUMMARY:" in line or "runtime error:" in line:
            return line.strip()
    return " | ".join(stderr_tail.strip().splitlines()[-3:])


def _failure(mode, seeds, key, outcome, detail, out_dir):
    name, model, steps = case_model(mode, seeds, key)
    rec = {"mode": mode, "case": key, "seed": name, "outcome": outcome, "detail": detail, "steps": steps}
    if out_dir and model is not None and isinstance(key, int):
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "%s-%d-%s.tflite" % (mode, key, outcome))
        with open(path, "wb") as f:
            f.write(model)
        rec["file"] = path
    return rec


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["runtime", "importer"], required=True)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--backend", choices=["litert", "tf"], default="litert")
    p.add_argument("--delegate", help="another build of liblce_delegate.so (e.g. with ASan)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without progress that make a hang")
    p.add_argument("--time-limit", type=float, help="stop starting batches after this many seconds")
    p.add_argument("--out", help="directory for the failing models")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--report-all", action="store_true", help="a JSON line for every case, not only failures")
    p.add_argument("files", nargs="*", help="model files to run instead of generated cases")
    args = p.parse_args(argv)
    if args.delegate:
        import lce_convert.interpreter as interpreter
        path = os.path.abspath(args.delegate)
        interpreter.delegate_path = lambda: path
    cases = [os.path.abspath(f) for f in args.files] or range(args.start, args.start + args.count)
    counts, failures, done = run(args.mode, cases, args.backend,
                                 args.timeout, time_limit=args.time_limit, out_dir=args.out,
                                 log=sys.stderr if args.progress else None, report_all=args.report_all)
    print(json.dumps({"mode": args.mode, "backend": args.backend, "cases": done, "counts": counts}), flush=True)
    for f in failures:
        print(json.dumps(f), flush=True)


if __name__ == "__main__":
    main()
