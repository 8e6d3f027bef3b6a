#!/usr/bin/env python3
"""Fail when a system's exact match falls more than --max-drop points below the baseline.

    accuracy_gate.py --baseline reports/baselines/needle15-test/report.json \
                     --current reports/ci/needle15-test/report.json [--max-drop 1.0]

Both files are needle-eval report.json files. Every (system, dataset) pair of the current
report must be in the baseline; the overall exact match and each category's are printed, and
only the overall one gates (categories have ~100 items, too few for a 1-point rule).
"""

import argparse
import json
import sys


def exact_match_table(report_path):
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    table = {}
    for result in report["results"]:
        key = (result["system"], result["dataset"])
        table[key] = {
            "overall": result["overall"]["exact_match"]["value"],
            "by_category": {name: cell["exact_match"]["value"]
                            for name, cell in result.get("by_category", {}).items()},
        }
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--current", required=True)
    parser.add_argument("--max-drop", type=float, default=1.0, help="allowed drop, in points")
    args = parser.parse_args(argv)

    baseline = exact_match_table(args.baseline)
    current = exact_match_table(args.current)
    failures = []
    for key, now in sorted(current.items()):
        if key not in baseline:
            failures.append(f"{key[0]} on {key[1]}: not in the baseline {args.baseline}")
            continue
        before = baseline[key]
        drop = 100 * (before["overall"] - now["overall"])
        print(f"{key[0]} on {key[1]}: exact match {100 * now['overall']:.2f}% "
              f"(baseline {100 * before['overall']:.2f}%, change {-drop:+.2f} points)")
        for category, value in sorted(now["by_category"].items()):
            old = before["by_category"].get(category)
            old_text = "n/a" if old is None else f"{100 * old:.1f}%"
            print(f"  {category:<24} {100 * value:5.1f}%  (baseline {old_text})")
        if drop > args.max_drop:
            failures.append(f"{key[0]} on {key[1]}: exact match fell {drop:.2f} points "
                            f"(allowed {args.max_drop})")
    if not current:
        failures.append(f"{args.current} holds no results")
    for failure in failures:
        print(f"accuracy gate FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
