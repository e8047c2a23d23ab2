"""Instructions per 1,024 binary MACs of the NEON Bconv2d inner loops, counted from the
disassembly of the cross-built kernel objects (tools/build_aarch64.sh builds them).

A loop is a backward branch whose body holds the microkernel's 32 CNT (one 128-bit step of 4
pixels x 8 channels = 4,096 binary MACs); the innermost such loop of each object is the
full-step loop, the next one the tail-step loop (bconv2d_indirect_neon_impl.h). The
register-resident minimum of the scheme is 24 vector instructions per 1,024 MACs (8 EOR + 8 CNT +
8 reduction instructions per pixel and step), without loads or loop control.

    python tools/neon_loop_counts.py [build/aarch64]
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


def report(build_dir):
    objdump = shutil.which("aarch64-linux-gnu-objdump")
    if objdump is None:
        sys.exit("aarch64-linux-gnu-objdump not found: install binutils-aarch64-linux-gnu (make setup does)")
    results = {}
    for path, name in OBJECTS.items():
        obj = os.path.join(build_dir, "CMakeFiles", "LceKernels.dir", "src", name)
        if not os.path.exists(obj):
            sys.exit("%s is missing: run tools/build_aarch64.sh first" % obj)
        loops = step_loops(instructions(obj, objdump))
        if len(loops) < 2:
            sys.exit("%s: expected a full-step and a tail-step loop, found %d" % (obj, len(loops)))
        results[path] = {}
        for kind, (_, _, body) in zip(("full", "tail"), loops[:2]):
            total = sum(body.values())
            alu = sum(body[m] for m in VECTOR_ALU)
            loads = sum(body[m] for m in body if m.startswith("ld"))
            results[path][kind] = dict(total=total * 1024 / MACS_PER_STEP, alu=alu * 1024 / MACS_PER_STEP,
                                       loads=loads * 1024 / MACS_PER_STEP,
                                       mix=", ".join("%d %s" % (body[m], m) for m in VECTOR_ALU if body[m]))
    return results


def main():
    build_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build", "aarch64")
    results = report(build_dir)
    print("instructions per 1,024 binary MACs (4 pixels x 8 channels x 128 bits per step; minimum of the "
          "scheme: 24 vector instructions)")
    print("%-13s %-5s %7s %7s %7s  %s" % ("path", "loop", "total", "vector", "loads", "vector mix per step"))
    for path, loops in results.items():
        for kind, r in loops.items():
            print("%-13s %-5s %7.2f %7.2f %7.2f  %s" % (path, kind, r["total"], r["alu"], r["loads"], r["mix"]))


if __name__ == "__main__":
    main()
