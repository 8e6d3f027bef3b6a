"""Exported ONNX graphs, cached by checkpoint content and variant.

A directory per (checkpoint sha256 prefix, variant) under ${XDG_CACHE_HOME:-~/.cache}/needle-bench/onnx/,
holding the graphs and a meta.json; a change to how a variant's graphs are made bumps that variant's
version, which redoes older exports. Exports are written next to their final place and renamed, so a
concurrent or interrupted run never leaves a half-written directory that looks current.
"""

import hashlib
import json
import os
import shutil
import tempfile

SHA_PREFIX_CHARS = 16


def checkpoint_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "needle-bench", "onnx")


def read_meta(directory):
    with open(os.path.join(directory, "meta.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _is_current(directory, version):
    try:
        return read_meta(directory).get("export_version") == version
    except (OSError, ValueError):
        return False


def ensure_export(model_path, variant, version, export):
    """The directory of the checkpoint's `variant` graphs, calling export(model_path, directory) first
    if they are missing or older than `version`; export returns the meta dict to store."""
    directory = os.path.join(cache_root(), f"{checkpoint_sha256(model_path)[:SHA_PREFIX_CHARS]}-{variant}")
    if _is_current(directory, version):
        return directory
    os.makedirs(cache_root(), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".export-", dir=cache_root())
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would keep the cache private to one user
    try:
        meta = export(model_path, staging)
        meta.update({"export_version": version, "variant": variant, "checkpoint": os.path.abspath(model_path)})
        with open(os.path.join(staging, "meta.json"), "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=1)
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(staging, directory)
    except OSError:
        if not _is_current(directory, version):  # a concurrent export may have won the rename
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory
