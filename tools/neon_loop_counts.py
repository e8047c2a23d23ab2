"""Instructions per 1,024 binary MACs of the NEON Bconv2d inner loops, counted from the
disassembly of the cross-built kernel objects (tools/build_aarch64.sh builds them).

A loop is a backward branch whose body holds the microkernel's 32 CNT (one 128-bit step of 4
pixels x 8 channels = 4,096 binary MACs); the innermost such loop of each object is the
full-step loop, the next one the tail-step loop (bconv2d_indirect_neon_impl.h). The
register-resident minimum of the scheme is 24 vector instructions per 1,024 MACs (8 EOR + 8 CNT +
8 reduction instructions per pixel and step), without loads or loop control.

With --mca, also the cycles per step that LLVM's scheduling models give for each loop
(llvm-mca from Debian's llvm-22: the Cortex-A72 model, and the Neoverse N1 model for the
Cortex-A76, the N1's client sibling), and the binary MAC rate per core that follows at the clock
of a Raspberry Pi 4 (A72, 1.5 GHz; 1.8 GHz on later boards) and Pi 5 (A76, 2.4 GHz). These are
estimates of the inner loop alone (no epilogue, caches assumed warm), not measurements.

    python tools/neon_loop_counts.py [--mca] [build/aarch64]
"""
import collections
import os
import re
import shutil
import subprocess
import sys

MACS_PER_STEP = 4 * 8 * 128
OBJECTS = {"neon": "bconv2d_indirect_neon.cc.o", "neon_dotprod": "bconv2d_indirect_neon_dotprod.cc.o"}
VECTOR_ALU = ("eor", "cnt", "addp", "uadalp", "udot")


def instructions(obj, objdump):
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", obj], check=True, capture_output=True,
                         text=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s+([0-9a-f]+):\s+(\S+)\s*([^<]*)", line)
        if m:
            rows.append((int(m.group(1), 16), m.group(2), m.group(3).strip()))
    return rows


def step_loops(rows):
    """(start, end, Counter of mnemonics) of the innermost loops with 32 CNT, in code order."""
    loops = []
    for addr, mnemonic, operands in rows:
        if not re.fullmatch(r"b(\.\w+)?|cbn?z|tbn?z", mnemonic):
            continue
        m = re.search(r"([0-9a-f]+)\s*$", operands)
        if not m or int(m.group(1), 16) >= addr:
            continue
        start = int(m.group(1), 16)
        body = collections.Counter(mn for a, mn, _ in rows if start <= a <= addr)
        if body["cnt"] == 32:
            loops.append((start, addr, body))
    # innermost: no other such loop inside; in code order (the full-step loop comes first)
    inner = [l for l in loops if not any(o is not l and l[0] <= o[0] and o[1] <= l[1] for o in loops)]
    return sorted(inner, key=lambda l: l[0])


# (label, llvm-mca CPU, clock, has dotprod)
MCA_CPUS = (("Cortex-A72 (Pi 4)", "cortex-a72", 1.5e9, False), ("Cortex-A76 (Pi 5)", "neoverse-n1", 2.4e9, True))


def llvm_mca():
    for candidate in ("llvm-mca", "llvm-mca-22", "/usr/lib/llvm-22/bin/llvm-mca"):
        if shutil.which(candidate):
            return shutil.which(candidate)
    sys.exit("llvm-mca not found: install llvm-22-tools (make setup does)")


def mca_cycles(body, cpu):
    """Cycles per iteration of a loop body [(mnemonic, operands)] under llvm-mca's model of `cpu`."""
    lines = [".Lloop:"]
    for mnemonic, operands in body:
        lines.append("  %s %s" % (mnemonic, ".Lloop" if re.fullmatch(r"b(\.\w+)?", mnemonic) else operands))
    iterations = 1000
    out = subprocess.run([llvm_mca(), "-mtriple=aarch64", "-mcpu=" + cpu, "-iterations=%d" % iterations],
                         input="\n".join(lines) + "\n", check=True, capture_output=True, text=True).stdout
    return int(re.search(r"Total Cycles:\s+(\d+)", out).group(1)) / iterations


def report(build_dir, mca=False):
    objdump = shutil.which("aarch64-linux-gnu-objdump")
    if objdump is None:
        sys.exit("aarch64-linux-gnu-objdump not found: install binutils-aarch64-linux-gnu (make setup does)")
    results = {}
    for path, name in OBJECTS.items():
        obj = os.path.join(build_dir, "CMakeFiles", "LceKernels.dir", "src", name)
        if not os.path.exists(obj):
            sys.exit("%s is missing: run tools/build_aarch64.sh first" % obj)
        rows = instructions(obj, objdump)
        loops = step_loops(rows)
        if len(loops) < 2:
            sys.exit("%s: expected a full-step and a tail-step loop, found %d" % (obj, len(loops)))
        results[path] = {}
        for kind, (start, end, body) in zip(("full", "tail"), loops[:2]):
            total = sum(body.values())
            cycles = {}
            if mca:
                code = [(mn, op) for a, mn, op in rows if start <= a <= end]
                cycles = {label: mca_cycles(code, cpu) for label, cpu, _, dotprod in MCA_CPUS
                          if dotprod or path != "neon_dotprod"}
            alu = sum(body[m] for m in VECTOR_ALU)
            loads = sum(body[m] for m in body if m.startswith("ld"))
            results[path][kind] = dict(total=total * 1024 / MACS_PER_STEP, alu=alu * 1024 / MACS_PER_STEP,
                                       loads=loads * 1024 / MACS_PER_STEP,
                                       mix=", ".join("%d %s" % (body[m], m) for m in VECTOR_ALU if body[m]),
                                       cycles=cycles)
    return results


def main():
    args = [a for a in sys.argv[1:] if a != "--mca"]
    mca = "--mca" in sys.argv[1:]
    build_dir = args[0] if args else os.path.join("build", "aarch64")
    results = report(build_dir, mca)
    print("instructions per 1,024 binary MACs (4 pixels x 8 channels x 128 bits per step; minimum of the "
          "scheme: 24 vector instructions)")
    print("%-13s %-5s %7s %7s %7s  %s" % ("path", "loop", "total", "vector", "loads", "vector mix per step"))
    for path, loops in results.items():
        for kind, r in loops.items():
            print("%-13s %-5s %7.2f %7.2f %7.2f  %s" % (path, kind, r["total"], r["alu"], r["loads"], r["mix"]))
    if mca:
        print("\nllvm-mca: cycles per step (4,096 binary MACs) and the inner loop's rate per core")
        for path, loops in results.items():
            for kind, r in loops.items():
                for label, _, clock, _ in MCA_CPUS:
                    if label not in r["cycles"]:
                        continue  # a CPU without the path's instructions
                    c = r["cycles"][label]
                    print("%-13s %-5s %-18s %6.1f cycles  %5.1f MAC/cycle  %.3g MAC/s at %.1f GHz"
                          % (path, kind, label, c, MACS_PER_STEP / c, MACS_PER_STEP / c * clock, clock / 1e9))


if __name__ == "__main__":
    main()
