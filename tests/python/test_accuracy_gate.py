"""scripts/accuracy_gate.py: the CI rule on exact match against the committed baseline."""

import json
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
GATE = os.path.join(ROOT, "scripts", "accuracy_gate.py")


def write_report(path, exact_by_system):
    results = []
    for system, (overall, by_category) in exact_by_system.items():
        results.append({
            "system": system,
            "dataset": "needle15_test",
            "overall": {"exact_match": {"value": overall}},
            "by_category": {name: {"exact_match": {"value": value}} for name, value in by_category.items()},
        })
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"results": results}, f)
    return str(path)


def run_gate(tmp_path, baseline, current, *extra):
    base = write_report(tmp_path / "baseline.json", baseline)
    now = write_report(tmp_path / "current.json", current)
    return subprocess.run([sys.executable, GATE, "--baseline", base, "--current", now, *extra],
                          capture_output=True, text=True, check=False)


def test_passes_within_one_point(tmp_path):
    run = run_gate(tmp_path, {"needle": (0.920, {"pet_care": 0.95})},
                   {"needle": (0.911, {"pet_care": 0.80})})
    assert run.returncode == 0, run.stderr
    assert "exact match 91.10%" in run.stdout
    assert "pet_care" in run.stdout


def test_fails_past_one_point(tmp_path):
    run = run_gate(tmp_path, {"needle": (0.920, {})}, {"needle": (0.905, {})})
    assert run.returncode == 1
    assert "fell 1.50 points" in run.stderr


def test_threshold_is_an_option(tmp_path):
    run = run_gate(tmp_path, {"needle": (0.920, {})}, {"needle": (0.905, {})}, "--max-drop", "2")
    assert run.returncode == 0, run.stderr


def test_system_missing_from_baseline_fails(tmp_path):
    run = run_gate(tmp_path, {"needle": (0.9, {})}, {"other": (0.95, {})})
    assert run.returncode == 1
    assert "not in the baseline" in run.stderr


def test_empty_current_report_fails(tmp_path):
    run = run_gate(tmp_path, {"needle": (0.9, {})}, {})
    assert run.returncode == 1
    assert "holds no results" in run.stderr
