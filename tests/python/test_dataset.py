"""The needle15 dataset: reproducible, cleanly split, schema-valid, and its generator rejects bad catalogs."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATASETS_DIR = os.path.join(REPO_ROOT, "datasets")
COMMITTED_DIR = os.path.join(DATASETS_DIR, "needle15")
CATALOG_DIR = os.path.join(DATASETS_DIR, "needlegen", "catalog")

if DATASETS_DIR not in sys.path:
    sys.path.insert(0, DATASETS_DIR)

from needlegen import generate as G  # noqa: E402
from needlegen import kinds as K  # noqa: E402

RECORD_KEYS = ["id", "category", "call_type", "query", "tools", "answers"]
NO_CALL_TYPES = {"none", "near_miss", "no_tools"}


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def plan(needle15_manifest):
    skip_invalid = needle15_manifest["arguments"]["skip_invalid"]
    categories, _ = G.load_catalog(skip_invalid=skip_invalid, log=lambda message: None)
    return G.Plan(categories)


def test_regeneration_is_byte_identical(needle15_manifest, regenerated_needle15):
    for name, info in needle15_manifest["files"].items():
        with open(regenerated_needle15 / name, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        assert digest == info["sha256"], f"{name} differs from the manifest: the catalog or generator changed " \
                                         f"without regenerating datasets/needle15"
    for name in ("dev.jsonl", "test.jsonl", "manifest.json"):
        with open(regenerated_needle15 / name, "rb") as new, open(os.path.join(COMMITTED_DIR, name), "rb") as old:
            assert new.read() == old.read(), name


def test_held_out_templates_never_reach_train(plan):
    split = plan.held_out_templates()
    train_wordings = {K.text_key(t) for entry in split.values() for t in entry["train"]}
    for tool, entry in split.items():
        assert entry["test"], f"{tool} has no held-out template"
        assert not {K.text_key(t) for t in entry["test"]} & train_wordings, tool

    traced = {split_name: G.generate_split(plan, split_name, seed=0, count=1500, trace=True)
              for split_name in ("train", "test")}
    for record in traced["train"]:
        assert all(K.text_key(t) in train_wordings for t in record["_templates"]), record["query"]
    for record in traced["test"]:
        assert not any(K.text_key(t) in train_wordings for t in record["_templates"]), record["query"]


def answer_values(record):
    for answer in record["answers"]:
        for param, value in answer["arguments"].items():
            yield answer["name"], param, value


def test_held_out_values_never_reach_train(plan, regenerated_needle15):
    kinds = plan.held_out_values()
    train = read_jsonl(regenerated_needle15 / "train.jsonl")
    for record in train:
        for tool, param, value in answer_values(record):
            assert not kinds[(tool, param)].is_held_out(value), (record["id"], tool, param, value)
    guard = G.TextGuard(plan.held_out_text_values())
    leaks = [(r["id"], guard.find(r["query"])) for r in train if guard.find(r["query"])]
    assert not leaks, leaks[:5]

    for record in read_jsonl(regenerated_needle15 / "test.jsonl"):
        for tool, param, value in answer_values(record):
            kind = kinds[(tool, param)]
            if kind.has_held_out and (kind.held_out or kind.values is None):
                assert kind.is_held_out(value), (record["id"], tool, param, value)


def invented_share(plan, records):
    """(invented, all) text values in the records' answers: invented ones are in no pool."""
    kinds = plan.held_out_values()
    invented = total = 0
    for record in records:
        for tool, param, value in answer_values(record):
            kind = kinds[(tool, param)]
            if plan.is_text_kind(kind):
                total += 1
                invented += value not in kind.values
    return invented, total


def test_train_text_values_are_partly_invented_and_dev_test_are_not(plan, needle15_manifest, regenerated_needle15):
    share = needle15_manifest["arguments"]["synthetic_values"]
    invented, total = invented_share(plan, read_jsonl(regenerated_needle15 / "train.jsonl"))
    assert total > 10000
    # Each drawn value is invented with probability `share`; 40k records keep the count within a few points.
    assert abs(invented / total - share) < 0.03, (invented, total)
    for name in ("dev.jsonl", "test.jsonl"):
        assert invented_share(plan, read_jsonl(regenerated_needle15 / name))[0] == 0, name


def test_invented_values_are_single_spaced_and_keep_clear_of_held_out_ones(plan):
    rng = G.random.Random(7)
    for kind in plan.text_kinds():
        for _ in range(50):
            value = plan.synthetic_value(kind, rng)
            assert value and value == " ".join(value.split()), (kind.spec, value)
            assert not plan.guard.find(value), (kind.spec, value)
            assert not kind.is_held_out(value), (kind.spec, value)


def check_record(record):
    assert list(record) == RECORD_KEYS
    assert all(isinstance(record[k], str) and record[k] for k in ("id", "category", "call_type", "query"))
    assert record["call_type"] in G.CALL_TYPES
    tools = {tool["name"]: tool for tool in record["tools"]}
    assert len(tools) == len(record["tools"])
    if record["call_type"] == "no_tools":
        assert not tools
    else:
        assert 1 <= len(tools) <= G.MAX_TOOLS_PER_EXAMPLE
    expected_calls = 0 if record["call_type"] in NO_CALL_TYPES else 2 if record["call_type"] == "multi" else 1
    assert len(record["answers"]) == expected_calls
    for tool in record["tools"]:
        assert list(tool) == ["name", "description", "parameters"]
        for param in tool["parameters"].values():
            assert param["type"] in ("string", "number", "integer", "boolean")
            assert isinstance(param["required"], bool) and param["description"]
    for answer in record["answers"]:
        assert list(answer) == ["name", "arguments"]
        params = tools[answer["name"]]["parameters"]
        # Arguments follow the order the parameters are listed in.
        assert list(answer["arguments"]) == [p for p in params if p in answer["arguments"]]
        assert all(p in answer["arguments"] for p, spec in params.items() if spec["required"])
        for name, value in answer["arguments"].items():
            assert K.value_matches_type(value, params[name]["type"]), (record["id"], name, value)
            if "enum" in params[name]:
                assert value in params[name]["enum"]


def test_every_record_is_schema_valid(regenerated_needle15):
    ids = set()
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl"):
        for record in read_jsonl(regenerated_needle15 / name):
            check_record(record)
            assert record["id"] not in ids
            ids.add(record["id"])


def test_test_split_covers_every_upstream_category(needle15_manifest):
    counts = needle15_manifest["counts"]["test"]
    for category, info in needle15_manifest["categories"].items():
        if info["group"] == "upstream":
            assert sum(counts[category].values()) >= 100, category


def test_cpp_reader_loads_the_test_split(repo_root):
    binary = os.path.join(repo_root, "build", "release", "needle-eval")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} is not built")
    run = subprocess.run([binary, "--system", "keyword", "--dataset",
                          "needle:" + os.path.join(COMMITTED_DIR, "test.jsonl"), "--limit", "2000"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "| test |" in run.stdout and "| 0 |" in run.stdout.split("| test |", 1)[1].split("\n", 1)[0], run.stdout


def broken_catalog(tmp_path, old, new):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    with open(os.path.join(CATALOG_DIR, "timers_alarms.py"), encoding="utf-8") as handle:
        source = handle.read()
    assert old in source
    (catalog / "timers_alarms.py").write_text(source.replace(old, new, 1), encoding="utf-8")
    return str(catalog)


def test_unknown_slot_is_a_clear_error(tmp_path):
    catalog = broken_catalog(tmp_path, '"set a timer for {duration_minutes}"', '"set a timer for {minutes}"')
    with pytest.raises(G.CatalogError) as error:
        G.load_catalog(catalog, log=lambda message: None)
    message = str(error.value)
    assert "catalog/timers_alarms.py" in message and "'set_timer'" in message
    assert "'set a timer for {minutes}'" in message and "{minutes} names no parameter" in message


def test_type_kind_mismatch_and_import_errors_are_clear(tmp_path):
    catalog = broken_catalog(tmp_path, 'Param("duration_minutes", "integer"', 'Param("duration_minutes", "string"')
    (tmp_path / "catalog" / "half_written.py").write_text("TOOLS = (\n", encoding="utf-8")
    with pytest.raises(G.CatalogError) as error:
        G.load_catalog(catalog, log=lambda message: None)
    message = str(error.value)
    assert "'duration_minutes': kind 'duration_min' gives integer values but type is 'string'" in message
    assert "catalog/half_written.py: cannot be imported: SyntaxError" in message
    # Skipping broken modules leaves nothing here to build from.
    with pytest.raises(G.CatalogError, match="no usable catalog module"):
        G.load_catalog(catalog, skip_invalid=True, log=lambda message: None)


def test_cli_reports_catalog_errors(tmp_path):
    catalog = broken_catalog(tmp_path, '"set a timer for {duration_minutes}"', '"set a timer for {minutes}"')
    run = subprocess.run([sys.executable, os.path.join(DATASETS_DIR, "generate.py"), "--out", str(tmp_path / "out"),
                          "--catalog", catalog], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "names no parameter" in run.stderr
    shutil.rmtree(tmp_path / "catalog")
