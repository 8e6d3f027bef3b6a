"""The flags every tool shares (model, tokenizer, engine, precision, threads) and what --help lists."""

import json
import subprocess

import pytest

from conftest import built_next_to

SHARED = ["--model", "--tokenizer", "--engine", "--precision", "--threads", "--numerics"]
OWN = {
    "needle-eval": ["--out", "--parallel", "--limit", "--sample_seed", "--timeout"],
    "needle-serve": ["--port", "--host", "--parallel", "--max_body_bytes", "--model_id"],
    "needle-load": ["--url", "--clients", "--requests"],
}


@pytest.mark.parametrize("tool", sorted(OWN))
def test_help_lists_the_tools_own_flags(needle_bin, tool):
    run = subprocess.run([built_next_to(needle_bin, tool), "--help"], capture_output=True, text=True, timeout=60)
    listed = run.stdout + run.stderr
    assert "No flags matched" not in listed
    # A flag is listed as "--name (help text)".
    for flag in OWN[tool] + (SHARED if tool != "needle-load" else []):
        assert f"    {flag} (" in listed, f"{tool} --help does not list {flag}:\n{listed}"
    # needle-load does not load a model, so it takes none of the model flags.
    if tool == "needle-load":
        assert "    --engine (" not in listed
    # absl's own flags stay behind --helpfull.
    assert "--flagfile" not in listed


def test_needle_serve_refuses_the_old_engine_threads_flag(needle_bin):
    run = subprocess.run([built_next_to(needle_bin, "needle-serve"), "--engine_threads", "2"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2
    assert "--engine_threads is now --threads" in run.stderr and "--parallel" in run.stderr


def test_the_default_is_the_optimized_engine_at_a_resolved_precision(needle_bin):
    def run(*flags):
        completed = subprocess.run([needle_bin, "run", "--query", "weather in Paris", "--max_new_tokens", "4",
                                    "--json", *flags], capture_output=True, text=True, timeout=120, check=True)
        return json.loads(completed.stdout)

    default = run()
    assert default["engine"] == "optimized"
    assert default["precision"] in ("w8a8", "fp32")  # "auto" is resolved for this CPU
    reference = run("--engine", "reference")
    assert (reference["engine"], reference["precision"]) == ("reference", "fp32")
    assert run("--precision", "int8")["precision"] == "int8"
