"""End to end on aarch64: models converted here (x86) run with lce_convert.Interpreter in an arm64
Python under qemu-user, with the runtime-only install of lce_convert that a user makes on a
Raspberry Pi (the cross-built wheel: the pure-Python package + the aarch64 delegate, no MLIR,
no TensorFlow, installed by the arm64 pip into a venv), and give the same bits as the x86 run of
the same models with the same Interpreter options.

The userland (an arm64 Debian bookworm with python3.11) and the aarch64 wheels of numpy and
ai_edge_litert are made once by tools/arm64_userland.py and cached under build/; the wheel is
built by tools/build_aarch64.sh (a failing build fails the test). The test skips, saying why,
when qemu-aarch64-static or debootstrap is missing or the emulator cannot run the userland.
All the models run in one arm64 Python process (its start-up under qemu takes seconds).

LCE_AARCH64_WHEEL=<path> tests that wheel instead of building one."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "fuzz", "corpus")
BUILD_SCRIPT = os.path.join(REPO, "tools", "build_aarch64.sh")
# Every model of the regression corpus: each must be refused, with the same message, on both.
with open(os.path.join(CORPUS, "index.json")) as f:
    MALFORMED = tuple(sorted(json.load(f)))

# Runs in both Pythons (x86 and arm64): every case of manifest.json in one process; outputs as
# .npy files, refusals as (class, message). A crash ends the process (the test reports it with
# the last case started).
RUNNER = r'''
import json, os, platform, sys, traceback
import numpy as np
import lce_convert
from lce_convert.interpreter import delegate_path

work, tag = sys.argv[1], sys.argv[2]
out_dir = os.path.join(work, "out-" + tag)
os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(work, "manifest.json")) as f:
    manifest = json.load(f)
result = {"machine": platform.machine(), "package": os.path.dirname(lce_convert.__file__),
          "delegate": delegate_path(), "tensorflow_loaded": False, "cases": {}}
for case in manifest:
    print("case", case["name"], flush=True)
    entry = result["cases"][case["name"]] = {}
    if "benchmark" in case:  # lce-benchmark of the install, as a user runs it on the device
        import contextlib, io
        from lce_convert import benchmark
        path = os.path.join(out_dir, "benchmark.json")
        with contextlib.redirect_stdout(io.StringIO()) as text:
            code = benchmark.main([os.path.join(work, case["benchmark"]), "--runs", "3", "--bounds", "--json", path])
        with open(path) as f:
            entry.update(exit=code, report=json.load(f), text=text.getvalue())
        continue
    try:
        with open(os.path.join(work, case["model"]), "rb") as f:
            model = f.read()
        interpreter = lce_convert.Interpreter(model, **case["options"])
        if case["inputs"] == "zeros":
            inputs = [np.zeros([max(1, int(n)) for n in d["shape"]], d["dtype"]) for d in interpreter.input_details]
        else:
            inputs = [np.load(os.path.join(work, name)) for name in case["inputs"]]
        outputs = interpreter.predict(inputs if len(inputs) > 1 else inputs[0])
        names = []
        for k, y in enumerate(outputs if isinstance(outputs, list) else [outputs]):
            names.append("%s.%d.npy" % (case["name"], k))
            np.save(os.path.join(out_dir, names[-1]), y)
        entry["outputs"] = names
    except lce_convert.LceConvertError as e:
        entry["refused"] = [type(e).__name__, str(e)]
    except Exception:
        entry["unexpected"] = traceback.format_exc()
result["tensorflow_loaded"] = "tensorflow" in sys.modules
with open(os.path.join(work, "result-%s.json" % tag), "w") as f:
    json.dump(result, f)
print("done", flush=True)
'''


def _userland():
    spec = importlib.util.spec_from_file_location("arm64_userland", os.path.join(REPO, "tools", "arm64_userland.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def arm64():
    """The userland with our wheel installed: the wheel built first (a failure fails the test),
    unless LCE_AARCH64_WHEEL names one; then the userland made or checked (skips when qemu or
    debootstrap is missing or the emulator cannot run it)."""
    ul = _userland()
    wheel = os.environ.get("LCE_AARCH64_WHEEL")
    if not wheel:
        p = subprocess.run(["nice", "-n", "10", "bash", BUILD_SCRIPT], cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        assert p.returncode == 0, "tools/build_aarch64.sh failed:\n" + p.stdout[-4000:]
        wheel = ul.default_lce_wheel()
        assert wheel, "tools/build_aarch64.sh made no build/aarch64/dist/lce_convert-*-linux_aarch64.whl"
    try:
        ul.ensure(lce_wheel=wheel)
    except ul.EmulatorUnavailable as e:
        pytest.skip("aarch64 end to end: %s" % e)
    return ul


CASES = ("ours_maxpool_float", "ours_maxpool_bitpacked", "ours_maxpool_bitpacked_reference",
         "ours_maxpool_bitpacked_2_threads", "lce_maxpool", "ours_conv_options_float",
         "ours_conv_options_bitpacked_fused", "ours_batchnorm_placement_bitpacked", "lce_batchnorm_placement",
         "ours_larq_bnn_bitpacked", "lce_larq_bnn", "ours_alexnet_bitpacked", "ours_int8_qat_int8_io",
         "ours_int8_default_range")


def _inputs(model_bytes, seed):
    """Seeded inputs for every model input, batch 2 (the model's shape otherwise)."""
    from lce_convert import Interpreter
    it = Interpreter(model_bytes)
    rng = np.random.default_rng(seed)
    out = []
    for shape, dtype in zip(it.input_shapes, it.input_types):
        shape = (2,) + tuple(shape[1:])
        if dtype == np.int8:
            out.append(rng.integers(-128, 128, size=shape).astype(np.int8))
        else:
            out.append(rng.normal(0, 1.5, size=shape).astype(dtype))
    return out


def _models():
    """(name, model bytes, Interpreter options) of the cases, converted here.

    XNNPACK does not start under qemu-user (kernels/README.md): TFLite's builtin kernels run the
    non-binary ops there. They give the same bits on x86 as on aarch64 with one exception, and
    XNNPACK's sometimes differ, so each case names the x86 configuration that computes those
    ops as the aarch64 one does (our ops give the same bits in both):
    - float cases: use_xnnpack=False (XNNPACK's float MEAN, the global average pool of
      conv_options, differs from the builtin kernel's in the last bit: 5 of 80 values);
    - int8 default ranges: XNNPACK (the default), since x86's optimized builtin int8 CONV_2D
      differs from TFLite's reference kernel by one step (2 of 4096 values of the stem), and an
      int8 value at the zero point flips its bit at the binarization; XNNPACK and the aarch64
      builtin kernel agree with the reference.
    Not compared: TFLite's float softmax, and the QuickNet- and Bi-Real-like models of bnn_zoo
    (float depthwise, 1x1, average-pool and dense layers): their x86 and aarch64 builtin kernels
    differ in the last bits."""
    import tensorflow as tf
    import larq_compute_engine as lce
    import bnn_zoo
    import models
    import lce_convert
    off = {"use_xnnpack": False}
    cases = []
    # ours, float activations between binary layers, and bitpacked (binary max-pool on bits)
    model, _, _ = bnn_zoo.maxpool_binary()
    cases.append(("ours_maxpool_float", lce_convert.convert_keras_model(model), off))
    cases.append(("ours_maxpool_bitpacked",
                  lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True), off))
    cases.append(("ours_maxpool_bitpacked_reference", cases[-1][1], dict(off, use_reference_bconv=True)))
    cases.append(("ours_maxpool_bitpacked_2_threads", cases[-2][1], dict(off, num_threads=2)))
    # LCE 0.16's converter, on the same model
    cases.append(("lce_maxpool", lce.convert_keras_model(model), off))
    # zero and one padding, strides, dilation, groups, odd channel counts; ReLU and BatchNorm
    # placements; the fused form of zero-padded convs (lce_compatible=False)
    model, _, _ = bnn_zoo.conv_options()
    cases.append(("ours_conv_options_float", lce_convert.convert_keras_model(model), off))
    cases.append(("ours_conv_options_bitpacked_fused", lce_convert.convert_keras_model(
        model, experimental_enable_bitpacked_activations=True, lce_compatible=False), off))
    model, _, _ = bnn_zoo.batchnorm_placement()
    cases.append(("ours_batchnorm_placement_bitpacked",
                  lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True), off))
    cases.append(("lce_batchnorm_placement", lce.convert_keras_model(model), off))
    # whole small BNNs: float stem, binary convs and dense, max-pools
    model = models.larq_bnn()
    model = tf.keras.Model(model.input, model.layers[-2].output)  # the logits, before the softmax
    cases.append(("ours_larq_bnn_bitpacked",
                  lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True), off))
    cases.append(("lce_larq_bnn", lce.convert_keras_model(model), off))
    model, _, _ = bnn_zoo.binary_alexnet_like()
    cases.append(("ours_alexnet_bitpacked",
                  lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True), off))
    # int8: quantization-aware with int8 input and output; default ranges
    model, _, _ = bnn_zoo.fake_quant_bnn()
    cases.append(("ours_int8_qat_int8_io", lce_convert.convert_keras_model(
        model, inference_input_type=tf.int8, inference_output_type=tf.int8), off))
    model, _, _ = bnn_zoo.default_range_bnn()
    cases.append(("ours_int8_default_range", lce_convert.convert_keras_model(
        model, experimental_default_int8_range=(-3.0, 3.0), inference_input_type=tf.int8,
        inference_output_type=tf.int8, experimental_enable_bitpacked_activations=True), {}))
    return cases


@pytest.fixture(scope="module")
def work(arm64):
    """A folder under the userland's tmp (the arm64 Python sees its path relative to the root)
    with the models, their inputs, the malformed models and the manifest."""
    path = tempfile.mkdtemp(prefix="lce-e2e-", dir=os.path.join(arm64.ROOT, "tmp"))
    manifest = []
    cases = _models()
    assert [name for name, _, _ in cases] == list(CASES)
    for seed, (name, model, options) in enumerate(cases):
        with open(os.path.join(path, name + ".tflite"), "wb") as f:
            f.write(bytes(model))
        inputs = []
        for k, x in enumerate(_inputs(bytes(model), seed)):
            inputs.append("%s.in%d.npy" % (name, k))
            np.save(os.path.join(path, inputs[-1]), x)
        manifest.append({"name": name, "model": name + ".tflite", "inputs": inputs, "options": options})
    for file in MALFORMED:
        shutil.copy(os.path.join(CORPUS, file), os.path.join(path, file))
        # (without XNNPACK as well: some messages count the graph's tensors, which XNNPACK's
        # partitioning changes)
        manifest.append({"name": file, "model": file, "inputs": "zeros", "options": {"use_xnnpack": False}})
    manifest.append({"name": "benchmark", "benchmark": "ours_maxpool_bitpacked.tflite"})
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    with open(os.path.join(path, "runner.py"), "w") as f:
        f.write(RUNNER)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(argv, path, seen_as, tag, timeout, env=None):
    """The runner over the manifest in `path` (which the Python of argv sees as `seen_as`)."""
    p = subprocess.run(argv + [seen_as + "/runner.py", seen_as, tag], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)
    cases = re.findall(r"^case (.*)$", p.stdout, re.M)
    assert p.returncode == 0 and p.stdout.rstrip().endswith("done"), (
        "the %s run failed (exit %d) in case %s:\n%s" % (tag, p.returncode, cases[-1:] or "(start-up)",
                                                        (p.stderr + p.stdout)[-4000:]))
    assert "is not an ISA path of this CPU" not in p.stderr, p.stderr
    with open(os.path.join(path, "result-%s.json" % tag)) as f:
        result = json.load(f)
    result["tag"] = tag
    return result


# The aarch64 kernel paths, chosen by LCE_KERNELS_ISA: the default (the best this CPU has:
# qemu's cpu "max" has asimddp), then each one forced.
ISAS = ("default", "neon", "portable")


@pytest.fixture(scope="module")
def results(arm64, work):
    """Every case run by the x86 Python of the tests, then by the arm64 Python under qemu, once
    per aarch64 kernel path. Returns (x86 result, {isa: aarch64 result})."""
    x86 = _run([sys.executable], work, work, "x86_64", timeout=300)
    arm = {}
    inside = "/" + os.path.relpath(work, arm64.ROOT)  # the folder as the chroot'ed Python sees it
    for isa in ISAS:
        env = dict(arm64.CHROOT_ENV, **({} if isa == "default" else {"LCE_KERNELS_ISA": isa}))
        arm[isa] = _run(arm64.python_argv(arm64.ROOT), work, inside, "aarch64-" + isa, timeout=900, env=env)
    return x86, arm


def test_runtime_only_install(results):
    """The arm64 runs used the installed wheel (the venv's site-packages, its own delegate),
    without TensorFlow."""
    x86, arms = results
    assert x86["machine"] == "x86_64"
    for arm in arms.values():
        assert arm["machine"] == "aarch64"
        assert arm["package"] == "/opt/lce/lib/python3.11/site-packages/lce_convert", arm["package"]
        assert arm["delegate"] == arm["package"] + "/liblce_delegate.so", arm["delegate"]
        assert not arm["tensorflow_loaded"]


def test_benchmark_runs(results):
    """lce-benchmark (lce_convert.benchmark) runs on the runtime-only install and times our
    runtime (the figures are the emulator's)."""
    x86, arms = results
    for result in (x86, arms["default"]):
        entry = result["cases"]["benchmark"]
        assert entry["exit"] in (0, None), (result["tag"], entry)
        rows = {row["runtime"]: row for row in entry["report"]["results"]}
        assert rows["lce_convert delegate"]["median_ms"] > 0, (result["tag"], entry["text"])
        assert "lce_convert delegate" in entry["text"], entry["text"]
        bounds = entry["report"]["bounds"]  # --bounds: the peak loop of the kernel path that ran
        assert bounds["peak_binary_macs_per_s"] > 0, (result["tag"], entry["text"])
        assert bounds["floor_ms"] > 0 and "every binary conv at the peak" in entry["text"], entry["text"]
    macs = [r["cases"]["benchmark"]["report"]["bounds"]["binary_macs"] for r in (x86, arms["default"])]
    assert macs[0] == macs[1] > 0, macs  # the same model's binary MACs, counted by each delegate
    assert x86["cases"]["benchmark"]["report"]["bounds"]["peak_loop"] in ("AVX-512 XOR+VPOPCNTQ", "AVX2 byte-LUT")
    assert arms["default"]["cases"]["benchmark"]["report"]["bounds"]["peak_loop"] == "NEON EOR+CNT+ADDP/UADALP"


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", CASES)
def test_same_bits(results, work, name, isa):
    x86, arms = results
    arm = arms[isa]
    a, b = x86["cases"][name], arm["cases"][name]
    assert "outputs" in a, a
    assert "outputs" in b, b
    assert len(a["outputs"]) == len(b["outputs"])
    for fa, fb in zip(a["outputs"], b["outputs"]):
        ya = np.load(os.path.join(work, "out-" + x86["tag"], fa))
        yb = np.load(os.path.join(work, "out-" + arm["tag"], fb))
        assert ya.dtype == yb.dtype and ya.shape == yb.shape, (ya.dtype, ya.shape, yb.dtype, yb.shape)
        assert np.array_equal(ya, yb), "%s: %d of %d values differ, max |diff| %s" % (
            fa, int(np.sum(ya != yb)), ya.size, np.max(np.abs(ya.astype(np.float64) - yb.astype(np.float64))))
        assert np.std(ya.astype(np.float64)) > 0, "%s: a constant output tests nothing" % fa


@pytest.mark.parametrize("file", MALFORMED)
def test_malformed_refused(results, file):
    """The same refusal, with the same message, on both machines."""
    with open(os.path.join(CORPUS, "index.json")) as f:
        expect = json.load(f)[file]["expect"]
    x86, arms = results
    for result in [x86] + list(arms.values()):
        entry = result["cases"][file]
        assert "refused" in entry, (result["tag"], entry)
        assert entry["refused"][0] == "InvalidModelError", (result["tag"], entry)
        assert re.search(expect, entry["refused"][1]), (result["tag"], entry["refused"][1])
        assert entry["refused"] == x86["cases"][file]["refused"], result["tag"]
