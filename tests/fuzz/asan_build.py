"""A build of the delegate and the kernels with AddressSanitizer + UndefinedBehaviorSanitizer
(g++, the sources and per-file ISA flags of tests/test_sanitizers.py), for running the fuzzer's
cases under the sanitizers:

    python tests/fuzz/asan_build.py OUT_DIR [KERNELS_DIR]   # prints the path of liblce_delegate.so

`sanitizer_env()` is the environment for a Python process that loads it: the sanitizer runtimes
must come first, so they are preloaded (LD_PRELOAD); leak checking is off (the Python
interpreter itself is not leak-clean); any report aborts the process, which the engine
classifies as a crash.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

from test_sanitizers import FLAGS, KERNELS, SOURCES  # noqa: E402

DELEGATE_SOURCES = ["delegate/delegate.cc", "delegate/flexbuffer_map.cc"]


def build(out_dir, kernels=KERNELS):
    """Compiles (incrementally: objects newer than their sources are kept) and links
    OUT_DIR/liblce_delegate.so from the `kernels` tree (default: this one); returns its path."""
    os.makedirs(out_dir, exist_ok=True)
    flags = [f for f in FLAGS if not f.startswith("-I")] + ["-fPIC", "-I" + os.path.join(kernels, "include"),
                                                            "-I" + os.path.join(kernels, "src")]
    sources = {s: e for s, e in SOURCES.items() if not s.startswith("tests/")}
    sources.update({s: [] for s in DELEGATE_SOURCES})
    headers = [os.path.join(d, f) for d in (os.path.join(kernels, "src"), os.path.join(kernels, "delegate"),
                                            os.path.join(kernels, "include", "lce_kernels")) for f in os.listdir(d)
               if f.endswith(".h")]
    newest_header = max(os.path.getmtime(h) for h in headers)
    objects = []
    for src, extra in sources.items():
        path = os.path.join(kernels, src)
        obj = os.path.join(out_dir, os.path.basename(src) + ".o")
        if not os.path.exists(obj) or os.path.getmtime(obj) < max(os.path.getmtime(path), newest_header):
            subprocess.run(["g++", *flags, *extra, "-c", path, "-o", obj], check=True, capture_output=True, timeout=600)
        objects.append(obj)
    lib = os.path.join(out_dir, "liblce_delegate.so")
    subprocess.run(["g++", *flags, "-shared", *objects, "-pthread", "-o", lib], check=True, capture_output=True,
                   timeout=300)
    return lib


def runtime_library(name):
    path = subprocess.run(["g++", "-print-file-name=" + name], capture_output=True, text=True, check=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


def sanitizer_env(env=None):
    env = dict(os.environ if env is None else env)
    libs = [runtime_library("libasan.so"), runtime_library("libubsan.so")]
    env["LD_PRELOAD"] = ":".join(l for l in libs if l)
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:handle_segv=1:allocator_may_return_null=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


if __name__ == "__main__":
    print(build(sys.argv[1], *sys.argv[2:3]))
