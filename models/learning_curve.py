"""Score a training run's snapshots on a dataset: exact match against training minutes.

    /usr/bin/python3 models/learning_curve.py RUN_DIR [--dataset needle:datasets/needle15/test.jsonl]
        [--every N] [--needle-eval build/release/needle-eval]

RUN_DIR is a needle_train.py --out directory of a run with --snapshots. Each snapshot
(snapshots/step-N.safetensors) is scored by needle-eval (optimized engine, fp32) and the result
kept in RUN_DIR/curve/step-N/ (report.json, predictions), so a second call scores only the new
ones. Training minutes at a step are the summed step times of train_log.json up to it: the time
spent training, not evaluating or waiting, and comparable across paused and resumed sessions
(on a shared machine they also hold the neighbours' share). Prints and writes
RUN_DIR/curve.json and RUN_DIR/curve.md: overall exact match with its 95% interval and the
exact match of each call type.

Snapshots are chosen by nothing: every one is scored, so the curve is a report on the test
split, never an input to a training decision (those use dev).
"""

import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAPSHOT = re.compile(r"^step-(\d+)\.safetensors$")


def training_minutes(log):
    """Step -> summed step seconds up to and including it, in minutes."""
    minutes, total = {}, 0.0
    for entry in log["steps"]:
        total += entry["step_s"]
        minutes[entry["step"]] = total / 60
    return minutes


def score(needle_eval, snapshot, tokenizer, dataset, out_dir):
    report = os.path.join(out_dir, "report.json")
    if not os.path.exists(report):
        subprocess.run([needle_eval, "--system", "needle:optimized", "--model", snapshot, "--tokenizer", tokenizer,
                        "--dataset", dataset, "--out", out_dir, "--progress=false"], check=True,
                       stdout=subprocess.DEVNULL)
    with open(report, encoding="utf-8") as f:
        result = json.load(f)["results"][0]
    exact = result["overall"]["exact_match"]
    return {"exact": exact["value"], "ci95": exact["ci95"], "items": exact["total"],
            "by_call_type": {name: cell["exact_match"]["value"] for name, cell in result["by_call_type"].items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--dataset", default="needle:" + os.path.join(ROOT, "datasets", "needle15", "test.jsonl"))
    parser.add_argument("--every", type=int, default=1, help="score every Nth snapshot (and always the last)")
    parser.add_argument("--needle-eval", default=os.path.join(ROOT, "build", "release", "needle-eval"))
    args = parser.parse_args(argv)

    with open(os.path.join(args.run_dir, "train_log.json"), encoding="utf-8") as f:
        log = json.load(f)
    minutes = training_minutes(log)
    tokenizer = log["args"]["tokenizer"]
    if not os.path.isabs(tokenizer):
        tokenizer = os.path.join(ROOT, tokenizer)
    snapshot_dir = os.path.join(args.run_dir, "snapshots")
    steps = sorted(int(m.group(1)) for name in os.listdir(snapshot_dir) if (m := SNAPSHOT.match(name)))
    if not steps:
        sys.exit(f"{snapshot_dir}: no step-N.safetensors snapshots (train with --snapshots)")
    chosen = [s for i, s in enumerate(steps) if i % args.every == 0 or s == steps[-1]]

    points = []
    for step in chosen:
        name = f"step-{step:07d}"
        result = score(args.needle_eval, os.path.join(snapshot_dir, name + ".safetensors"), tokenizer, args.dataset,
                       os.path.join(args.run_dir, "curve", name))
        points.append({"step": step, "train_minutes": round(minutes.get(step, float("nan")), 1), **result})
        print(f"step {step:>6}  {points[-1]['train_minutes']:7.1f} min  exact {100 * result['exact']:5.1f}%",
              flush=True)

    call_types = sorted({t for p in points for t in p["by_call_type"]})
    lines = [f"Exact match on `{args.dataset}` against training minutes (summed step times).", "",
             "| step | training minutes | exact match (95% CI) | " + " | ".join(call_types) + " |",
             "|---:|---:|---|" + "---:|" * len(call_types)]
    for p in points:
        cells = " | ".join(f"{100 * p['by_call_type'].get(t, float('nan')):.1f}" for t in call_types)
        lines.append(f"| {p['step']} | {p['train_minutes']} | {100 * p['exact']:.1f}% "
                     f"({100 * p['ci95'][0]:.1f}-{100 * p['ci95'][1]:.1f}) | {cells} |")
    with open(os.path.join(args.run_dir, "curve.json"), "w", encoding="utf-8") as f:
        json.dump({"dataset": args.dataset, "points": points}, f, indent=1)
    with open(os.path.join(args.run_dir, "curve.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
