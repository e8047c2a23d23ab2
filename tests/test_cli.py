"""The command lines (issue 14, point 5): `lce-convert convert` on every model format with its
options, the report as text and JSON; `lce-benchmark` with the ISA, layer names, --json, --csv
and --plot; every error one line without a traceback. Run in-process through main(argv), and
through the installed entry points where the exit path matters. Small models only."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import lce_convert
import models
from lce_convert import benchmark, cli

BIN = os.path.dirname(sys.executable)
_cache = {}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same larq BNN as .h5, .keras, SavedModel and TensorFlow's plain .tflite."""
    import tensorflow as tf
    d = tmp_path_factory.mktemp("cli")
    model = models.larq_bnn()
    model.save(str(d / "bnn.h5"))
    model.save(str(d / "bnn.keras"))
    tf.saved_model.save(model, str(d / "sm"))
    (d / "plain.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    (d / "garbage.bin").write_bytes(b"these bytes are not a model of any kind")
    (d / "empty_dir").mkdir()
    return d, model


def run_cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("source", ["bnn.h5", "bnn.keras", "sm", "plain.tflite"])
def test_convert_every_format(source, files, capsys, tmp_path):
    d, model = files
    out_path, report_path = tmp_path / "out.tflite", tmp_path / "report.json"
    code, out, err = run_cli(["convert", d / source, "-o", out_path, "--bitpacked-activations",
                              "--report-json", report_path], capsys)
    assert code == 0, err
    assert "4 of 5 conv/dense layers binarized" in out and "binarized (bitpacked output)" in out
    assert "done in" in err and "wrote %s" % out_path in err
    converted = out_path.read_bytes()
    api = lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True)
    report = json.loads(report_path.read_text())
    assert report["binarized"] == 4 and report["total"] == 5
    assert [l["binarized"] for l in report["layers"]] == [l.binarized for l in api.report]
    if source.startswith("bnn."):  # Keras names, as the API gives them
        assert [l["keras_layer"] for l in report["layers"]] == [l.keras_layer for l in api.report]
        assert bytes(converted) == bytes(api)
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    keras = model(x, training=False).numpy()
    assert float(np.max(np.abs(lce_convert.Interpreter(converted).predict(x) - keras))) < 1e-4


def test_convert_int8_options_and_json_to_stdout(files, capsys, tmp_path):
    d, model = files
    out_path = tmp_path / "int8.tflite"
    code, out, err = run_cli(["convert", d / "bnn.h5", "-o", out_path, "--default-int8-range", "-3", "3",
                              "--input-type", "int8", "--output-type", "int8", "--report-json", "-"], capsys)
    assert code == 0, err
    report = json.loads(out)  # only the JSON on stdout
    assert report["binarized"] == 4
    assert "warning: Using experimental_default_int8_range" in err
    it = lce_convert.Interpreter(out_path.read_bytes())
    assert it.input_types == [np.dtype(np.int8)] and it.output_types == [np.dtype(np.int8)]
    assert it.input_scales == [pytest.approx(6 / 255)]


def test_convert_no_lce_compatible_and_quiet(files, capsys, tmp_path):
    d, _ = files
    out_path = tmp_path / "ours.tflite"
    code, out, err = run_cli(["convert", d / "plain.tflite", "-o", out_path, "--no-lce-compatible", "-q"], capsys)
    assert code == 0 and out == "" and err == ""
    expected = lce_convert.convert_tflite((d / "plain.tflite").read_bytes(), lce_compatible=False)
    assert out_path.read_bytes() == bytes(expected)


@pytest.mark.parametrize("argv, message", [
    (["convert", "{d}/garbage.bin", "-o", "{t}/x.tflite"], "is not a model lce-convert reads"),
    (["convert", "{d}/empty_dir", "-o", "{t}/x.tflite"], "is a directory but not a SavedModel"),
    (["convert", "{d}/missing.h5", "-o", "{t}/x.tflite"], "does not exist"),
    (["convert", "{d}/bnn.h5", "-o", "{t}/no/such/dir/x.tflite"], "the output directory"),
    (["convert", "{d}/bnn.h5", "-o", "{t}"], "is a directory; give a file name"),
    (["convert", "{d}/plain.tflite", "-o", "{t}/x.tflite", "--default-int8-range", "3", "1"], "min < max"),
    (["convert", "{d}/plain.tflite", "-o", "{t}/x.tflite", "--output-type", "int8"], "no int8 tensors"),
    (["convert", "{d}/plain.tflite", "-o", "{t}/x.tflite", "--target", "xcore"], "target='xcore'"),
    (["mlir", "{d}/bnn.h5"], "is a Keras model, not a .tflite model; convert it first"),
    (["mlir", "{d}/sm"], "is a SavedModel, not a .tflite model"),
    (["mlir", "{d}/garbage.bin"], "file identifier"),
    (["mlir", "{d}/empty_dir"], "is a directory"),
    (["opt", "{d}/plain.tflite", "-p", "no-such-pass", "-o", "{t}/y.tflite"], "no-such-pass"),
])
def test_errors_are_one_line(argv, message, files, capsys, tmp_path):
    d, _ = files
    code, out, err = run_cli([a.format(d=d, t=tmp_path) for a in argv], capsys)
    assert code == 1
    lines = [l for l in err.splitlines() if l.startswith("lce-convert:")]
    assert len(lines) == 1 and lines[0].startswith("lce-convert: error: ") and message in lines[0], err
    assert "Traceback" not in err


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["convert", "model.h5"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "-o/--output" in err
    with pytest.raises(SystemExit):
        cli.main(["convert", "m.h5", "-o", "x", "--default-int8-range", "low", "3"])
    assert "'low' is not a number" in capsys.readouterr().err


def test_entry_point_without_tensorflow(files, tmp_path):
    """The installed lce-convert, TensorFlow made unimportable: converting a .tflite works,
    a Keras model gets one line naming the extra to install."""
    d, _ = files
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "tensorflow.py").write_text("raise ImportError('No module named tensorflow (blocked by the test)')\n")
    env = dict(os.environ, PYTHONPATH=str(blocker) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([os.path.join(BIN, "lce-convert"), "convert", str(d / "bnn.h5"), "-o", str(tmp_path / "x")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "needs TensorFlow, which is not installed: pip install 'lce_convert[tf]'" in r.stderr
    r = subprocess.run([os.path.join(BIN, "lce-convert"), "convert", str(d / "plain.tflite"), "-o",
                        str(tmp_path / "x.tflite")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "4 of 5 conv/dense layers binarized" in r.stdout


# ---- lce-benchmark ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def converted(files, tmp_path_factory):
    d, model = files
    path = tmp_path_factory.mktemp("bench") / "bnn_lce.tflite"
    path.write_bytes(lce_convert.convert_keras_model(model, experimental_enable_bitpacked_activations=True))
    return path


def test_benchmark_json_csv_plot(files, converted, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    import larq as lq
    d, model = files
    # Keras numbers layer names per process: read them off the model
    binary = [layer.name for layer in model.layers if isinstance(layer, (lq.layers.QuantConv2D, lq.layers.QuantDense))]
    js, cs, png = tmp_path / "b.json", tmp_path / "b.csv", tmp_path / "p.png"
    code = benchmark.main([str(converted), "--float", str(d / "plain.tflite"), "--runs", "2", "--json", str(js),
                           "--csv", str(cs), "--plot", str(png)])
    out, err = capsys.readouterr()
    assert code == 0, err
    from lce_convert import _kernels
    assert "1 thread(s), kernels %s" % _kernels.active_isa() in out
    report = json.loads(js.read_text())
    assert report["isa"] == _kernels.active_isa() and report["threads"] == 1 and report["runs"] == 2
    runtimes = [r["runtime"] for r in report["results"]]
    assert runtimes[0] == "lce_convert delegate" and "TFLite float (XNNPACK)" in runtimes
    assert all(r["median_ms"] > 0 for r in report["results"])
    ops = report["profile"]["converted"]
    bconvs = [o for o in ops if o["operator"] == "LceBconv2d"]
    assert [o["layer"].split("/")[0] for o in bconvs] == binary and len(binary) == 4
    assert all(o["ms"]["ours"] > 0 for o in ops)
    second = bconvs[1]["layer"]
    assert second.startswith(binary[1] + "/") and second in out  # the layer column of the printed profile
    rows = list(csv.DictReader(cs.open()))
    assert {r["kind"] for r in rows} == {"model", "op"}
    assert any(r["layer"] == second and r["runtime"] == "ours" for r in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000
    assert "profiling the converted model" in err  # the progress bar over the ops


@pytest.mark.parametrize("argv, message", [
    (["{m}", "--runs", "0"], "--runs must be at least 1"),
    (["{d}/missing.tflite"], "does not exist"),
    (["{d}/bnn.h5"], "is not a .tflite model"),
    (["{d}/empty_dir"], "is a directory"),
    (["{m}", "--threads", "two"], "--threads takes a count"),
    (["{m}", "--float", "{d}/garbage.bin"], "the float model"),
])
def test_benchmark_errors_are_one_line(argv, message, files, converted, capsys):
    d, _ = files
    try:
        code = benchmark.main([a.format(d=d, m=converted) for a in argv])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    assert code in (1, 2)
    assert err.count("\n") == 1 and err.startswith("lce-benchmark: error: ") and message in err, err


def test_benchmark_plot_without_matplotlib(converted, tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "matplotlib.py").write_text("raise ImportError('No module named matplotlib (blocked)')\n")
    env = dict(os.environ, PYTHONPATH=str(blocker) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([os.path.join(BIN, "lce-benchmark"), str(converted), "--plot", str(tmp_path / "p.png")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == ("lce-benchmark: error: --plot needs matplotlib, which is not "
                                                 "installed: pip install 'lce_convert[plot]'")


def test_benchmark_help_is_whole():
    r = subprocess.run([os.path.join(BIN, "lce-benchmark"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    assert "Figures only: nothing is asserted." in r.stdout and "--plot PNG" in r.stdout
    assert "pip install 'lce_convert[plot]'" in r.stdout
