"""Shared set-up for the Python tests: import path, repository paths, the C++ CLI binary."""

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
