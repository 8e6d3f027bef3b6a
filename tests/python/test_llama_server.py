"""needle-eval's OpenAI adapter against software we did not write: llama.cpp's server (llama-cpp-python)
with Gemma 3 270M, as scripts/llama-server.sh installs and starts it.

Skipped when the server is not installed (scripts/llama-server.sh install puts it in
~/.cache/needle-bench/venv-llama), unless NEEDLE_REQUIRE_LLAMA=1 asks for a failure instead.
"""

import json
import os
import socket
import subprocess

import pytest

from conftest import built_next_to

BFCL_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "datasets", "bfcl"))
ITEMS = 2  # per dataset: enough to exercise the adapter, few enough for every commit


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(repo_root):
    script = os.path.join(repo_root, "scripts", "llama-server.sh")
    # A 2048-token context: llama-cpp-python's chatml-function-calling handler does not apply
    # max_tokens while it writes a call, so a model looping inside a string stops only when the
    # context is full; a small one keeps that short.
    env = dict(os.environ, LLAMA_PORT=str(free_port()), LLAMA_THREADS="2", LLAMA_CTX="2048")
    status = subprocess.run([script, "status"], capture_output=True, text=True, env=env)
    if "not installed" in status.stdout:
        reason = f"llama.cpp server not installed ({status.stdout.strip()}); run scripts/llama-server.sh install"
        if os.environ.get("NEEDLE_REQUIRE_LLAMA") == "1":
            pytest.fail("NEEDLE_REQUIRE_LLAMA=1 but " + reason)
        pytest.skip(reason)
    start = subprocess.run([script, "start"], capture_output=True, text=True, env=env, timeout=120)
    assert start.returncode == 0, start.stderr
    try:
        spec = subprocess.run([script, "url"], capture_output=True, text=True, env=env, check=True).stdout.strip()
        yield spec
    finally:
        subprocess.run([script, "stop"], capture_output=True, text=True, env=env, timeout=60)


def test_needle_eval_scores_the_real_server(llama_server, needle_bin, repo_root, tmp_path):
    needle_eval = built_next_to(needle_bin, "needle-eval")
    # Foreign dataset shapes are the adapter-independent reader's business (test_needle_eval.py); here
    # Gemma answers greedily, and on the first foreign-shapes item it loops inside a string.
    datasets = ["needle:" + os.path.join(repo_root, "datasets", "needle15", "test.jsonl")]
    if os.path.isfile(os.path.join(BFCL_DIR, "BFCL_v4_simple_python.json")):
        datasets.append("bfcl:" + os.path.join(BFCL_DIR, "BFCL_v4_simple_python.json"))
    out = tmp_path / "out"
    # --nostream: llama-cpp-python's chatml-function-calling handler fails streamed requests with
    # tool_choice "auto". The timeout lets a runaway call end at the context's end (see above).
    command = [needle_eval, "--system", "gemma=" + llama_server, "--limit", str(ITEMS), "--parallel", "1",
               "--timeout", "300", "--nostream", "--max_new_tokens", "64", "--out", str(out)]
    for dataset in datasets:
        command += ["--dataset", dataset]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == ITEMS * len(datasets)
    for record in records:
        # Every request went through: the server took the tools (JSON Schema it compiled into a
        # grammar, conversation with system prompts) and answered in a shape the adapter reads.
        assert record["request_error"] is None, record
        assert record["system"] == "gemma"
        assert record["latency_ms"] > 0
        assert record["output_tokens"] > 0, record
        # Whatever the model said was kept: parsed into calls, or kept as unreadable text.
        assert record["parsed"] or record["output"] or record["parse_error"], record
        assert isinstance(record["bfcl_valid"], bool)
    # The server's structured tool_calls came back as calls to the offered tools, with arguments.
    calls = [call for record in records for call in record["calls"]]
    assert calls, [record["output"] for record in records]
    assert all(call["name"] and isinstance(call["arguments"], dict) for call in calls), calls
    report = json.loads((out / "report.json").read_text())
    assert [system["name"] if isinstance(system, dict) else system for system in report["systems"]] == ["gemma"]
