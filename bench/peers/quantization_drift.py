#!/usr/bin/python3
"""How far each int8 runtime's greedy output drifts from its own fp32, on real prompts.

For the first N records of a needle15 split, the encoder ids as the engine builds them (`needle
tokenize`), then unconstrained greedy decoding up to EOS (at most --steps tokens) at fp32 and at
w8a8, in needle's optimized engine (`needle run --noconstrained --json`) and in ONNX Runtime (the
onnxruntime peer's logits mode). Prints, per runtime, the share of prompts whose w8a8 output is
token for token its fp32 output. The same measure for both, so the two drifts can be compared.

  bench/peers/quantization_drift.py --needle build/release/needle --dataset datasets/needle15/test.jsonl -n 100
"""

import argparse
import json
import os
import subprocess
import sys

PEERS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.normpath(os.path.join(PEERS_DIR, "..", ".."))
EOS_ID = 1


def until_eos(ids):
    return ids[:ids.index(EOS_ID)] if EOS_ID in ids else ids


def needle_json(needle, args):
    return json.loads(subprocess.run([needle, *args], capture_output=True, text=True, check=True).stdout)


def needle_greedy(needle, model, record, precision, steps):
    tools = json.dumps(record["tools"])
    result = needle_json(needle, ["run", "--model", model, "--engine", "optimized", "--precision", precision,
                                  "--threads", "1", "--noconstrained", "--json", "--max_new_tokens", str(steps),
                                  "--query", record["query"], "--tools", tools])
    return until_eos(result["tokens"])


def ort_greedy(model, ids, precision, steps):
    result = subprocess.run([sys.executable, os.path.join(PEERS_DIR, "onnxruntime_peer.py"), "--logits", "--model",
                             model, "--precision", precision, "--prompt-ids", ",".join(map(str, ids)),
                             "--steps", str(steps)], capture_output=True, text=True, check=True)
    return until_eos(json.loads(result.stdout)["greedy_ids"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needle", default=os.path.join(REPO_DIR, "build", "release", "needle"))
    parser.add_argument("--model", default=os.path.join(REPO_DIR, "models", "default", "needle.safetensors"))
    parser.add_argument("--dataset", default=os.path.join(REPO_DIR, "datasets", "needle15", "test.jsonl"))
    parser.add_argument("-n", type=int, default=100, help="records, from the first")
    parser.add_argument("--steps", type=int, default=64, help="longest output compared")
    args = parser.parse_args()
    with open(args.dataset, encoding="utf-8") as handle:
        records = [json.loads(line) for _, line in zip(range(args.n), handle)]
    same = {"needle": 0, "onnxruntime": 0}
    for record in records:
        ids = needle_json(args.needle, ["tokenize", "--query", record["query"], "--tools",
                                        json.dumps(record["tools"])])["encoder_tokens"]
        outputs = {precision: needle_greedy(args.needle, args.model, record, precision, args.steps)
                   for precision in ("fp32", "w8a8")}
        same["needle"] += outputs["fp32"] == outputs["w8a8"]
        outputs = {precision: ort_greedy(args.model, ids, precision, args.steps) for precision in ("fp32", "w8a8")}
        same["onnxruntime"] += outputs["fp32"] == outputs["w8a8"]
    for runtime, count in same.items():
        print(f"{runtime}: w8a8 greedy output equal to fp32's on {count} of {len(records)} prompts "
              f"({100.0 * count / len(records):.1f}%)")


if __name__ == "__main__":
    main()
