"""The needle-bench peers (bench/peers/, docs/peers.md): PyTorch 1.13 (Debian) and 2.x (PyPI), eager and
compiled, ONNX Runtime at fp32 and w8a8, and the plain ONNX export it is measured against (tests/peers/).

(a) Logits mode matches the C++ reference engine (`needle logits`) on the same ids: the peer
    decodes greedily from EOS with its KV cache; the engine recomputes the decoder over the
    peer's greedy ids. Tolerance (fp32): max|peer - cpp| <= 1e-3 * max(1, max|cpp|) per step,
    and the same greedy ids. Looser than test_parity.py's 1e-4: the runtimes order their sums
    differently and ONNX Runtime fuses operators. ONNX Runtime's w8a8 graphs are checked for
    ONNX Runtime's integer operators; their drift is measured on the trained model
    (bench/peers/quantization_drift.py, docs/peers.md).
(b) Bench mode prints one JSON object of the protocol with R samples for a prompt, a
    generation and a combined test.
(c) Bad input exits non-zero with one clear line on stderr.

A peer whose runtime is missing (Debian's PyTorch, or onnxruntime in the project's virtual environment,
scripts/install-pypi.sh) is skipped, unless NEEDLE_REQUIRE_PEERS=1 asks for a failure instead. PyTorch 2.x
(install-pypi.sh --torch, several GB) is not installed in CI: its peers are skipped without it either way.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT

PEERS_DIR = os.path.join(REPO_ROOT, "bench", "peers")
sys.path.insert(0, PEERS_DIR)
import peer_protocol  # noqa: E402

REL_TOL = 1e-3
REPETITIONS = 2
# name: (command after the interpreter, the runtime's name, the engine column)
PEERS = {
    "pytorch": ([os.path.join(PEERS_DIR, "pytorch_peer.py")], "pytorch 1.", "pytorch-eager"),
    "pytorch2": ([os.path.join(PEERS_DIR, "pytorch_peer.py"), "--pypi"], "pytorch 2.", "pytorch-eager"),
    "pytorch2-compile": ([os.path.join(PEERS_DIR, "pytorch_peer.py"), "--pypi", "--compile"], "pytorch 2.",
                         "pytorch-compile"),
    "onnxruntime": ([os.path.join(PEERS_DIR, "onnxruntime_peer.py")], "onnxruntime 1.", "onnxruntime"),
    "onnxruntime-plain": ([os.path.join(REPO_ROOT, "tests", "peers", "onnxruntime_plain_peer.py")], "onnxruntime 1.",
                          "onnxruntime-plain"),
}


def venv_has(module):
    python = os.path.join(peer_protocol.VENV_DIR, "bin", "python3")
    return os.path.exists(python) and subprocess.run(
        [python, "-c", f"import {module}"], capture_output=True, check=False).returncode == 0


def runtime_missing(name):
    """Why the peer cannot run here, or None."""
    if name in ("pytorch", "onnxruntime-plain") and importlib.util.find_spec("torch") is None:
        return "Debian's PyTorch is not installed (python3-torch)"
    if name.startswith("onnxruntime") and not venv_has("onnxruntime"):
        return f"onnxruntime is not installed in {peer_protocol.VENV_DIR} (scripts/install-pypi.sh)"
    return None


def require_runtime(name):
    """Skips the test when the peer cannot run, or fails it under NEEDLE_REQUIRE_PEERS=1.

    PyTorch 2.x is optional everywhere (CI does not install its several GB)."""
    if name.startswith("pytorch2"):
        if not venv_has("torch"):
            pytest.skip(f"PyTorch 2.x is not installed in {peer_protocol.VENV_DIR} (scripts/install-pypi.sh --torch)")
        return
    reason = runtime_missing(name)
    if reason:
        if os.environ.get("NEEDLE_REQUIRE_PEERS") == "1":
            pytest.fail(f"NEEDLE_REQUIRE_PEERS=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture(params=list(PEERS))
def peer(request):
    require_runtime(request.param)
    return request.param


@pytest.fixture(scope="session")
def peer_env(tmp_path_factory):
    """The environment the peers run in: ONNX exports go to a temporary cache."""
    return dict(os.environ, XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("peers") / "tiny.safetensors"
    subprocess.run([sys.executable, os.path.join(REPO_ROOT, "python", "needle_convert.py"), "random", str(path),
                    "--config", "tiny", "--seed", "3"], check=True, capture_output=True)
    return str(path)


def run_peer(name, args, env):
    return subprocess.run([sys.executable, *PEERS[name][0], *args], env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def peer_json(name, args, env):
    result = run_peer(name, args, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def reference_logits(needle_bin, model, prompt, decoder_ids):
    result = subprocess.run([needle_bin, "logits", "--engine", "reference", "--model", model, "--encoder_tokens", ",".join(map(str, prompt)),
                             "--decoder_tokens", ",".join(map(str, decoder_ids))],
                            capture_output=True, text=True, check=True)
    return np.asarray(json.loads(result.stdout)["logits"], dtype=np.float64)


@pytest.mark.parametrize("prompt", [[7], [5, 9, 300, 4000, 17], list(range(100, 1100, 7))],
                         ids=["len1", "len5", "len143"])
def test_logits_match_reference_engine(peer, needle_bin, tiny_checkpoint, peer_env, prompt):
    check_logits(peer, "fp32", REL_TOL, needle_bin, tiny_checkpoint, peer_env, prompt)


def check_logits(peer, precision, tolerance, needle_bin, tiny_checkpoint, peer_env, prompt):
    steps = 4
    out = peer_json(peer, ["--logits", "--model", tiny_checkpoint, "--precision", precision,
                           "--prompt-ids", ",".join(map(str, prompt)), "--steps", str(steps)], peer_env)
    logits = np.asarray(out["logits"], dtype=np.float64)
    assert logits.shape == (steps, 8192)
    assert out["greedy_ids"] == [int(i) for i in logits.argmax(axis=1)]

    # The engine sees the peer's own greedy ids, so every row is compared on the same prefix.
    reference = reference_logits(needle_bin, tiny_checkpoint, prompt, [1] + out["greedy_ids"][:-1])
    assert reference.shape == logits.shape
    for step in range(steps):
        scale = max(1.0, float(np.abs(reference[step]).max()))
        assert np.abs(logits[step] - reference[step]).max() <= tolerance * scale, f"step {step}"
    assert out["greedy_ids"] == [int(i) for i in reference.argmax(axis=1)]


@pytest.mark.parametrize("n_prompt,n_gen,n_depth", [(32, 0, 0), (0, 5, 16), (32, 5, 0)],
                         ids=["prompt", "generation", "combined"])
def test_bench_protocol(peer, tiny_checkpoint, peer_env, n_prompt, n_gen, n_depth):
    out = peer_json(peer, ["--model", tiny_checkpoint, "--threads", "1", "--precision", "fp32",
                           "--n-prompt", str(n_prompt), "--n-gen", str(n_gen), "--n-depth", str(n_depth),
                           "--repetitions", str(REPETITIONS), "--warmup", "1"], peer_env)
    assert set(out) == {"runtime", "engine", "precision", "isa", "samples_ns", "samples_ttft_ms",
                        "peak_rss_bytes"}
    _, runtime, engine = PEERS[peer]
    assert out["runtime"].startswith(runtime) and len(out["runtime"]) > len(runtime)
    assert out["engine"] == engine
    assert out["precision"] == "fp32"
    assert isinstance(out["isa"], str)
    assert len(out["samples_ns"]) == REPETITIONS and len(out["samples_ttft_ms"]) == REPETITIONS
    assert all(isinstance(ns, int) and ns > 0 for ns in out["samples_ns"])
    assert all(isinstance(ms, float) and ms > 0 for ms in out["samples_ttft_ms"])
    if n_gen == 0:
        # A prompt test times the prefill only; TTFT adds the first decode step to it.
        assert all(ms * 1e6 >= ns for ns, ms in zip(out["samples_ns"], out["samples_ttft_ms"]))
    assert isinstance(out["peak_rss_bytes"], int) and out["peak_rss_bytes"] > 0


@pytest.mark.parametrize("peer_name,precision", [("pytorch", "bf16"), ("pytorch2", "bf16"), ("onnxruntime", "w8a8")])
def test_other_precisions_run(peer_name, precision, tiny_checkpoint, peer_env):
    require_runtime(peer_name)
    out = peer_json(peer_name, ["--model", tiny_checkpoint, "--precision", precision, "--n-prompt", "16",
                                "--n-gen", "2", "--repetitions", "1", "--warmup", "0"], peer_env)
    assert out["precision"] == precision and len(out["samples_ns"]) == 1


def test_onnxruntime_w8a8_graphs_hold_integer_products(tiny_checkpoint, peer_env):
    """The w8a8 export is ONNX Runtime's dynamic quantisation: int8 weights, integer MatMuls."""
    require_runtime("onnxruntime")
    peer_json("onnxruntime", ["--model", tiny_checkpoint, "--precision", "w8a8", "--n-prompt", "8",
                              "--repetitions", "1", "--warmup", "0"], peer_env)
    exports = os.path.join(peer_env["XDG_CACHE_HOME"], "needle-bench", "onnx")
    [directory] = [name for name in os.listdir(exports) if name.endswith("-ort-w8a8")]
    script = ("import onnx, sys, collections; m = onnx.load(sys.argv[1]);"
              "print(sorted(collections.Counter(n.op_type for n in m.graph.node).items()))")
    python = os.path.join(peer_protocol.VENV_DIR, "bin", "python3")
    ops = subprocess.run([python, "-c", script, os.path.join(exports, directory, "decode.onnx")],
                         capture_output=True, text=True, check=True).stdout
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops, ops


def assert_fails_with(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_model_fails(peer, tmp_path, peer_env):
    missing = str(tmp_path / "absent.safetensors")
    result = run_peer(peer, ["--model", missing, "--n-prompt", "8"], peer_env)
    assert_fails_with(result, missing, "does not exist")


def test_unknown_precision_fails(peer, tiny_checkpoint, peer_env):
    unsupported = "bf16" if peer.startswith("onnxruntime") else "int8"
    result = run_peer(peer, ["--model", tiny_checkpoint, "--precision", unsupported, "--n-prompt", "8"], peer_env)
    assert_fails_with(result, f"precision {unsupported} is not supported")


def test_nothing_to_time_fails(peer, tiny_checkpoint, peer_env):
    result = run_peer(peer, ["--model", tiny_checkpoint, "--n-gen", "8"], peer_env)
    assert_fails_with(result, "nothing to time")


def test_prompt_ids_follow_splitmix64():
    """Prompts are drawn as bench/src/runner.cc draws them: splitmix64 reduced into [6, vocab)."""
    # splitmix64's published first output for seed 0; a span of 2**64 leaves it unreduced.
    assert peer_protocol.prompt_ids(1, 2**64 + 6, seed=0) == [6 + 0xE220A8397B1DCDAF]
    ids = peer_protocol.prompt_ids(500, 300)
    assert min(ids) >= 6 and max(ids) < 300 and len(set(ids)) > 200  # ~240 expected of uniform draws
