"""Executes the notebooks under python/notebooks headless, as a new user would run them.

A cell that raises fails the test. The kernel imports needlebench from the same build directory as
test_bindings.py; executed copies are left in pytest's temporary directory for inspection.
"""

import os

import pytest

from conftest import REPO_ROOT
from test_bindings import import_needlebench

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = os.path.join(REPO_ROOT, "python", "notebooks")
CELL_TIMEOUT_SECONDS = 600


def execute(name, tmp_path, monkeypatch):
    package = import_needlebench()
    # The kernel is a new /usr/bin/python3 process: it finds the package through PYTHONPATH.
    package_parent = os.path.dirname(os.path.dirname(package.__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(os.path.join(NOTEBOOK_DIR, name), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                                     resources={"metadata": {"path": NOTEBOOK_DIR}})
    try:
        client.execute()
    finally:
        nbformat.write(notebook, str(tmp_path / name))
    return notebook


def outputs(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]


def test_quickstart_runs_and_draws_its_chart(tmp_path, monkeypatch):
    notebook = execute("quickstart.ipynb", tmp_path, monkeypatch)
    assert not [output for output in outputs(notebook) if output.output_type == "error"]
    images = [output for output in outputs(notebook) if "image/png" in output.get("data", {})]
    assert images, "the per-category chart produced no image"
    text = "".join(output.get("text", "") for output in outputs(notebook))
    assert "exact match" in text and "call:" in text


def test_speed_notebook_runs_and_plots(tmp_path, monkeypatch):
    notebook = execute("speed.ipynb", tmp_path, monkeypatch)
    assert not [output for output in outputs(notebook) if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs(notebook))
