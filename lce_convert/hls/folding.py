"""Folding (PE/SIMD per matrix-vector unit) from a target, and the per-layer report with cycle
counts and analytic resource estimates.

Cycle model (per frame, loops at II=1, as the templates in lce_hls.h are written):
- matrix-vector unit: pixels * (CO/PE) * (TAPS*CG/SIMD);
- sliding-window unit: max(IH*IW reads, OH*OW*KH*KW tap writes);
- max-pool and average pool: OH*OW*taps; sign/dequantize/add/fork: pixels; flatten: input
  pixels.
The dataflow pipeline's initiation interval is the slowest unit's cycles; latency is at most
their sum.

Resource estimates are ESTIMATES from documented analytic models, not synthesis results:
- LUTs of a binary matrix-vector unit: the FINN-R model (Umuroglu et al.; FINN's
  MatrixVectorActivation lut_estimation) with 1-bit weights and inputs:
  300 + 1.1*PE*(2*SIMD + 2*(2*SIMD - 1) + 2*ACC_W + ACC_W*ceil(TMEM/64)) + LUTRAM weights
  (PE*SIMD*ceil(WMEM/64) when WMEM <= 128);
- block RAM (18 Kb) for weights: PE*SIMD*ceil(WMEM/16384) for 1-bit weights deeper than 128
  (FINN-R table); for fixed-point weights of width w: PE*SIMD*ceil(w/18)*ceil(WMEM/1024);
- line buffers: ceil(bits/18432) BRAM18 when over 1024 bits, else LUTs (bits/64);
- DSP: 0 for binary units; fixed-point units one DSP48 per multiplier of at most 18x27 bits,
  ceil(wx/18)*ceil(ww/27) otherwise (average pools: one 1/count multiplier per channel);
- adders of the shortcut additions: one LUT per bit; a fork's bypass FIFO holds one frame.
"""
import math

from ..errors import LceConvertError
from .lowering import Add, AvgPool, BMaxPool, BMvau, Dequantize, FMvau, Flatten, Fork, Mvau, Sign, Swu


def _default_fold(u):
    """PE = 1; SIMD = the largest allowed divisor of the channels per group that is at most 32."""
    opts = u.fold_options()
    pe = min(p for p, _ in opts)
    simd = max([s for p, s in opts if p == pe and s <= 32] or [min(s for p, s in opts if p == pe)])
    return pe, simd


def _cost(u, pe, simd):
    """One area figure to compare foldings of a unit: LUT + 100 per BRAM18 + 200 per DSP (a
    rough LUT-equivalent weighting, documented in the README)."""
    e = estimate(u, pe, simd)
    return e["lut"] + 100 * e["bram18"] + 200 * e["dsp"]


def fold(design, target_cycles=None, lut_budget=None):
    """Choose PE/SIMD for every matrix-vector unit.
    - target_cycles: per unit, the cheapest folding (fewest LUTs) with cycles <= target (the
      fastest one, and a note, if none meets it);
    - lut_budget: start from the cheapest folding and repeatedly speed up the slowest unit while
      the estimated total stays within budget;
    - neither: PE = 1 and SIMD up to 32 (per-layer `pe`/`simd` options override)."""
    if target_cycles is not None and lut_budget is not None:
        raise LceConvertError("give either target_cycles or lut_budget, not both")
    mv = design.mvaus()
    for u in mv:
        opts = u.fold_options()
        if not opts:
            raise LceConvertError("layer %s: no valid PE/SIMD folding" % u.source)
        if target_cycles is not None:
            ok = [o for o in opts if u.cycles(*o) <= target_cycles]
            if ok:
                u.pe, u.simd = min(ok, key=lambda o: (_cost(u, *o), -o[1]))
            else:
                u.pe, u.simd = min(opts, key=lambda o: (u.cycles(*o), _cost(u, *o)))
                u.notes.append("target of %d cycles not met (fastest folding: %d)" % (target_cycles, u.cycles()))
        elif lut_budget is not None:
            u.pe, u.simd = min(opts, key=lambda o: (_cost(u, *o), u.cycles(*o)))
        else:
            u.pe, u.simd = _default_fold(u)
    if lut_budget is not None:
        def total():
            return sum(estimate(u)["lut"] for u in design.units)
        if total() > lut_budget:
            raise LceConvertError("LUT budget %d is below the smallest design's estimate (%d LUTs)"
                                  % (lut_budget, total()))
        while True:
            slow = max(mv, key=lambda u: u.cycles()) if mv else None
            if slow is None:
                break
            faster = [o for o in slow.fold_options() if slow.cycles(*o) < slow.cycles()]
            if not faster:
                break
            old = (slow.pe, slow.simd)
            slow.pe, slow.simd = min(faster, key=lambda o: (_cost(slow, *o), -slow.cycles(*o)))
            if total() > lut_budget:
                slow.pe, slow.simd = old
                break
    return design


def cycles(u):
    if isinstance(u, Mvau):
        return u.cycles()
    if isinstance(u, Swu):
        g = u.geom
        return max(g["IH"] * g["IW"], g["OH"] * g["OW"] * g["KH"] * g["KW"])
    if isinstance(u, (BMaxPool, AvgPool)):
        return u.output.pixels * u.taps
    if isinstance(u, Flatten):
        return u.inputs[0].pixels
    return u.inputs[0].pixels


def _bram18_1bit(width, depth):
    return width * math.ceil(depth / 16384) if depth > 128 else 0


def estimate(u, pe=None, simd=None):
    """Analytic estimates for one unit: {'lut', 'bram18', 'dsp', 'weight_bits'}."""
    if isinstance(u, Mvau):
        pe, simd = pe or u.pe, simd or u.simd
        wmem = u.co * u.taps * u.cg // (pe * simd)
        tmem = u.co // pe
        if isinstance(u, BMvau):
            acc_w = max(1, (u.K + 1).bit_length())
            lut = 300 + 1.1 * pe * (2 * simd + 2 * (2 * simd - 1) + 2 * acc_w + acc_w * math.ceil(tmem / 64))
            if wmem <= 128:
                lut += pe * simd * math.ceil(wmem / 64)
            return dict(lut=int(round(lut)), bram18=_bram18_1bit(pe * simd, wmem), dsp=0,
                        weight_bits=u.co * u.taps * u.cg)
        ww, wx = u.wtype.W, u.xtype.W
        mults = pe * simd
        dsp = mults * (1 if (wx <= 18 and ww <= 27) else math.ceil(wx / 18) * math.ceil(ww / 27)) if wx > 2 else 0
        lut = 300 + 1.1 * pe * (simd * (ww if wx <= 2 else 0) + 2 * u.acc_w)
        bram = mults * math.ceil(ww / 18) * math.ceil(wmem / 1024) if wmem > 128 else 0
        if wmem <= 128:
            lut += mults * ww * math.ceil(wmem / 64)
        return dict(lut=int(round(lut)), bram18=bram, dsp=dsp, weight_bits=u.co * u.taps * u.cg * ww)
    if isinstance(u, Swu):
        g = u.geom
        bits = ((g["KH"] - 1) * g["DH"] + 1) * g["IW"] * u.inputs[0].channels * _elem_bits(u.inputs[0])
        if bits > 1024:
            return dict(lut=150, bram18=math.ceil(bits / 18432), dsp=0, weight_bits=0)
        return dict(lut=150 + math.ceil(bits / 64), bram18=0, dsp=0, weight_bits=0)
    if isinstance(u, BMaxPool):
        return dict(lut=50 + u.output.channels, bram18=0, dsp=0, weight_bits=0)
    if isinstance(u, AvgPool):  # C adders of the sum width, C multipliers by 1/count (66 bits)
        w = u.sum_type.W
        return dict(lut=50 + u.output.channels * w, bram18=0,
                    dsp=u.output.channels * math.ceil(w / 18) * math.ceil(66 / 27), weight_bits=0)
    if isinstance(u, Add):
        return dict(lut=20 + u.output.channels * u.output.elem.W, bram18=0, dsp=0, weight_bits=0)
    if isinstance(u, Fork):  # the bypass FIFO holds a frame
        bits = u.inputs[0].pixels * u.inputs[0].channels * _elem_bits(u.inputs[0])
        return dict(lut=20, bram18=math.ceil(bits / 18432) if bits > 1024 else 0, dsp=0, weight_bits=0)
    if isinstance(u, (Sign, Dequantize, Flatten)):
        return dict(lut=20 + u.output.channels, bram18=0, dsp=0, weight_bits=0)
    return dict(lut=0, bram18=0, dsp=0, weight_bits=0)


def _elem_bits(s):
    return 1 if s.kind == "bits" else s.fixed_type().W


def report(design, clock_mhz=200.0):
    """Per-unit rows and totals (cycles exact for the templates' loop structure; resources are
    analytic estimates)."""
    rows = []
    for u in design.units:
        est = estimate(u)
        # every loop is pipelined at II = 1, so a unit accepts a new frame every `cycles`
        row = dict(name=u.name, kind=u.kind, source=u.source, cycles=cycles(u), ii_cycles=cycles(u), loop_ii=1,
                   lut_estimate=est["lut"], bram18_estimate=est["bram18"], dsp_estimate=est["dsp"],
                   notes=list(u.notes))
        if isinstance(u, Mvau):
            row.update(pe=u.pe, simd=u.simd, channels_in=u.ci, channels_out=u.co, taps=u.taps, groups=u.groups,
                       pixels=u.pixels, weight_bits=est["weight_bits"])
            if isinstance(u, BMvau):
                row.update(K=u.K, output=u.act[0], threshold_type=getattr(u, "thr_cpp", None))
        rows.append(row)
    ii = max((r["cycles"] for r in rows), default=0)
    totals = dict(initiation_interval_cycles=ii, latency_cycles_upper_bound=sum(r["cycles"] for r in rows),
                  clock_mhz=clock_mhz, frames_per_second=(clock_mhz * 1e6 / ii) if ii else None,
                  lut_estimate=sum(r["lut_estimate"] for r in rows),
                  bram18_estimate=sum(r["bram18_estimate"] for r in rows),
                  dsp_estimate=sum(r["dsp_estimate"] for r in rows),
                  note="resource figures are analytic estimates (FINN-R style models), not synthesis results")
    return dict(layers=rows, totals=totals)


def format_report(rep):
    lines = ["%-14s %-10s %5s %5s %10s %8s %6s %4s  %s" % ("unit", "kind", "PE", "SIMD", "cycles", "LUT~",
                                                             "BRAM~", "DSP~", "source / notes")]
    for r in rep["layers"]:
        lines.append("%-14s %-10s %5s %5s %10d %8d %6d %4d  %s%s" % (
            r["name"], r["kind"], r.get("pe", "-"), r.get("simd", "-"), r["cycles"], r["lut_estimate"],
            r["bram18_estimate"], r["dsp_estimate"], r["source"], ("; " + "; ".join(r["notes"])) if r["notes"] else ""))
    t = rep["totals"]
    lines.append("II %d cycles/frame, latency <= %d cycles, %.0f frames/s at %.0f MHz; estimates: %d LUT, %d BRAM18, "
                 "%d DSP (%s)" % (t["initiation_interval_cycles"], t["latency_cycles_upper_bound"],
                                 t["frames_per_second"] or 0, t["clock_mhz"], t["lut_estimate"],
                                 t["bram18_estimate"], t["dsp_estimate"], t["note"]))
    return "\n".join(lines)
