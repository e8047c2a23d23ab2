"""The structure-aware fuzzer (tests/fuzz/) on a short deterministic sample, and the regression
corpus: every case runs in a forked worker with a timeout (tests/fuzz/engine.py), and none may
crash, hang, raise anything but an LceConvertError, or give different outputs on two runs. The
long campaign is `python tests/fuzz/campaign.py` (tests/fuzz/README.md)."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "fuzz")
ENGINE = os.path.join(FUZZ, "engine.py")
sys.path.insert(0, FUZZ)


def engine(*args, env=None, timeout=600):
    r = subprocess.run([sys.executable, ENGINE, *args], capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ if env is None else env, TF_CPP_MIN_LOG_LEVEL="2"))
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    return lines[0], lines[1:]


def assert_no_failures(summary, records, cases):
    print(summary)
    failures = [r for r in records if r["outcome"] in ("unclean", "crash", "hang", "nondeterministic")]
    assert not failures, "\n".join(json.dumps(f) for f in failures[:10])
    assert summary["cases"] == cases
    assert summary["counts"]["ok"] > 0 and summary["counts"]["clean"] > 0  # the sample reaches both


@pytest.mark.parametrize("backend, start, count", [("litert", 0, 250), ("tf", 250, 50)])
def test_runtime_sample(backend, start, count):
    summary, records = engine("--mode", "runtime", "--backend", backend, "--start", str(start), "--count", str(count))
    assert_no_failures(summary, records, count)


def test_importer_sample():
    summary, records = engine("--mode", "importer", "--count", "400")
    assert_no_failures(summary, records, 400)


def corpus():
    with open(os.path.join(FUZZ, "corpus", "index.json")) as f:
        return json.load(f)


def check_corpus(records):
    index = corpus()
    seen = set()
    for r in records:
        name = os.path.basename(r["case"])
        seen.add(name)
        assert r["outcome"] == "clean", (name, index[name]["class"], r)
        assert re.search(index[name]["expect"], r["detail"]), (name, r["detail"])
    assert seen == set(index)


def test_regression_corpus():
    """Each distinct crash the fuzzer found before the hardening (minimized), and one model per
    class of issue 10, now gives a clean LceConvertError naming the problem."""
    files = [os.path.join(FUZZ, "corpus", name) for name in sorted(corpus())]
    summary, records = engine("--mode", "runtime", "--report-all", *files)
    check_corpus(records)


def test_corpus_cases_are_current():
    """The committed corpus files are what corpus_cases.py builds (so the cases stay reviewable)."""
    import corpus_cases
    for name, (data, _) in corpus_cases.cases().items():
        with open(os.path.join(FUZZ, "corpus", name + ".tflite"), "rb") as f:
            assert f.read() == data, name


@pytest.fixture(scope="module")
def asan_delegate():
    """The ASan + UBSan build, kept in build/asan-fuzz (incremental: only changed sources are
    recompiled)."""
    import asan_build
    if shutil.which("g++") is None or not asan_build.runtime_library("libasan.so"):
        pytest.skip("needs g++ with libasan")
    return asan_build.build(os.path.join(os.path.dirname(HERE), "build", "asan-fuzz"))


def test_sample_under_asan_and_ubsan(asan_delegate):
    """The same cases with the delegate and kernels built with ASan + UBSan (preloaded into the
    worker processes): any report aborts the worker and counts as a crash."""
    import asan_build
    env = asan_build.sanitizer_env()
    summary, records = engine("--mode", "runtime", "--count", "150", "--delegate", asan_delegate, env=env)
    assert_no_failures(summary, records, 150)
    files = [os.path.join(FUZZ, "corpus", name) for name in sorted(corpus())]
    _, records = engine("--mode", "runtime", "--report-all", "--delegate", asan_delegate, *files, env=env)
    check_corpus(records)


def test_asan_setup_reports(tmp_path):
    """The sanitizer set-up can fail: a library built with the same flags that reads past a heap
    buffer, loaded into Python with the same environment, is reported and aborts."""
    import asan_build
    if shutil.which("g++") is None or not asan_build.runtime_library("libasan.so"):
        pytest.skip("needs g++ with libasan")
    src = tmp_path / "oob.cc"
    src.write_text("#include <cstdlib>\nextern \"C\" int oob(int n) { int *p = (int *)std::malloc(4 * n);"
                   " p[0] = 1; int v = p[n]; std::free(p); return v; }\n")
    lib = tmp_path / "liboob.so"
    flags = [f for f in asan_build.FLAGS if not f.startswith("-I")]
    subprocess.run(["g++", *flags, "-fPIC", "-shared", str(src), "-o", str(lib)], check=True, timeout=120)
    code = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).oob(4))"
    r = subprocess.run([sys.executable, "-c", code, str(lib)], capture_output=True, text=True, timeout=120,
                       env=asan_build.sanitizer_env())
    assert r.returncode != 0 and "heap-buffer-overflow" in r.stderr, r.stderr[-2000:]


def _clang():
    for name in ("clang++-22", "clang++-19", "clang++"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_flexbuffer_options_libfuzzer(tmp_path):
    """A short run of the libFuzzer target of the delegate's flexbuffer options reader (with ASan
    + UBSan), from the Lce ops' options of the seed models. Long runs: tests/fuzz/README.md."""
    clang = _clang()
    if clang is None:
        pytest.skip("needs clang with libFuzzer (apt-get install clang-22 libclang-rt-22-dev)")
    root = os.path.dirname(HERE)
    exe = tmp_path / "flexbuffer_options_fuzzer"
    r = subprocess.run([clang, "-std=c++17", "-g", "-O1", "-fsanitize=fuzzer,address,undefined",
                        "-fno-sanitize-recover=all", "-I" + os.path.join(root, "kernels", "delegate"),
                        os.path.join(FUZZ, "libfuzzer", "flexbuffer_options_fuzzer.cc"),
                        os.path.join(root, "kernels", "delegate", "flexbuffer_map.cc"), "-o", str(exe)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 and "fuzzer" in r.stderr:
        pytest.skip("clang without the libFuzzer runtime: " + r.stderr[-300:])
    assert r.returncode == 0, r.stderr[-3000:]
    corpus_dir = tmp_path / "corpus"
    subprocess.run([sys.executable, os.path.join(FUZZ, "libfuzzer", "seed_corpus.py"), str(corpus_dir)], check=True,
                   timeout=120)
    # The process's RSS (ASan shadow and quarantine) is not what is under test; one allocation
    # over 512 MB would be.
    r = subprocess.run([str(exe), "-runs=200000", "-seed=1", "-max_len=512", "-rss_limit_mb=16384",
                        "-malloc_limit_mb=512", str(corpus_dir)], capture_output=True,
                       text=True, timeout=300, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done 200000 runs" in r.stderr


def test_importer_atheris(tmp_path):
    """A short run of the atheris target of the importer's flatbuffer reader."""
    pytest.importorskip("atheris")
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    for name in ("ours_maxpool", "lce_maxpool", "while_loop"):
        shutil.copy(os.path.join(FUZZ, "seeds", name + ".tflite"), corpus_dir)
    r = subprocess.run([sys.executable, os.path.join(FUZZ, "atheris_importer.py"), str(corpus_dir), "-runs=400",
                        "-seed=1", "-max_len=40000"], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done 400 runs" in r.stderr
