#!/usr/bin/python3
"""Static throughput ESTIMATE of the aarch64 kernels' inner loops with llvm-mca.

Compiles engine/optimized/matmul_neon.cc and attention.cc to assembly with the
flags of the aarch64 CMake preset, finds each kernel's innermost loop in the
assembly, runs llvm-mca on the loop body for each CPU model, and prints a
Markdown table: cycles per iteration, cycles per multiply-add (MAC) and the
fraction of the model's own MAC peak for that instruction class.

No source file is changed. A loop is found by its labels: every conditional
branch back to an earlier label of the same function closes a loop; the
innermost loops are the ones holding no other loop. Each kernel below names its
function and the instruction counts its loop must have (from the kernel's
template parameters); the script stops with an error if no loop, or more than
one, matches, so a code change that moves a loop cannot go unnoticed.

Usage (from the repository root):
  /usr/bin/python3 bench/arm-estimate/mca_loops.py                 # table
  /usr/bin/python3 bench/arm-estimate/mca_loops.py --json out.json # and figures for estimate.py
  /usr/bin/python3 bench/arm-estimate/mca_loops.py --show gemm_f32  # print one loop body
  /usr/bin/python3 bench/arm-estimate/mca_loops.py --matmul-src /tmp/old_matmul_neon.cc  # another version
Everything runs under nice -n 19, one process at a time.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CXX = "/usr/bin/aarch64-linux-gnu-g++"
MCA = "/usr/bin/llvm-mca"

# The aarch64 preset's flags (Release: -O3 -DNDEBUG), used when build/aarch64
# has no compile_commands.json.
BASE_FLAGS = ["-DFMT_HEADER_ONLY=1", "-DNEEDLE_HAVE_NEON_KERNELS", "-I" + os.path.join(ROOT, "engine"),
              "-I" + os.path.join(ROOT, "engine", "include"), "-O3", "-DNDEBUG", "-std=c++17"]
FILE_FLAGS = {"matmul_neon.cc": ["-march=armv8.2-a+dotprod"], "attention.cc": []}

# CPU models of LLVM 14 that stand for phone cores (see README.md).
DEFAULT_CPUS = ["cortex-a55", "cortex-a76", "exynos-m5"]

# MACs per instruction, by the instruction's opcode and arrangement.
def macs_of(insn):
    op = insn.split()[0]
    if op == "fmla":
        return 4 if ".4s" in insn else (2 if ".2s" in insn else 1)
    if op == "sdot":
        return 16 if ".4s" in insn else 8
    if op in ("smull", "smull2"):
        return 8 if ".8h" in insn else 0
    return 0


# name, file, mangled-function substring, what the loop must hold ({op: count}
# exact, or {op: (min, max)}), the opcodes counted as MACs, and a description.
KERNELS = [
    ("gemm_f32", "matmul_neon.cc", "MicroKernelILi6EE", {"fmla": 24}, ("fmla",),
     "fp32 GEMM 6x16 micro-kernel, one k (prefill at fp32)"),
    ("gemv_f32", "matmul_neon.cc", "GemvPanel", {"fmla": 8, "shll": 0, "ushll": 0, "scvtf": 0}, ("fmla",),
     "fp32 GEMV, 32 columns, one k (decode at fp32)"),
    ("gemm_w8a8_sdot", "matmul_neon.cc", "W8A8HalfPanelILb1ELb0E", {"sdot": 96}, ("sdot",),
     "w8a8 SDOT 3x16, one group of 32 k (prefill)"),
    ("gemv_w8a8_sdot", "matmul_neon.cc", "W8A8HalfPanelILb1ELb0E", {"sdot": 32}, ("sdot",),
     "w8a8 SDOT 1x16, one group of 32 k (decode)"),
    ("gemm_w4a8_sdot", "matmul_neon.cc", "W8A8HalfPanelILb1ELb1E", {"sdot": 96}, ("sdot",),
     "w4a8 SDOT 3x16, one group of 32 k (prefill)"),
    ("gemv_w4a8_sdot", "matmul_neon.cc", "W8A8HalfPanelILb1ELb1E", {"sdot": 32}, ("sdot",),
     "w4a8 SDOT 1x16, one group of 32 k (decode)"),
    ("gemm_w8a8_smull", "matmul_neon.cc", "W8A8HalfPanelILb0ELb0E", {"smull": [16, 128]}, ("smull", "smull2"),
     "w8a8 SMULL+SADALP 2x16 (no dotprod, prefill)"),
    ("gemv_w8a8_smull", "matmul_neon.cc", "W8A8HalfPanelILb0ELb0E", {"smull": [8, 64]},
     ("smull", "smull2"), "w8a8 SMULL+SADALP 1x16 (no dotprod, decode)"),
    ("gemm_w4a8_smull", "matmul_neon.cc", "W8A8HalfPanelILb0ELb1E", {"smull": [16, 128]}, ("smull", "smull2"),
     "w4a8 SMULL+SADALP 2x16 (no dotprod, prefill)"),
    ("gemv_w4a8_smull", "matmul_neon.cc", "W8A8HalfPanelILb0ELb1E", {"smull": [8, 64]},
     ("smull", "smull2"), "w4a8 SMULL+SADALP 1x16 (no dotprod, decode)"),
    # attention.cc as aarch64 runs it: W = 4, one q register per vector (ChooseKernel).
    # Prefill: AttendRows, 6 rows per pass, fp32 K/V at every precision (Int8PrefillAttentionPays);
    # decode: AttendFew, the 2 rows of one KV head, int8 cross K/V at w8a8/w4a8.
    ("attn_prefill_scores", "attention.cc", "TaskGeneric4IfE", {"fmla": 12, "prfm": 0, "ldr_s": 6}, ("fmla",),
     "fp32 K: AttendRows scores, 6 rows x 8 keys, one dim (encoder prefill, fp32/bf16)"),
    ("attn_prefill_values", "attention.cc", "TaskGeneric4IfE", {"fmla": 12, "prfm": 1}, ("fmla",),
     "fp32 V: AttendRows values, 6 rows x 8 dims, one key (encoder prefill, fp32/bf16)"),
    ("attn_decode_scores_i8", "attention.cc", "ScoreKeysNeonDotILi2E", {"sdot": 64}, ("sdot",),
     "int8 K, SDOT: AttendFew<2 rows> scores, 32 keys x 16 dims (cross-attention decode, w8a8/w4a8)"),
    ("attn_decode_scores_i8_nodot", "attention.cc", "TaskGeneric4IaE", {"fmla": 16, "eor": 2, "scvtf": 8},
     ("fmla",), "int8 K without SDOT: the same, 8 keys x 4 dims widened to fp32"),
    ("attn_decode_values_i8", "attention.cc", "TaskGeneric4IaE", {"fmla": 8, "prfm": 1, "scvtf": 4}, ("fmla",),
     "int8 V: AttendFew<2 rows> values, 16 dims, one key (cross-attention decode, w8a8/w4a8)"),
    ("attn_decode_scores_f32", "attention.cc", "TaskGeneric4IfE", {"fmla": 8, "prfm": 0, "ldr_s": 4}, ("fmla",),
     "fp32 K: AttendFew<2 rows> scores, 16 keys, one dim (cross-attention decode, fp32)"),
    ("attn_decode_values_f32", "attention.cc", "TaskGeneric4IfE", {"fmla": 8, "prfm": 1, "ldp": 2}, ("fmla",),
     "fp32 V: AttendFew<2 rows> values, 16 dims, one key (cross-attention decode, fp32)"),
]

# The model's own peak per MAC class: a block of independent MAC instructions
# (no loads), whose resource bound the same CPU model gives.
PEAK_LOOPS = {
    "fmla": ["fmla v%d.4s, v30.4s, v31.s[0]" % i for i in range(24)],
    "sdot": ["sdot v%d.4s, v30.16b, v31.4b[0]" % i for i in range(24)],
    "smull": sum((["smull v%d.8h, v30.8b, v31.8b" % (i + 12), "sadalp v%d.4s, v%d.8h" % (i, i + 12)]
                  for i in range(12)), []),
}


def run(cmd, **kw):
    return subprocess.run(["nice", "-n", "19"] + cmd, check=True, capture_output=True, text=True, **kw).stdout


def compile_flags(name):
    db = os.path.join(ROOT, "build", "aarch64", "compile_commands.json")
    if os.path.exists(db):
        for entry in json.load(open(db)):
            if entry["file"].endswith("engine/optimized/" + name):
                args = shlex.split(entry["command"])[1:]
                out, keep, skip = [], [], False
                for a in args:
                    if skip:
                        skip = False
                        continue
                    if a in ("-o", "-c"):
                        skip = True
                        continue
                    if a == entry["file"]:
                        continue
                    keep.append(a)
                return keep
    return BASE_FLAGS + FILE_FLAGS[name]


def compile_asm(name, src, out_dir, reuse=False):
    out = os.path.join(out_dir, name.replace(".cc", ".s"))
    if reuse and os.path.exists(out):
        return out
    run([CXX] + compile_flags(name) + ["-S", "-o", out, src])
    return out


def functions(path):
    """{mangled name: [lines]} for every function of an assembly file."""
    out, cur = {}, None
    for line in open(path):
        line = line.rstrip("\n")
        m = re.match(r"^([A-Za-z_][\w.$]*):", line)
        if m and not line.startswith(".L"):
            cur = m.group(1)
            out[cur] = []
            continue
        if cur is None:
            continue
        if line.startswith("\t.size") and cur in line:
            cur = None
            continue
        out[cur].append(line)
    return out


COND_BRANCH = re.compile(r"^\s+(b\.?(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)|cbz|cbnz|tbz|tbnz)\s+"
                         r"(?:[^,]+,\s*)*(\.L\w+)\s*$")


BRANCH_OP = re.compile(r"^(b|b\.?(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)|cbz|cbnz|tbz|tbnz|br)$")


def is_insn(line):
    s = line.strip()
    return line.startswith("\t") and s != "" and not s.startswith(".") and not s.startswith("//")


def innermost_loops(lines):
    labels = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\.L\w+):", line)
        if m:
            labels[m.group(1)] = i
    loops = []
    for i, line in enumerate(lines):
        m = COND_BRANCH.match(line)
        if m and m.group(2) in labels and labels[m.group(2)] < i:
            loops.append((labels[m.group(2)], i))
    return [(a, b) for (a, b) in loops if not any((c, d) != (a, b) and a <= c and d <= b for (c, d) in loops)]


def op_counts(body):
    counts = {}
    for insn in body:
        op = insn.split()[0]
        if op == "ldr" and re.match(r"ldr\s+s\d+,", insn):
            op = "ldr_s"
        counts[op] = counts.get(op, 0) + 1
    return counts


def matches(counts, want):
    for op, n in want.items():
        have = counts.get(op, 0)
        if isinstance(n, list):  # any of these counts (a loop GCC may or may not unroll)
            if have not in n:
                return False
            continue
        lo, hi = n if isinstance(n, tuple) else (n, n)
        if not lo <= have <= hi:
            return False
    return True


def find_loop(funcs, func_key, want, name):
    hits = []
    for fname, lines in funcs.items():
        if func_key not in fname:
            continue
        for a, b in innermost_loops(lines):
            body = [l.strip().split("//")[0].strip() for l in lines[a:b + 1] if is_insn(l)]
            counts = op_counts(body)
            if counts.get("ret", 0) or counts.get("bl", 0):
                continue  # code placed after a loop exit, not a loop
            if sum(1 for i in body if BRANCH_OP.match(i.split()[0])) != 1:
                continue  # more than one basic block: llvm-mca would treat the branch inside as not taken
            if matches(counts, want):
                hits.append((fname, a, body))
    if not hits:
        return None  # reported as "no single-block loop" (e.g. a branch left inside the loop)
    # Copies of one loop (the two half panels of a w8a8 panel, a loop GCC
    # duplicated for a tail case) each match: take the first, and say so.
    hits.sort(key=lambda h: h[0])  # stable: the half-0 instance (...ELi0E...) before half 1
    if len(hits) > 1:
        sys.stderr.write("%s: %d loops match, using the first (%s)\n" % (name, len(hits), hits[0][0]))
    return hits[0]


def mca(body, cpu, iterations=300):
    with tempfile.NamedTemporaryFile("w", suffix=".s", delete=False) as f:
        f.write("\n".join(body) + "\n")
        path = f.name
    try:
        text = run([MCA, "-mtriple=aarch64", "-mcpu=" + cpu, "-mattr=+dotprod", "-iterations=%d" % iterations, path])
    finally:
        os.unlink(path)
    total = int(re.search(r"Total Cycles:\s+(\d+)", text).group(1))
    rthr = float(re.search(r"Block RThroughput:\s+([\d.]+)", text).group(1))
    return total / iterations, rthr, text


def peak_macs_per_cycle(kind, cpu):
    # The model's resource bound (Block RThroughput) of independent MAC
    # instructions: the pipes' limit, with no latency or dependency in the way.
    body = PEAK_LOOPS["smull" if kind in ("smull", "smull2") else kind]
    _, rthroughput, _ = mca(body, cpu)
    return sum(macs_of(i) for i in body) / rthroughput


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpus", default=",".join(DEFAULT_CPUS), help="llvm-mca -mcpu models, comma-separated")
    ap.add_argument("--matmul-src", default=os.path.join(ROOT, "engine", "optimized", "matmul_neon.cc"))
    ap.add_argument("--attention-src", default=os.path.join(ROOT, "engine", "optimized", "attention.cc"))
    ap.add_argument("--asm-dir", default=None, help="keep the assembly here (default: a temporary directory)")
    ap.add_argument("--reuse-asm", action="store_true", help="use the assembly already in --asm-dir")
    ap.add_argument("--only", default=None, help="kernels to run, comma-separated (default: all)")
    ap.add_argument("--show", default=None, help="print the loop body of this kernel and the mca report")
    ap.add_argument("--json", default=None, help="write the figures to this file (input of estimate.py)")
    args = ap.parse_args()
    cpus = args.cpus.split(",")
    asm_dir = args.asm_dir or tempfile.mkdtemp(prefix="arm-estimate-")
    os.makedirs(asm_dir, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    if args.show:
        only = {args.show}
    kernels = [k for k in KERNELS if only is None or k[0] in only]
    srcs = {"matmul_neon.cc": args.matmul_src, "attention.cc": args.attention_src}
    funcs = {}
    for f in sorted({k[1] for k in kernels}):
        funcs[f] = functions(compile_asm(f, srcs[f], asm_dir, args.reuse_asm))

    peaks = {}
    results = []
    for name, f, func_key, want, mac_ops, desc in kernels:
        hit = find_loop(funcs[f], func_key, want, name)
        if hit is None:
            results.append({"kernel": name, "description": desc, "missing": True, "cpus": {}})
            continue
        fname, _, body = hit
        loop_macs = sum(macs_of(i) for i in body if i.split()[0] in mac_ops)
        row = {"kernel": name, "description": desc, "instructions": len(body), "macs": loop_macs, "cpus": {}}
        for cpu in cpus:
            cycles, rthr, text = mca(body, cpu)
            key = (mac_ops[0], cpu)
            if key not in peaks:
                peaks[key] = peak_macs_per_cycle(mac_ops[0], cpu)
            row["cpus"][cpu] = {"cycles": cycles, "rthroughput": rthr, "cycles_per_mac": cycles / loop_macs,
                                "macs_per_cycle": loop_macs / cycles, "peak_macs_per_cycle": peaks[key],
                                "fraction_of_peak": loop_macs / cycles / peaks[key]}
            if args.show:
                print("## %s on %s (%s)\n" % (name, cpu, fname))
                print("\n".join(body))
                print(text)
        results.append(row)

    print("ESTIMATE from llvm-mca (LLVM 14) static scheduling models; not a measurement.\n")
    print("| kernel | loop | MACs/iter | " + " | ".join("%s cyc/iter, cyc/MAC, %% peak" % c for c in cpus) + " |")
    print("|---|---|---:|" + "---:|" * len(cpus))
    for r in results:
        if r.get("missing"):
            print("| %s | %s | - | %s |" % (r["kernel"], r["description"],
                                            " | ".join(["no single-block loop"] * len(cpus))))
            continue
        cells = []
        for cpu in cpus:
            c = r["cpus"][cpu]
            cells.append("%.1f, %.3f, %.0f%%" % (c["cycles"], c["cycles_per_mac"], 100 * c["fraction_of_peak"]))
        print("| %s | %s | %d | %s |" % (r["kernel"], r["description"], r["macs"], " | ".join(cells)))
    print("\nModel peak MACs/cycle (resource bound of independent MAC instructions): " + "; ".join(
        "%s %s %.1f" % (cpu, kind, v) for (kind, cpu), v in sorted(peaks.items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpus": cpus, "kernels": results,
                       "peaks": {"%s/%s" % k: v for k, v in peaks.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
