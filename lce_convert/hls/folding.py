"""Folding (PE/SIMD per matrix-vector unit) from a target, the per-layer report, and the check
of the estimate against the chosen part's resources.

The cycle and resource models belong to the unit classes (units.py documents them): cycles are
the templates' loop trip counts at II = 1 with the window reads, plus an assumed pipeline fill
per loop entry; LUT/BRAM/DSP figures are analytic estimates, not synthesis results. The
dataflow pipeline's initiation interval is the slowest unit's cycles; latency is at most their
sum.
"""
import math
import warnings

from ..errors import LceConvertError

# Resources of the devices (AMD product tables): LUTs, 18 Kb block RAMs, DSP slices.
PARTS = {
    "xczu3eg": dict(lut=70560, bram18=432, dsp=360),
    "xczu7ev": dict(lut=230400, bram18=624, dsp=1728),
    "xczu9eg": dict(lut=274080, bram18=1824, dsp=2520),
    "xc7z020": dict(lut=53200, bram18=280, dsp=220),
}
DEFAULT_PART = "xczu3eg-sbva484-1-e"


class HlsFitWarning(UserWarning):
    """The design's estimate does not fit the chosen part."""


def part_resources(part):
    """The LUT/BRAM18/DSP capacity of a part name such as 'xczu3eg-sbva484-1-e' (None if the
    device is not in PARTS)."""
    dev = str(part or "").lower().split("-")[0]
    return PARTS.get(dev)


def _default_fold(u):
    """PE = 1; SIMD = the largest allowed divisor of the channels per group that is at most 32."""
    opts = u.fold_options()
    pe = min(p for p, _ in opts)
    simd = max([s for p, s in opts if p == pe and s <= 32] or [min(s for p, s in opts if p == pe)])
    return pe, simd


def _cost(u, pe, simd):
    """One area figure to compare foldings of a unit: LUT + 100 per BRAM18 + 200 per DSP (a
    rough LUT-equivalent weighting)."""
    e = u.estimate(pe, simd)
    return e["lut"] + 100 * e["bram18"] + 200 * e["dsp"]


def totals(design):
    est = [u.estimate() for u in design.units]
    return dict(lut=sum(e["lut"] for e in est), bram18=sum(e["bram18"] for e in est),
                dsp=sum(e["dsp"] for e in est))


def _over(t, cap):
    """The resources over capacity, as 'DSP 2046 > 360' strings."""
    return ["%s %d > %d" % (k.upper(), t[k], cap[k]) for k in ("lut", "bram18", "dsp") if t[k] > cap[k]]


def fold(design, target_cycles=None, lut_budget=None, part=DEFAULT_PART):
    """Choose PE/SIMD for every matrix-vector unit.
    - target_cycles: per unit, the cheapest folding with cycles <= target (the fastest one, and
      a note, if none meets it);
    - lut_budget: start from the cheapest folding and repeatedly speed up the slowest unit while
      the estimated LUTs stay within budget and LUT/BRAM/DSP within the part;
    - neither: PE = 1 and SIMD up to 32 (per-layer `pe`/`simd` options override).
    A design whose estimate exceeds the part gets an HlsFitWarning (and a note in the report)."""
    if target_cycles is not None and lut_budget is not None:
        raise LceConvertError("give either target_cycles or lut_budget, not both")
    cap = part_resources(part)
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
        limit = dict(cap or dict(lut=lut_budget, bram18=math.inf, dsp=math.inf))
        limit["lut"] = min(limit["lut"], lut_budget)

        def fits():
            t = totals(design)
            return all(t[k] <= limit[k] for k in limit)
        t = totals(design)
        if t["lut"] > lut_budget:
            raise LceConvertError("LUT budget %d is below the smallest design's estimate (%d LUTs)"
                                  % (lut_budget, t["lut"]))
        if fits():
            while mv:
                slow = max(mv, key=lambda u: u.cycles())
                faster = [o for o in slow.fold_options() if slow.cycles(*o) < slow.cycles()]
                if not faster:
                    break
                old = (slow.pe, slow.simd)
                slow.pe, slow.simd = min(faster, key=lambda o: (_cost(slow, *o), -slow.cycles(*o)))
                if not fits():
                    slow.pe, slow.simd = old
                    break
    design.fit_notes = []
    if cap is None:
        design.fit_notes.append("no resource table for part %s: the estimate is not checked against it" % part)
    else:
        over = _over(totals(design), cap)
        if over:
            msg = "the estimate does not fit %s (%s)%s" % (
                part, ", ".join(over), "" if lut_budget is not None else
                ": pass lut_budget (or target_cycles) to fold it smaller, or choose a larger part")
            if lut_budget is not None:
                msg += " even at the cheapest folding"
            design.fit_notes.append(msg)
            warnings.warn(msg, HlsFitWarning, stacklevel=3)
    return design


def report(design, clock_mhz=200.0, part=DEFAULT_PART):
    """Per-unit rows and totals (cycles of the templates' loops with an assumed pipeline fill;
    resources are analytic estimates), checked against the part."""
    rows = []
    for u in design.units:
        est = u.estimate()
        row = dict(name=u.name, kind=u.kind, source=u.source, cycles=u.cycles(), loop_ii=1,
                   lut_estimate=est["lut"], bram18_estimate=est["bram18"], dsp_estimate=est["dsp"],
                   notes=list(u.notes))
        row.update(u.report_fields())
        rows.append(row)
    ii = max((r["cycles"] for r in rows), default=0)
    t = dict(lut=sum(r["lut_estimate"] for r in rows), bram18=sum(r["bram18_estimate"] for r in rows),
             dsp=sum(r["dsp_estimate"] for r in rows))
    cap = part_resources(part)
    totals_ = dict(initiation_interval_cycles=ii, latency_cycles_upper_bound=sum(r["cycles"] for r in rows),
                   clock_mhz=clock_mhz, frames_per_second=(clock_mhz * 1e6 / ii) if ii else None,
                   lut_estimate=t["lut"], bram18_estimate=t["bram18"], dsp_estimate=t["dsp"], part=part,
                   part_resources=cap, fits=(not _over(t, cap)) if cap else None,
                   fit_notes=list(getattr(design, "fit_notes", [])),
                   cycle_note="cycles: loop trip counts at II=1 including window reads, plus an assumed pipeline "
                              "fill per loop entry (not synthesis figures)",
                   note="resource figures are analytic estimates (FINN-R style models), not synthesis results")
    if cap:
        totals_["utilization"] = {k: t[k] / cap[k] for k in cap}
    return dict(layers=rows, totals=totals_)


def format_report(rep):
    lines = ["%-14s %-10s %5s %5s %10s %8s %6s %4s  %s" % ("unit", "kind", "PE", "SIMD", "cycles", "LUT~",
                                                             "BRAM~", "DSP~", "source / notes")]
    for r in rep["layers"]:
        lines.append("%-14s %-10s %5s %5s %10d %8d %6d %4d  %s%s" % (
            r["name"], r["kind"], r.get("pe", "-"), r.get("simd", "-"), r["cycles"], r["lut_estimate"],
            r["bram18_estimate"], r["dsp_estimate"], r["source"], ("; " + "; ".join(r["notes"])) if r["notes"] else ""))
    t = rep["totals"]
    lines.append("II %d cycles/frame, latency <= %d cycles, %.0f frames/s at %.0f MHz (%s)"
                 % (t["initiation_interval_cycles"], t["latency_cycles_upper_bound"], t["frames_per_second"] or 0,
                    t["clock_mhz"], t["cycle_note"]))
    cap = t.get("part_resources")
    if cap:
        lines.append("estimates: %d LUT, %d BRAM18, %d DSP of %s's %d / %d / %d (%s): %s" % (
            t["lut_estimate"], t["bram18_estimate"], t["dsp_estimate"], t["part"], cap["lut"], cap["bram18"],
            cap["dsp"], t["note"], "fits" if t["fits"] else "DOES NOT FIT"))
    else:
        lines.append("estimates: %d LUT, %d BRAM18, %d DSP (%s)" % (t["lut_estimate"], t["bram18_estimate"],
                                                                    t["dsp_estimate"], t["note"]))
    for n in t.get("fit_notes", []):
        lines.append("warning: " + n)
    return "\n".join(lines)
