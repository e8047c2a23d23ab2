"""The long fuzzing campaign: runtime mutations through lce_convert.Interpreter with the delegate
and kernels built with ASan + UBSan (three quarters in ai_edge_litert, one quarter in tf.lite),
and importer mutations (import, export, re-import, and convert_tflite on every eighth), then
the figures issue 10 asks for.

    .venv/bin/python tests/fuzz/campaign.py                       # 20,000 runtime + 50,000 importer
    .venv/bin/python tests/fuzz/campaign.py --runtime 2000 --importer 5000 --jobs 1 --no-asan
    .venv/bin/python tests/fuzz/campaign.py --env                 # the ASan environment, for a shell

Bounded: every part stops starting new cases after --time-limit seconds. Failing models are
written to --out. The exit status is 1 if any case crashed, hung, raised an exception other
than an LceConvertError or gave different outputs on two runs.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import asan_build  # noqa: E402

ENGINE = os.path.join(HERE, "engine.py")


def parts(n_runtime, n_importer, chunks):
    """(mode, backend, start, count) of every engine process."""
    out = []
    n_lite = n_runtime * 3 // 4
    for mode, backend, base, total in (("runtime", "litert", 0, n_lite), ("runtime", "tf", n_lite, n_runtime - n_lite),
                                       ("importer", "litert", 0, n_importer)):
        k = max(1, min(chunks, total // 500 or 1))
        step = -(-total // k) if total else 0
        for j in range(k):
            count = min(step, total - j * step)
            if count > 0:
                out.append((mode, backend, base + j * step, count))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runtime", type=int, default=20000)
    p.add_argument("--importer", type=int, default=50000)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--time-limit", type=float, default=4 * 3600, help="seconds per engine process")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds without progress that make a hang")
    p.add_argument("--no-asan", action="store_true", help="runtime cases with the normal delegate build")
    p.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "lce-fuzz-campaign"))
    p.add_argument("--env", action="store_true", help="print the ASan environment as shell exports and exit")
    args = p.parse_args(argv)
    if args.env:
        for k, v in asan_build.sanitizer_env({}).items():
            print("export %s=%s" % (k, shlex.quote(v)))
        return 0
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    runtime_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    delegate = []
    if not args.no_asan:
        print("building the delegate and kernels with ASan + UBSan ...", flush=True)
        delegate = ["--delegate", asan_build.build(os.path.join(args.out, "asan-build"))]
        runtime_env = asan_build.sanitizer_env(runtime_env)
    jobs = parts(args.runtime, args.importer, chunks=4 * args.jobs)
    running, results = [], []
    while jobs or running:
        while jobs and len(running) < args.jobs:
            mode, backend, start, count = jobs.pop(0)
            cmd = [sys.executable, ENGINE, "--mode", mode, "--backend", backend, "--start", str(start), "--count",
                   str(count), "--timeout", str(args.timeout), "--time-limit", str(args.time_limit), "--out", args.out]
            env = runtime_env if mode == "runtime" else dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            if mode == "runtime":
                cmd += delegate
            log = open(os.path.join(args.out, "%s-%s-%d.log" % (mode, backend, start)), "w+")
            running.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.DEVNULL, env=env), log, mode, start))
        time.sleep(2)
        for item in list(running):
            proc, log, mode, start = item
            if proc.poll() is None:
                continue
            running.remove(item)
            log.seek(0)
            lines = [json.loads(l) for l in log.read().splitlines() if l.startswith("{")]
            if proc.returncode != 0 or not lines:
                results.append({"mode": mode, "cases": 0, "counts": {"crash": 0}, "engine_failed": True})
                print("engine process %s@%d failed (exit %s), see %s" % (mode, start, proc.returncode, log.name))
                continue
            summary, failures = lines[0], lines[1:]
            summary["failures"] = failures
            results.append(summary)
            print("%-8s %-6s cases %6d..%-6d %s" % (mode, summary["backend"], start, start + summary["cases"] - 1,
                                                    summary["counts"]), flush=True)
    ok = report(results, time.time() - started, not args.no_asan)
    return 0 if ok else 1


def report(results, seconds, asan):
    print("\n== fuzzing campaign (%.0f s) ==" % seconds)
    all_ok = True
    for mode in ("runtime", "importer"):
        rs = [r for r in results if r["mode"] == mode]
        counts = {}
        for r in rs:
            for k, v in r["counts"].items():
                counts[k] = counts.get(k, 0) + v
        failures = [f for r in rs for f in r.get("failures", [])]
        sanitizer = [f for f in failures if f["outcome"] == "crash" and ("Sanitizer" in f["detail"]
                                                                          or "runtime error:" in f["detail"])]
        cases = sum(r["cases"] for r in rs)
        bad = sum(counts.get(k, 0) for k in ("crash", "hang", "unclean", "nondeterministic"))
        bad += sum(1 for r in rs if r.get("engine_failed"))
        all_ok &= bad == 0
        print("%s mutations: %d%s" % (mode, cases, " (delegate and kernels with ASan + UBSan)" if asan and
                                      mode == "runtime" else ""))
        print("  ran ok: %d   clean LceConvertError: %d   not mutable/packable: %d" % (
            counts.get("ok", 0), counts.get("clean", 0), counts.get("skipped", 0)))
        print("  crashes: %d   hangs: %d   ASan/UBSan reports: %d   other exceptions: %d   "
              "nondeterministic outputs: %d" % (counts.get("crash", 0), counts.get("hang", 0), len(sanitizer),
                                                counts.get("unclean", 0), counts.get("nondeterministic", 0)))
        for f in failures[:20]:
            print("  ", json.dumps(f)[:400])
    print("result: %s" % ("PASS (0 crashes, 0 hangs, 0 sanitizer reports, every refusal an LceConvertError)"
                          if all_ok else "FAIL"))
    return all_ok


if __name__ == "__main__":
    sys.exit(main())
