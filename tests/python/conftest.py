"""Shared set-up for the Python tests: import path, repository paths, the C++ CLI binary."""

import json
import os
import sys

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON_DIR = os.path.join(REPO_ROOT, "python")
DEFAULT_MODEL_DIR = os.path.join(REPO_ROOT, "models", "default")
DEFAULT_BIN = os.path.join(REPO_ROOT, "build", "release", "needle")

if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope="session")
def default_model_dir():
    return DEFAULT_MODEL_DIR


@pytest.fixture(scope="session")
def needle_bin():
    """Path of the C++ `needle` CLI.

    $NEEDLE_BIN wins and must exist. Without it the default build/release/needle is used;
    if that is missing too the parity tests are skipped, unless NEEDLE_REQUIRE_BIN=1 asks
    for them to fail instead (CI sets it once the engine builds).
    """
    explicit = os.environ.get("NEEDLE_BIN")
    path = explicit or DEFAULT_BIN
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    if explicit:
        pytest.fail(f"NEEDLE_BIN={explicit} is not an executable file")
    if os.environ.get("NEEDLE_REQUIRE_BIN") == "1":
        pytest.fail(f"NEEDLE_REQUIRE_BIN=1 but the C++ CLI {path} does not exist (build it first)")
    pytest.skip(f"C++ CLI not built: {path} does not exist and NEEDLE_BIN is unset")


def built_next_to(needle_bin, program):
    """Path of another program of the build, which puts them all next to the `needle` CLI."""
    path = os.path.join(os.path.dirname(needle_bin), program)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built next to {needle_bin}")
    return path


@pytest.fixture(scope="session")
def needle_bench_bin(needle_bin):
    return built_next_to(needle_bin, "needle-bench")


@pytest.fixture(scope="session")
def needle15_manifest():
    path = os.path.join(REPO_ROOT, "datasets", "needle15", "manifest.json")
    if not os.path.isfile(path):
        pytest.fail(f"{path} is missing: run datasets/generate.py --out datasets/needle15")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="session")
def regenerated_needle15(needle15_manifest, tmp_path_factory):
    """The needle15 dataset written again, into a temporary directory, from the committed
    manifest's arguments (train.jsonl is not committed; this is where tests get it)."""
    datasets_dir = os.path.join(REPO_ROOT, "datasets")
    if datasets_dir not in sys.path:
        sys.path.insert(0, datasets_dir)
    from needlegen import generate

    out = tmp_path_factory.mktemp("needle15")
    arguments = needle15_manifest["arguments"]
    generate.write_dataset(str(out), seed=needle15_manifest["seed"], train=arguments["train"], dev=arguments["dev"],
                           test_per_category=arguments["test_per_category"],
                           test_per_everyday=arguments["test_per_everyday"],
                           skip_invalid=arguments["skip_invalid"],
                           synthetic_values=arguments["synthetic_values"], log=lambda message: None)
    return out
