"""needle-serve as the official OpenAI SDK (the `openai` npm package, pinned in tests/openai_sdk) sees it.

Runs tests/openai_sdk/sdk_test.mjs against a live needle-serve: streamed and whole tool calls, the
caller's tool names, tool_choice, the no-call answer, refused fields. Skipped only when node or npm
is missing; the package is installed with `npm ci` when it is not there yet
(scripts/install-deps.sh --test does that beforehand).
"""

import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import built_next_to


def sdk_dir(repo_root):
    return os.path.join(repo_root, "tests", "openai_sdk")


@pytest.fixture(scope="module")
def node(repo_root):
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node or npm is not installed")
    directory = sdk_dir(repo_root)
    if not os.path.isdir(os.path.join(directory, "node_modules", "openai")):
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory, check=True, timeout=600)
    return node


@pytest.fixture(scope="module")
def served_url(needle_bin):
    process = subprocess.Popen([built_next_to(needle_bin, "needle-serve"), "--port", "0", "--parallel", "2"],
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, f"needle-serve did not start: {line!r}"
        yield match.group(1) + "/v1"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def test_the_openai_sdk_reads_needle_serve(node, served_url, repo_root):
    result = subprocess.run([node, "sdk_test.mjs"], cwd=sdk_dir(repo_root), capture_output=True, text=True,
                            timeout=600, env={**os.environ, "NEEDLE_SERVE_URL": served_url})
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert result.stdout.count("ok   ") >= 9
