"""Emission of a lowered, folded Design as a Vitis-HLS project:

    firmware/lce_hls.h    our template library (kernels/hls/lce_hls.h)
    firmware/params.h     packed weights, thresholds and output-stage constants per layer
    firmware/top.h/.cpp   the top function: #pragma HLS DATAFLOW over hls::streams
    tb/testbench.cpp      C-simulation driver (raw binary I/O, optional per-layer traces)
    build_csim.sh         the g++ command line for C-simulation
    synth.tcl             Vitis HLS script (csim + csynth); not runnable here, no Vitis
    design.json           shapes and types the Python driver needs, plus the report
"""
import json
import math
import os
import shutil
from fractions import Fraction

import numpy as np

from . import exact
from .exact import Fixed, INF
from .lowering import Add, AvgPool, BMaxPool, BMvau, Dequantize, FMvau, Flatten, Fork, MaxPool, Sign, Swu


def template_header():
    """Path of lce_hls.h: installed next to the compiled modules, or in the source tree."""
    from .. import _kernels
    here = os.path.dirname(os.path.abspath(_kernels.__file__))
    # the source tree first (editable installs), then the copy installed with the package
    for p in (os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "kernels", "hls", "lce_hls.h"),
              os.path.join(here, "hls_include", "lce_hls.h")):
        if os.path.isfile(p):
            return p
    raise FileNotFoundError("lce_hls.h not found (reinstall lce_convert)")


def _vrange(u):
    """(lo, hi, F) of the value v an output stage sees: conv = K - 2p for binary units, the exact
    accumulator for fixed-point units."""
    if isinstance(u, BMvau):
        return Fraction(-u.K), Fraction(u.K), 0
    return u.acc_lo, u.acc_hi, u.acc_type.F


class _Emitter:
    def __init__(self, design):
        self.d = design
        self.params, self.body, self.max_width = [], [], 1024

    def width(self, w):
        self.max_width = max(self.max_width, int(w))

    def arr(self, ctype, name, values, per_line=8):
        vals = list(values)
        lines = []
        for i in range(0, len(vals), per_line):
            lines.append("    " + ", ".join(vals[i:i + per_line]) + ",")
        self.params.append("static const %s %s[%d] = {\n%s\n};" % (ctype, name, max(len(vals), 1),
                                                                   "\n".join(lines) if vals else "    0"))

    # --- output stages ----------------------------------------------------------------------------
    def affine(self, u, chains, otype, acc_cpp):
        p = u.name
        lo, hi, fv = _vrange(u)
        vt = exact.range_format(lo, hi, fv)
        Ms = [c.M for c in chains]
        Bs = [c.B for c in chains]
        Ls = [c.L for c in chains if c.L != -INF]
        Hs = [c.H for c in chains if c.H != INF]
        mt, bt = exact.format_for(Ms), exact.format_for(Bs)
        fz = max([fv + mt.F, bt.F] + [exact.frac_bits(x) for x in Ls + Hs])
        vmax = max(abs(lo), abs(hi))
        bound = vmax * max(abs(m) for m in Ms) + max(abs(b) for b in Bs)
        bound = max([bound, vmax, max(abs(m) for m in Ms), max(abs(b) for b in Bs)] + [abs(x) for x in Ls + Hs])
        zt = exact.range_format(-bound, bound, fz)
        for t in (vt, mt, bt, zt):
            self.width(2 * t.W + 2)
        self.params.append("typedef %s %s_v_t;\ntypedef %s %s_m_t;\ntypedef %s %s_b_t;\ntypedef %s %s_z_t;\n"
                           "typedef %s %s_out_t;" % (vt.cpp(), p, mt.cpp(), p, bt.cpp(), p, zt.cpp(), p,
                                                     otype.cpp(), p))
        self.arr(p + "_m_t", p + "_M", [exact.cpp_literal(m, p + "_m_t") for m in Ms], 4)
        self.arr(p + "_b_t", p + "_B", [exact.cpp_literal(b, p + "_b_t") for b in Bs], 4)
        self.arr(p + "_z_t", p + "_L", [exact.cpp_literal(c.L if c.L != -INF else 0, p + "_z_t") for c in chains], 4)
        self.arr(p + "_z_t", p + "_H", [exact.cpp_literal(c.H if c.H != INF else 0, p + "_z_t") for c in chains], 4)
        self.arr("bool", p + "_hasL", ["true" if c.L != -INF else "false" for c in chains], 16)
        self.arr("bool", p + "_hasH", ["true" if c.H != INF else "false" for c in chains], 16)
        conv_k = u.K if isinstance(u, BMvau) else 0
        act_t = "lce_hls::Affine<%d, %d, %s, %s_v_t, %s_m_t, %s_b_t, %s_z_t, %s_out_t>" % (
            u.co, conv_k, acc_cpp, p, p, p, p, p)
        self.params.append("typedef %s %s_act_t;" % (act_t, p))
        return "%s_act_t %s_act(%s_M, %s_B, %s_L, %s_H, %s_hasL, %s_hasH);" % (p, p, p, p, p, p, p, p)

    # --- units ------------------------------------------------------------------------------------
    def unit(self, u):
        ins = [self.sname(s) for s in u.inputs]
        out = self.sname(u.output)
        if isinstance(u, Swu):
            g, x = u.geom, u.inputs[0]
            self.call("lce_hls::swu<%s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s>(%s, %s);" % (
                x.pixel_cpp(), g["IH"], g["IW"], g["KH"], g["KW"], g["SH"], g["SW"], g["DH"], g["DW"], g["PT"],
                g["PL"], g["OH"], g["OW"], "true" if u.pad_is_data else "false", ins[0], out))
        elif isinstance(u, BMvau):
            self.bmvau(u, ins[0], out)
        elif isinstance(u, FMvau):
            self.fmvau(u, ins[0], out)
        elif isinstance(u, Fork):
            a, b = u.outputs
            self.call("lce_hls::fork2<%s, %d>(%s, %s, %s);" % (u.inputs[0].pixel_cpp(), u.inputs[0].pixels, ins[0],
                                                              self.sname(a), self.sname(b)))
        elif isinstance(u, Add):
            a, b = u.inputs
            self.call("lce_hls::add<%s, %s, %s, %d, %d, %s, %d, %s, %d>(%s, %s, %s);" % (
                a.elem_cpp(), b.elem_cpp(), u.output.elem_cpp(), a.channels, a.pixels,
                "true" if u.lo != -INF else "false", 0 if u.lo == -INF else int(u.lo),
                "true" if u.hi != INF else "false", 0 if u.hi == INF else int(u.hi), ins[0], ins[1], out))
        elif isinstance(u, AvgPool):
            p, x = u.name, u.inputs[0]
            rt = Fixed(66, 2)
            recip = []
            for n in range(u.taps + 1):
                r = Fraction(1, n) if n else Fraction(0)
                if r.denominator & (r.denominator - 1):
                    r = Fraction(round(r * 2 ** 64), 2 ** 64)
                recip.append(exact.cpp_literal(r, p + "_rec_t"))
            self.params.append("typedef %s %s_rec_t;\ntypedef %s %s_sum_t;" % (rt.cpp(), p, u.sum_type.cpp(), p))
            self.arr(p + "_rec_t", p + "_recip", recip, 4)
            self.width(2 * max(rt.W, u.sum_type.W) + 2)
            self.call("lce_hls::avgpool<%s, %s_sum_t, %s_rec_t, %s, %d, %d, %d>(%s, %s, %s_recip);" % (
                x.elem_cpp(), p, p, u.output.elem_cpp(), x.channels, u.output.pixels, u.taps, ins[0], out, p))
        elif isinstance(u, MaxPool):
            x = u.output
            self.call("lce_hls::maxpool<%s, %d, %d, %d>(%s, %s);" % (x.elem_cpp(), x.channels, x.pixels, u.taps,
                                                                      ins[0], out))
        elif isinstance(u, BMaxPool):
            self.call("lce_hls::bmaxpool<%d, %d, %d>(%s, %s);" % (u.output.channels, u.output.pixels, u.taps,
                                                                   ins[0], out))
        elif isinstance(u, Sign):
            x = u.inputs[0]
            self.call("lce_hls::sign<%s, %d, %d>(%s, %s);" % (x.elem_cpp(), x.channels, x.pixels, ins[0], out))
        elif isinstance(u, Dequantize):
            x = u.inputs[0]
            self.call("lce_hls::dequantize<%d, %d>(%s, %s);" % (x.channels, x.pixels, ins[0], out))
        elif isinstance(u, Flatten):
            x = u.inputs[0]
            self.width(u.output.channels)
            if x.kind == "bits":
                self.call("lce_hls::flatten<%d, %d>(%s, %s);" % (x.channels, x.pixels, ins[0], out))
            else:
                self.call("lce_hls::flatten<%s, %d, %d>(%s, %s);" % (x.elem_cpp(), x.channels, x.pixels, ins[0],
                                                                    out))
        else:  # pragma: no cover
            raise AssertionError(u)
        if u.output is not self.d.output and not isinstance(u, (Swu, Fork)):
            self.body.append("  LCE_TRACE_STREAM(%s, \"%s\");" % (out, u.name))

    def call(self, text):
        self.body.append("  " + text)

    def bmvau(self, u, inp, out):
        p = u.name
        cg, wpr = u.cg, -(-u.cg // 64)
        self.width(u.ci)
        rows = np.zeros((u.co, u.taps, wpr * 64), np.uint8)
        rows[:, :, :cg] = u.bits
        words = np.packbits(rows.reshape(-1, 8), axis=1, bitorder="little").reshape(-1, 8)
        w64 = words.view("<u8").reshape(-1)
        self.arr("uint64_t", p + "_w", ["0x%016xULL" % int(v) for v in w64], 4)
        aw = exact.uint_bits(u.K)
        acc = "ap_uint<%d>" % aw
        if u.act[0] == "thr":
            tw = exact.uint_bits(u.K + 1)
            u.thr_cpp = "ap_uint<%d>" % tw
            self.params.append("typedef ap_uint<%d> %s_thr_t;" % (tw, p))
            self.arr(p + "_thr_t", p + "_tau", ["%d" % t for t in u.act[1]], 16)
            self.params.append("typedef lce_hls::ThresholdGE<%d, %s, %s_thr_t, ap_uint<%d> > %s_act_t;"
                               % (u.co, acc, p, max(aw, tw), p))
            inst = "%s_act_t %s_act(%s_tau);" % (p, p, p)
        else:
            inst = self.affine(u, u.act[1], u.act[2], acc)
        self.call("{ static const %s" % inst)
        self.call("  lce_hls::bmvau<%d, %d, %d, %d, %d, %d, %d, %d, %s>(%s, %s, %s_w, %s_act); }" % (
            u.ci, u.co, u.taps, u.groups, u.simd, u.pe, wpr, u.pixels, acc, inp, out, p, p))

    def fmvau(self, u, inp, out):
        p = u.name
        xt = u.xtype
        w = list(u.weights)
        # Channels whose output stage decreases in the accumulator get negated weights (exact),
        # so every thresholded channel compares acc < T.
        flips = [u.act[0] == "fthr" and ch.M < 0 for ch in u.act[1]]
        n = u.taps * u.ci
        for o in range(u.co):
            if flips[o]:
                w[o * n:(o + 1) * n] = [-v for v in w[o * n:(o + 1) * n]]
        wt = u.wtype
        if wt.W > 64:
            raise ValueError("layer %s: weights need %d bits; set max_weight_frac_bits lower" % (u.source, wt.W))
        F = u.acc_type.F
        self.width(2 * u.acc_type.W + 2)
        self.params.append("typedef %s %s_w_t;\ntypedef %s %s_acc_t;" % (wt.cpp(), p, u.acc_type.cpp(), p))
        raws = [int(v * 2 ** wt.F) for v in w]
        self.arr("int64_t", p + "_w", ["%dLL" % r if r != -2 ** 63 else "(-0x7fffffffffffffffLL - 1)"
                                       for r in raws], 8)
        acc = p + "_acc_t"
        if u.act[0] == "fthr":
            at = u.acc_type
            rmin, rmax = int(at.min() * 2 ** F), int(at.max() * 2 ** F)
            ts = []
            for o, ch in enumerate(u.act[1]):
                c = ch.negated_input() if flips[o] else ch
                craw = c.copy()
                craw.M = c.M / Fraction(2) ** F
                kind, T = exact.sign_set(craw)
                if kind == "never":
                    T = rmin
                elif kind == "always":
                    T = rmax + 1
                assert kind != "above"
                ts.append(min(max(T, rmin), rmax + 1))
            tt = Fixed(at.W + 1, at.I + 1)
            self.width(tt.W)
            self.params.append("typedef %s %s_thr_t;" % (tt.cpp(), p))
            self.arr(p + "_thr_t", p + "_thr", [exact.cpp_literal(Fraction(t, 2 ** F), p + "_thr_t") for t in ts], 4)
            self.params.append("typedef lce_hls::ThresholdLT<%d, %s, %s_thr_t> %s_act_t;" % (u.co, acc, p, p))
            inst = "%s_act_t %s_act(%s_thr);" % (p, p, p)
        else:
            inst = self.affine(u, u.act[1], u.act[2], acc)
        self.call("{ static const %s" % inst)
        if u.depthwise:
            self.call("  lce_hls::fdwconv<%d, %d, %d, %d, %s, %s_w_t, %d, %s>(%s, %s, %s_w, %s_act); }" % (
                u.co, u.taps, u.pe, u.pixels, u.inputs[0].elem_cpp(), p, wt.W, acc, inp, out, p, p))
            return
        self.call("  lce_hls::fmvau<%d, %d, %d, %d, %d, %d, %s, %s_w_t, %d, %s>(%s, %s, %s_w, %s_act); }" % (
            u.ci, u.co, u.taps, u.simd, u.pe, u.pixels, u.inputs[0].elem_cpp(), p, wt.W, acc, inp, out, p, p))

    def sname(self, s):
        if s is self.d.input:
            return "in"
        if s is self.d.output:
            return "out"
        return s.name

    def streams(self):
        decl = []
        for u in self.d.units:
            for s in getattr(u, "outputs", [u.output]):
                if s is self.d.output:
                    continue
                t = s.pixel_cpp()
                if isinstance(u, Swu):
                    t = "lce_hls::tap<%s >" % t
                decl.append("  hls::stream<%s > %s(\"%s\");" % (t, s.name, s.name))
                if isinstance(u, Fork):
                    # a shortcut copy waits for the other branch: room for a whole frame
                    decl.append("#pragma HLS STREAM variable = %s depth = %d" % (s.name, s.pixels + 2))
        return decl


def emit(design, out_dir, part="xczu3eg-sbva484-1-e", clock_mhz=200.0):
    os.makedirs(os.path.join(out_dir, "firmware"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "tb"), exist_ok=True)
    shutil.copyfile(template_header(), os.path.join(out_dir, "firmware", "lce_hls.h"))
    e = _Emitter(design)
    for u in design.units:
        e.unit(u)
    if not design.units:
        raise ValueError("nothing to lower")
    inp, out = design.input, design.output
    e.width(max(inp.channels, out.channels))
    max_w = min(32768, 1 << (e.max_width - 1).bit_length())
    top_h = """// Generated by lce_convert.hls. Top function of the streaming BNN accelerator.
#ifndef LCE_TOP_H
#define LCE_TOP_H
#ifndef AP_INT_MAX_W
#define AP_INT_MAX_W %d
#endif
#include "lce_hls.h"

// Input: one pixel (%s) per transfer, raster order. Output: %s.
typedef %s lce_in_t;
typedef %s lce_out_t;
#define LCE_IN_PIXELS %d
#define LCE_IN_CHANNELS %d
#define LCE_OUT_PIXELS %d
#define LCE_OUT_CHANNELS %d

void lce_top(hls::stream<lce_in_t> &in, hls::stream<lce_out_t> &out);

#endif
""" % (max_w, inp.pixel_cpp(), out.pixel_cpp(), inp.pixel_cpp(), out.pixel_cpp(), inp.pixels, inp.channels,
       out.pixels, out.channels)
    params_h = "// Generated by lce_convert.hls: weights, thresholds and output stages.\n" \
               "#ifndef LCE_PARAMS_H\n#define LCE_PARAMS_H\n#include \"top.h\"\n\n" + \
               "\n".join(e.params) + "\n\n#endif\n"
    top_cpp = """// Generated by lce_convert.hls.
#include "top.h"
#include "params.h"

#if defined(LCE_TRACE) && !defined(__SYNTHESIS__)
#define LCE_TRACE_STREAM(s, name) lce_hls::trace(s, name)
#else
#define LCE_TRACE_STREAM(s, name)
#endif

void lce_top(hls::stream<lce_in_t> &in, hls::stream<lce_out_t> &out) {
#pragma HLS INTERFACE axis port = in
#pragma HLS INTERFACE axis port = out
#pragma HLS DATAFLOW
%s

%s
}
""" % ("\n".join(e.streams()), "\n".join(e.body))
    read_in = "lce_in_t px; if (!lce_hls::read_pixel(fin, px)) return 2; in.write(px);"
    tb = """// Generated by lce_convert.hls: C-simulation testbench.
// usage: csim <input.bin> <output.bin> [expected.bin] [trace_dir]
// input.bin: frames of LCE_IN_PIXELS*LCE_IN_CHANNELS float64 values (NHWC); output.bin:
// per frame and pixel the output (bits as 32-bit words, fixed point as float64). With
// expected.bin, returns 0 only if the output matches it byte for byte.
#include <cstdio>
#include <cstring>
#include <vector>
#include "top.h"

namespace lce_hls { const char *trace_dir = 0; }

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %%s input.bin output.bin [expected.bin] [trace_dir]\\n", argv[0]); return 2; }
  FILE *fin = fopen(argv[1], "rb");
  FILE *fout = fopen(argv[2], "wb");
  if (!fin || !fout) { fprintf(stderr, "cannot open input or output file\\n"); return 2; }
  if (argc > 4) lce_hls::trace_dir = argv[4];
  int frames = 0;
  for (;;) {
    int c = fgetc(fin);
    if (c == EOF) break;
    ungetc(c, fin);
    hls::stream<lce_in_t> in("in");
    hls::stream<lce_out_t> out("out");
    for (int p = 0; p < LCE_IN_PIXELS; ++p) { %s }
    lce_top(in, out);
    for (int p = 0; p < LCE_OUT_PIXELS; ++p) lce_hls::write_pixel(fout, out.read());
    if (!in.empty() || !out.empty()) { fprintf(stderr, "stream size mismatch in frame %%d\\n", frames); return 3; }
    ++frames;
  }
  fclose(fin);
  fclose(fout);
  fprintf(stderr, "%%d frames\\n", frames);
  if (argc > 3 && strcmp(argv[3], "-") != 0) {
    FILE *a = fopen(argv[2], "rb"), *b = fopen(argv[3], "rb");
    if (!a || !b) { fprintf(stderr, "cannot open expected output\\n"); return 2; }
    int ca, cb;
    long n = 0;
    do { ca = fgetc(a); cb = fgetc(b); ++n; } while (ca == cb && ca != EOF);
    if (ca != cb) { fprintf(stderr, "output differs from expected at byte %%ld\\n", n - 1); return 1; }
    fprintf(stderr, "output matches expected\\n");
  }
  return 0;
}
""" % read_in
    files = {
        "firmware/top.h": top_h, "firmware/params.h": params_h, "firmware/top.cpp": top_cpp,
        "tb/testbench.cpp": tb,
        "build_csim.sh": """#!/bin/sh
# C-simulation build with g++ and the Xilinx ap_types headers (e.g. from the hls4ml wheel:
# python -c "import hls4ml, os; print(os.path.join(os.path.dirname(hls4ml.__file__), 'templates/vivado/ap_types'))")
set -e
cd "$(dirname "$0")"
AP_TYPES=${AP_TYPES:?set AP_TYPES to the directory holding ap_int.h}
g++ -std=c++14 -O1 -Wno-unknown-pragmas ${LCE_TRACE:+-DLCE_TRACE} -isystem "$AP_TYPES" -Ifirmware \\
    firmware/top.cpp tb/testbench.cpp -o csim
""",
        "synth.tcl": """# Vitis HLS script generated by lce_convert.hls: C-simulation and synthesis of lce_top.
# Not run by lce_convert (this needs AMD Vitis HLS): vitis_hls -f synth.tcl
# (optionally put input.bin / expected.bin from lce_convert.hls.csim into tb/).
open_project -reset lce_hls_prj
set_top lce_top
add_files firmware/top.cpp -cflags "-std=c++14 -Ifirmware"
add_files -tb tb/testbench.cpp -cflags "-std=c++14 -Ifirmware"
open_solution -reset solution1 -flow_target vivado
set_part {%s}
create_clock -period %.3f -name default
if {[file exists tb/input.bin]} {
  csim_design -argv "[pwd]/tb/input.bin [pwd]/tb/output.bin [expr {[file exists tb/expected.bin] ? "[pwd]/tb/expected.bin" : "-"}]"
}
csynth_design
exit
""" % (part, 1000.0 / clock_mhz),
    }
    for rel, text in files.items():
        with open(os.path.join(out_dir, rel), "w") as f:
            f.write(text)
    os.chmod(os.path.join(out_dir, "build_csim.sh"), 0o755)
    meta = dict(
        input=dict(shape=list(inp.shape), type=design.input_type.cpp()),
        output=dict(shape=list(out.shape), kind=out.kind, type=out.elem_cpp() if out.kind == "fixed" else None),
        traces=[dict(name=u.name, source=u.source, kind=u.output.kind, shape=list(u.output.shape),
                     cpu_value=u.output.cpu_tensor[0] if u.output.cpu_tensor else None,
                     cpu_tensor=u.output.cpu_tensor[1] if u.output.cpu_tensor else None, type=u.output.elem_cpp() if u.output.kind == "fixed" else None)
                for u in design.units if u.output is not out and not isinstance(u, Swu)],
    )
    with open(os.path.join(out_dir, "design.json"), "w") as f:
        json.dump(meta, f, indent=1, default=str)
    return meta
