#!/usr/bin/python3
"""tok/s ESTIMATE for Needle 26M on phone CPU classes, from llvm-mca figures.

Input: the JSON that mca_loops.py writes (cycles per MAC of each inner loop per
CPU model). The work per token is counted from the architecture with the
formulas of bench/src/roofline.cc (WorkOf), and the bytes per decode step from
the packed tensor sizes (PackedMatrixBytes, CrossKvBytesPerToken). Nothing is
measured: see README.md for the assumptions.

  /usr/bin/python3 bench/arm-estimate/mca_loops.py --json /tmp/mca.json
  /usr/bin/python3 bench/arm-estimate/estimate.py /tmp/mca.json
"""

import json
import sys

# Needle 26M (the 26m configuration of python/needle_convert.py).
D, KV, HD, VOCAB, LE, LD, KV_HEADS = 512, 256, 64, 8192, 12, 8, 4
PANEL, GROUP = 32, 32

# Phone classes: the llvm-mca model standing for the core, threads (cores used),
# clock in GHz, and sustained DRAM bandwidth one cluster reaches in GB/s. All assumed.
CLASSES = [
    ("little: 4x Cortex-A55 @ 1.8 GHz", "cortex-a55", 4, 1.8, 10.0),
    ("mid: 2x A76-class @ 2.2 GHz (A57 model)", "cortex-a76", 2, 2.2, 15.0),
    ("mid: 2x A76-class @ 2.2 GHz (Exynos-M5 model)", "exynos-m5", 2, 2.2, 15.0),
    ("flagship: 4 big cores @ 2.6 GHz (A57 model)", "cortex-a76", 4, 2.6, 30.0),
    ("flagship: 4 big cores @ 2.6 GHz (Exynos-M5 model)", "exynos-m5", 4, 2.6, 30.0),
]

# Which inner loop does each part of the work, per precision (dotprod cores).
KERNELS = {
    "fp32": {"gemm": "gemm_f32", "gemv": "gemv_f32", "prefill_scores": "attn_prefill_scores",
             "prefill_values": "attn_prefill_values", "cross_scores": "attn_decode_scores_f32",
             "cross_values": "attn_decode_values_f32"},
    "w8a8": {"gemm": "gemm_w8a8_sdot", "gemv": "gemv_w8a8_sdot", "prefill_scores": "attn_prefill_scores",
             "prefill_values": "attn_prefill_values", "cross_scores": "attn_decode_scores_i8",
             "cross_values": "attn_decode_values_i8"},
    "w4a8": {"gemm": "gemm_w4a8_sdot", "gemv": "gemv_w4a8_sdot", "prefill_scores": "attn_prefill_scores",
             "prefill_values": "attn_prefill_values", "cross_scores": "attn_decode_scores_i8",
             "cross_values": "attn_decode_values_i8"},
}


def panel_bytes(precision, rows):
    groups = rows // GROUP
    per = {"fp32": rows * PANEL * 4, "w8a8": groups * (PANEL * 8 + GROUP * PANEL),
           "w4a8": groups * (PANEL * 4 + GROUP * PANEL // 2)}[precision]
    return (per + 63) // 64 * 64


def matrix_bytes(precision, rows, cols):
    return (cols + PANEL - 1) // PANEL * panel_bytes(precision, rows)


def cross_kv_bytes_per_position(precision):
    return 2 * KV * 4 if precision == "fp32" else 2 * (KV + KV_HEADS * 4)


def prefill_macs(n):
    """MACs of a prompt of n tokens, split by kernel (roofline.cc's prefill FLOPs / 2)."""
    return {"gemm": LE * n * (2 * D * D + 2 * D * KV) + LD * n * 2 * D * KV,
            "prefill_scores": LE * n * n * D, "prefill_values": LE * n * n * D}


def decode_macs(t, g):
    """MACs per generated token, averaged over g steps at encoder depth t."""
    self_positions = g * (g + 1) / 2
    return {"gemv": LD * (4 * D * D + 2 * D * KV) + D * VOCAB,
            "cross_scores": LD * D * t, "cross_values": LD * D * t,
            # The decoder's own K/V are fp32 and short: counted with the fp32 decode loops.
            "self_scores": LD * D * self_positions / g, "self_values": LD * D * self_positions / g}


def decode_bytes(precision, t, g):
    """Bytes read per generated token (roofline.cc's decode bytes / g)."""
    dd, dkv, out = matrix_bytes(precision, D, D), matrix_bytes(precision, D, KV), matrix_bytes(precision, D, VOCAB)
    norm_scales = LD * (2 * D + 3 * HD) + D
    per_step = LD * (4 * dd + 2 * dkv) + out + LD * t * cross_kv_bytes_per_position(precision) + D * 4 + norm_scales * 4
    self_positions = g * (g + 1) / 2
    return per_step + LD * 2 * KV * 4 * self_positions / g


def main():
    mca = json.load(open(sys.argv[1]))
    cyc = {k["kernel"]: {c: v["cycles_per_mac"] for c, v in k["cpus"].items()} for k in mca["kernels"]
           if not k.get("missing")}
    n, t, g = 1024, 1024, 100
    print("ESTIMATE (not a measurement): llvm-mca cycles per MAC of the inner loops, ideal scaling over the")
    print("cores, no overheads outside the loops (norms, softmax exp, quantisation, threading) -> upper bounds.\n")
    print("Work: prefill pp%d = %.1f GMAC (%.1f G in projections, %.1f G in attention); decode tg%d @ d%d ="
          " %.1f MMAC/token." % (n, sum(prefill_macs(n).values()) / 1e9, prefill_macs(n)["gemm"] / 1e9,
                                 2 * prefill_macs(n)["prefill_scores"] / 1e9, g, t,
                                 sum(decode_macs(t, g).values()) / 1e6))
    print("Bytes per decode token: " + ", ".join("%s %.1f MB" % (p, decode_bytes(p, t, g) / 1e6) for p in KERNELS))
    print()
    print("| phone class (assumed) | precision | prefill pp%d tok/s |"
          " decode compute-bound tok/s | decode bandwidth-bound tok/s | decode estimate tok/s |" % n)
    print("|---|---|---:|---:|---:|---:|")
    for label, cpu, threads, ghz, gbs in CLASSES:
        rate = threads * ghz * 1e9  # cycles per second
        for precision, kernels in KERNELS.items():
            if any(k not in cyc or cpu not in cyc[k] for k in kernels.values()):
                print("| %s | %s | n/a | n/a | n/a | n/a |" % (label, precision))
                continue
            prefill_cycles = sum(m * cyc[kernels[part]][cpu] for part, m in prefill_macs(n).items())
            prefill_tps = n / (prefill_cycles / rate)
            dm = decode_macs(t, g)
            decode_cycles = (dm["gemv"] * cyc[kernels["gemv"]][cpu] + dm["cross_scores"] * cyc[kernels["cross_scores"]][cpu]
                             + dm["cross_values"] * cyc[kernels["cross_values"]][cpu]
                             + dm["self_scores"] * cyc["attn_decode_scores_f32"][cpu]
                             + dm["self_values"] * cyc["attn_decode_values_f32"][cpu])
            compute_tps = rate / decode_cycles
            memory_tps = gbs * 1e9 / decode_bytes(precision, t, g)
            print("| %s | %s | %.0f | %.0f | %.0f | %.0f |" % (label, precision, prefill_tps, compute_tps, memory_tps,
                                                             min(compute_tps, memory_tps)))
    print("\nUpstream's phone claims for comparison: 6000 tok/s prefill, 1200 tok/s decode.")


if __name__ == "__main__":
    main()
