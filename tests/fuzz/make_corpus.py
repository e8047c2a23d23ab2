"""Writes the regression corpus tests/fuzz/corpus/: the hand-made cases of corpus_cases.py, and,
from a fuzzer run's failure lines, one minimized model per distinct failure (same outcome and
sanitizer/exception line, numbers aside). Minimizing drops mutation steps while the case still
fails the same way against the delegate build given (for the corpus: the ASan build of the
delegate before the hardening, commit eb30b0c). index.json records each file's class and the
message the hardened runtime must now give.

    git archive eb30b0c kernels | tar -x -C OLD
    python tests/fuzz/asan_build.py OLD/asan OLD/kernels
    <asan env> python tests/fuzz/engine.py --mode runtime --count 3000 --delegate OLD/asan/liblce_delegate.so > run.log
    <asan env> python tests/fuzz/make_corpus.py --failures run.log --delegate OLD/asan/liblce_delegate.so
(<asan env>: asan_build.sanitizer_env(), e.g. `python tests/fuzz/campaign.py --env`)
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus_cases  # noqa: E402
import engine  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")


def signature(rec):
    detail = re.sub(r"0x[0-9a-f]+|\d+", "N", rec["detail"])
    detail = re.sub(r"\S*/kernels/", "kernels/", detail)
    return rec["outcome"] + ": " + detail[:200]


def minimize(rec):
    """The smallest set of the case's mutation steps that fails with the same signature."""
    want = signature(rec)
    case = rec["case"]
    steps = [int(s.split(":", 1)[0]) for s in rec["steps"] if re.match(r"\d+:", s)]
    keep = set(steps)
    for k in sorted(steps):
        trial = keep - {k}
        if not trial:
            continue
        _, failures, _ = engine.run(rec["mode"], [(case, frozenset(trial))], timeout=30, report_all=True)
        if failures and signature(failures[0]) == want:
            keep = trial
    return keep


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--failures", help="output of engine.py (JSON lines) against the old delegate")
    p.add_argument("--delegate", help="the delegate build the failures came from")
    args = p.parse_args(argv)
    os.makedirs(CORPUS, exist_ok=True)
    index_path = os.path.join(CORPUS, "index.json")
    index = json.load(open(index_path)) if os.path.exists(index_path) else {}
    for name, (data, expect) in corpus_cases.cases().items():
        with open(os.path.join(CORPUS, name + ".tflite"), "wb") as f:
            f.write(data)
        index[name + ".tflite"] = {"class": "issue 10: " + name.replace("_", " "), "expect": expect}
    if args.failures:
        if args.delegate:
            import lce_convert.interpreter as interpreter
            path = os.path.abspath(args.delegate)
            interpreter.delegate_path = lambda: path
        classes = {}
        for line in open(args.failures):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("outcome") in engine.FAILURES and isinstance(rec.get("case"), int):
                classes.setdefault(signature(rec), rec)
        seeds = engine.load_seeds(engine.RUNTIME_SEEDS if "runtime" in args.failures else engine.IMPORTER_SEEDS)
        for sig, rec in sorted(classes.items()):
            keep = minimize(rec)
            seed, model, steps = engine.case_model(rec["mode"], engine.load_seeds(
                engine.RUNTIME_SEEDS if rec["mode"] == "runtime" else engine.IMPORTER_SEEDS), rec["case"], keep)
            name = "fuzz_%s_%d.tflite" % (rec["mode"], rec["case"])
            with open(os.path.join(CORPUS, name), "wb") as f:
                f.write(model)
            index[name] = {"class": "before the hardening: " + sig, "seed": seed, "steps": steps,
                           "expect": r"Lce\w+ \(node \d+\): "}
            print(name, sig, steps)
        del seeds
    with open(index_path, "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
