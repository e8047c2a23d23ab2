"""Python API of the HLS lowering: export, csim, quantize_input."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from ..errors import LceConvertError
from . import emit as _emit
from . import exact, folding
from .lowering import layer_key_matches, lower as _lower

_OPTIONS = {"input_type", "output_type", "intermediate_type", "target_cycles", "lut_budget", "layers", "clock_mhz", "part",
            "max_weight_frac_bits"}


class HlsProject:
    """An exported project: `out_dir`, the lowered `design`, the per-layer `report` (dict) and
    `report_text`."""

    def __init__(self, out_dir, design, report):
        self.out_dir, self.design, self.report = out_dir, design, report
        self.report_text = folding.format_report(report)

    def __repr__(self):
        return "HlsProject(%r)" % self.out_dir


def _check_config(config):
    unknown = set(config) - _OPTIONS
    if unknown:
        raise LceConvertError("unknown HLS option(s): %s (known: %s)" % (", ".join(sorted(unknown)),
                                                                        ", ".join(sorted(_OPTIONS))))
    for key in ("input_type", "output_type", "intermediate_type"):
        if key in config:
            try:
                exact.parse_fixed(config[key])
            except ValueError as e:
                raise LceConvertError("%s: %s" % (key, e)) from None
    for key in ("target_cycles", "lut_budget"):
        v = config.get(key)
        if v is not None and (not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1):
            raise LceConvertError("%s must be a positive integer, got %r" % (key, v))
    layers = config.get("layers") or {}
    if not isinstance(layers, dict):
        raise LceConvertError("layers must be a dict {layer name: {option: value}}")
    for name, opts in layers.items():
        if not isinstance(opts, dict) or set(opts) - {"pe", "simd", "output_type"}:
            raise LceConvertError("layers[%r]: options are 'pe', 'simd' and 'output_type'" % name)
        if "output_type" in opts:
            try:
                exact.parse_fixed(opts["output_type"])
            except ValueError as e:
                raise LceConvertError("layers[%r]: %s" % (name, e)) from None
    clock = config.get("clock_mhz", 200.0)
    if not isinstance(clock, (int, float)) or not clock > 0:
        raise LceConvertError("clock_mhz must be a positive number")


def _model_bytes(model):
    if hasattr(model, "layers") and hasattr(model, "predict") or type(model).__module__.startswith(("keras", "tf_keras",
                                                                                                 "tensorflow")):
        raise LceConvertError("got a %s, not a converted model: convert it first (lce_convert.convert_keras_model"
                              "(model)), then lower the .tflite bytes" % type(model).__name__)
    if isinstance(model, (str, os.PathLike)):
        with open(model, "rb") as f:
            return f.read()
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    raise LceConvertError("expected .tflite bytes or a path, got %s" % type(model).__name__)


def lower(model, **config):
    """Lower and fold without writing files (returns the Design)."""
    _check_config(config)
    design = _lower(_model_bytes(model), config)
    _apply_layer_folding(design, config)
    folding.fold(design, config.get("target_cycles"), config.get("lut_budget"),
                 config.get("part", folding.DEFAULT_PART))
    return design


def _apply_layer_folding(design, config):
    layers = config.get("layers") or {}
    used = set()
    for u in design.mvaus():
        for key, opts in layers.items():
            if layer_key_matches(key, u.name, u.source):
                used.add(key)
                if "pe" in opts:
                    if not isinstance(opts["pe"], int) or opts["pe"] < 1 or u.co % opts["pe"]:
                        raise LceConvertError("layer %s: pe=%r must divide the %d output channels"
                                              % (u.source, opts["pe"], u.co))
                    u.fixed_pe = opts["pe"]
                if "simd" in opts:
                    if not isinstance(opts["simd"], int) or opts["simd"] < 1 or not u.simd_ok(opts["simd"]):
                        raise LceConvertError("layer %s: simd=%r must divide the %d input channels per group"
                                              % (u.source, opts["simd"], u.cg))
                    u.fixed_simd = opts["simd"]
    for key in layers:
        if key not in used and not any(layer_key_matches(key, u.name, u.source) for u in design.units):
            raise LceConvertError("layers[%r] matches no layer (layer names: %s)"
                                  % (key, ", ".join(u.name for u in design.units)))


def export(model, out_dir, **config):
    """Lower a converted model to a Vitis-HLS project in `out_dir`.

    Options: input_type / output_type ('ap_fixed<W,I,Q,O>' strings; the input is quantized to
    input_type, fixed-point outputs are cast to output_type), target_cycles (cycles per frame)
    or lut_budget (estimated LUTs; the folding also keeps within the part's LUT/BRAM/DSP) for the
    folding, layers={name: {pe, simd, output_type}}, clock_mhz, part (synth.tcl and the
    resource check: an HlsFitWarning when the estimate does not fit), max_weight_frac_bits
    (fixed-point layers)."""
    design = lower(model, **config)
    part = config.get("part", folding.DEFAULT_PART)
    meta = _emit.emit(design, out_dir, part=part, clock_mhz=float(config.get("clock_mhz", 200.0)))
    rep = folding.report(design, float(config.get("clock_mhz", 200.0)), part)
    meta["report"] = rep
    meta["model_output_shape"] = list(design.output_shape)
    meta["model_input_shape"] = list(design.input_shape)
    meta["host_softmax"] = design.host_softmax
    with open(os.path.join(out_dir, "design.json"), "w") as f:
        json.dump(meta, f, indent=1, default=str)
    with open(os.path.join(out_dir, "report.txt"), "w") as f:
        f.write(folding.format_report(rep) + "\n")
    return HlsProject(out_dir, design, rep)


def ap_types_dir():
    """The Xilinx ap_types headers shipped in the hls4ml wheel."""
    spec = importlib.util.find_spec("hls4ml")
    if spec is None or not spec.submodule_search_locations:
        raise LceConvertError("C-simulation needs the Xilinx ap_types headers from the hls4ml wheel: "
                              "pip install 'lce_convert[hls]' (hls4ml==1.3.0)")
    p = os.path.join(spec.submodule_search_locations[0], "templates", "vivado", "ap_types")
    if not os.path.isfile(os.path.join(p, "ap_int.h")):
        raise LceConvertError("hls4ml is installed but %s has no ap_int.h" % p)
    return p


def _build(out_dir, trace):
    exe = os.path.join(out_dir, "csim_trace" if trace else "csim")
    srcs = [os.path.join(out_dir, p) for p in ("firmware/top.cpp", "firmware/top.h", "firmware/params.h",
                                               "firmware/lce_hls.h", "tb/testbench.cpp")]
    for s in srcs:
        if not os.path.isfile(s):
            raise LceConvertError("%s is not an exported HLS project (missing %s)" % (out_dir, s))
    if os.path.isfile(exe) and os.path.getmtime(exe) >= max(os.path.getmtime(s) for s in srcs):
        return exe
    gxx = shutil.which(os.environ.get("CXX", "g++"))
    if gxx is None:
        raise LceConvertError("C-simulation needs g++ (or $CXX)")
    # one translation unit: the heavy ap_types headers are parsed once
    unity = os.path.join(out_dir, "tb", "csim_unity.cpp")
    with open(unity, "w") as f:
        f.write('#include "../firmware/top.cpp"\n#include "testbench.cpp"\n')
    cmd = [gxx, "-std=c++14", "-O1", "-Wno-unknown-pragmas", "-isystem", ap_types_dir(),
           "-I" + os.path.join(out_dir, "firmware"), unity, "-o", exe + ".tmp"]
    if trace:
        cmd.insert(4, "-DLCE_TRACE")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise LceConvertError("g++ failed on the generated code:\n%s" % r.stderr[-4000:])
    os.replace(exe + ".tmp", exe)
    return exe


def quantize_input(x, input_type):
    """x as the fixed-point input type represents it (its quantization and overflow modes), as
    float64: what the hardware sees."""
    t = exact.parse_fixed(input_type) if isinstance(input_type, str) else input_type
    s = np.ldexp(np.asarray(x, np.float64), t.F)
    q = t.q
    if q == "AP_TRN":
        r = np.floor(s)
    elif q == "AP_TRN_ZERO":
        r = np.trunc(s)
    elif q == "AP_RND":
        r = np.floor(s + 0.5)
    elif q == "AP_RND_ZERO":
        r = np.sign(s) * np.ceil(np.abs(s) - 0.5)
    elif q == "AP_RND_INF":
        r = np.sign(s) * np.floor(np.abs(s) + 0.5)
    elif q == "AP_RND_MIN_INF":
        r = np.ceil(s - 0.5)
    else:  # AP_RND_CONV
        r = np.rint(s)
    lo = -(2.0 ** (t.W - 1)) if t.signed else 0.0
    hi = 2.0 ** (t.W - 1) - 1 if t.signed else 2.0 ** t.W - 1
    over = (r < lo) | (r > hi)
    if t.o == "AP_SAT":
        r = np.clip(r, lo, hi)
    elif t.o == "AP_SAT_SYM":
        r = np.clip(r, -hi if t.signed else 0, hi)
    elif t.o == "AP_SAT_ZERO":
        r = np.where(over, 0.0, r)
    else:
        span = 2.0 ** t.W
        r = np.mod(r - lo, span) + lo
    return np.ldexp(r, -t.F)


def _run_simulation(cmd, n, timeout, verbose):
    """Runs the testbench; with `verbose`, a progress bar over the frames on stderr (the
    testbench prints a line per frame when LCE_CSIM_PROGRESS is set)."""
    if not verbose:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    import sys
    import threading
    from tqdm import tqdm
    env = dict(os.environ, LCE_CSIM_PROGRESS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        err = []
        reader = threading.Thread(target=lambda: err.append(proc.stderr.read()))
        reader.start()
        with tqdm(total=n, desc="C-simulation", unit="frame", file=sys.stderr) as bar:
            for line in proc.stdout:
                if line.startswith("frame "):
                    bar.update(1)
        proc.wait()
        reader.join()
    finally:
        timer.cancel()
    if proc.returncode == -9:
        raise subprocess.TimeoutExpired(cmd, timeout)
    return subprocess.CompletedProcess(cmd, proc.returncode, "", "".join(err))


def csim(project, x, trace=False, timeout=600, verbose=0):
    """Run the g++ C-simulation of an exported project on inputs `x` ([N, *input shape] or one
    sample). Returns the outputs ([N, *model output shape]: float64 for fixed-point outputs,
    int32 bitpacked words for binary outputs); with trace=True also a dict of every unit's
    output per frame (bits as bitpacked int32 [N, H, W, words], fixed point as float64).
    `verbose=1` shows the progress on stderr: the g++ build (a large design takes minutes),
    then a bar over the frames."""
    out_dir = project.out_dir if isinstance(project, HlsProject) else str(project)
    meta_path = os.path.join(out_dir, "design.json")
    if not os.path.isfile(meta_path):
        raise LceConvertError("%s is not an exported HLS project (no design.json)" % out_dir)
    with open(meta_path) as f:
        meta = json.load(f)
    want = [int(d) for d in meta["model_input_shape"][1:]]
    x = np.asarray(x, np.float64)
    if list(x.shape[1:]) == want:
        n, single = x.shape[0], False
    elif list(x.shape) == want:
        n, single = 1, True
    else:
        raise LceConvertError("input of shape %s does not match the model input [N, %s]"
                              % (list(x.shape), ", ".join(map(str, want))))
    if n == 0:
        raise LceConvertError("no input samples")
    if verbose:
        import sys
        import time
        start = time.perf_counter()
        print("C-simulation: building %s with g++ ..." % out_dir, file=sys.stderr, flush=True)
    exe = _build(out_dir, trace)
    if verbose:
        print("C-simulation: built in %.1f s" % (time.perf_counter() - start), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="lce_csim_") as tmp:
        fin, fout = os.path.join(tmp, "input.bin"), os.path.join(tmp, "output.bin")
        np.ascontiguousarray(x.reshape(n, -1), "<f8").tofile(fin)
        cmd = [exe, fin, fout]
        if trace:
            tdir = os.path.join(tmp, "traces")
            os.makedirs(tdir)
            cmd += ["-", tdir]
        r = _run_simulation(cmd, n, timeout, verbose)
        if r.returncode != 0:
            raise LceConvertError("C-simulation failed (exit %d): %s" % (r.returncode, r.stderr[-2000:]))
        out = _read(fout, meta["output"], n)
        if meta.get("host_softmax") is not None:  # the model's final softmax, on the host
            z = out.reshape(n, -1) * meta["host_softmax"]
            z = np.exp(z - z.max(axis=1, keepdims=True))
            out = z / z.sum(axis=1, keepdims=True)
        shape = meta.get("model_output_shape")
        if shape is not None:
            out = out.reshape([n] + list(shape[1:]))
        if single:
            out = out[0]
        if not trace:
            return out
        traces = {}
        for t in meta["traces"]:
            p = os.path.join(tdir, t["name"] + ".bin")
            if os.path.isfile(p):
                traces[t["name"]] = _read(p, t, n)
        return out, traces


def _read(path, info, n):
    h, w, c = info["shape"]
    if info["kind"] == "bits":
        return np.fromfile(path, "<i4").reshape(n, h, w, -(-c // 32))
    return np.fromfile(path, "<f8").reshape(n, h, w, c)


def _with_outputs(model_bytes, value_ids):
    """The model with the given values (ids of the imported module, as the lowering numbers
    them) added to the main subgraph's outputs (for CPU traces)."""
    from .. import _description, _tflite_io, mlir
    from .lowering import description
    desc = description(mlir.import_tflite(model_bytes))
    f = desc["functions"][0]
    f["returns"] = list(f["returns"]) + list(value_ids)
    desc["attrs"].pop(_description.SIGNATURES, None)  # the signature names the old outputs only
    return _tflite_io.write(desc)


def _lsb(ctype):
    """The LSB of an ap_fixed/ap_ufixed<W, I, ...> type name (1 for ap_int)."""
    m = re.match(r"ap_u?fixed<\s*(\d+)\s*,\s*(-?\d+)", ctype)
    return 2.0 ** -(int(m.group(1)) - int(m.group(2))) if m else 1.0


def _decode(n):
    return n.decode(errors="replace") if isinstance(n, bytes) else n


def compare(project, model, x, num_threads=1, verbose=0):
    """Per-layer comparison of the C-simulation against the CPU runtime (our delegate) on
    inputs `x` (taken on the input type's grid first, so both see the same values). Returns a
    list of dicts per traced unit with a CPU counterpart: name, source, kind, and for bits
    `mismatches` (differing bits), for fixed point `max_abs_diff` and `lsb` of the C-sim type.
    `verbose=1`: the C-simulation's progress on stderr (csim)."""
    from ..interpreter import Interpreter
    out_dir = project.out_dir if isinstance(project, HlsProject) else str(project)
    with open(os.path.join(out_dir, "design.json")) as f:
        meta = json.load(f)
    xq = quantize_input(x, meta["input"]["type"]).astype(np.float32)
    y, traces = csim(out_dir, xq, trace=True, verbose=verbose)
    wanted = [t for t in meta["traces"] if t.get("cpu_value") is not None and t["name"] in traces]
    names = list(dict.fromkeys(t["cpu_value"] for t in wanted))
    it = Interpreter(_with_outputs(_model_bytes(model), names), num_threads=num_threads)
    cpu = it.predict(xq)
    cpu = list(cpu) if isinstance(cpu, (list, tuple)) else [cpu]
    by_name = dict(zip(names, cpu[1:]))
    rows = []
    for t in wanted:
        a, b = traces[t["name"]], np.asarray(by_name[t["cpu_value"]])
        row = dict(name=t["name"], source=t["source"], kind=t["kind"], cpu_tensor=t["cpu_tensor"])
        if a.size != b.size:
            row["error"] = "shape %s vs CPU %s" % (list(a.shape), list(b.shape))
        elif t["kind"] == "bits":
            diff = np.bitwise_xor(a.reshape(-1).view(np.uint32), b.reshape(-1).astype(np.int32).view(np.uint32))
            row["mismatches"] = int(sum(bin(int(v)).count("1") for v in diff[diff != 0]))
        else:
            row["max_abs_diff"] = float(np.max(np.abs(a.reshape(-1) - b.reshape(-1).astype(np.float64))))
            row["max_abs_cpu"] = float(np.max(np.abs(b)))
            row["lsb"] = _lsb(t.get("type") or "")
        rows.append(row)
    final = np.asarray(cpu[0])
    rows.append(dict(name="output", source="model output", kind=meta["output"]["kind"],
                     **({"mismatches": int(np.sum(np.asarray(y).reshape(-1) != final.reshape(-1)))}
                        if meta["output"]["kind"] == "bits" else
                        {"max_abs_diff": float(np.max(np.abs(np.asarray(y, np.float64).reshape(-1)
                                                              - final.reshape(-1).astype(np.float64)))),
                         "max_abs_cpu": float(np.max(np.abs(final))),
                         "lsb": _lsb(meta["output"]["type"] or "")})))
    return rows
