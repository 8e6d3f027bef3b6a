"""Procedural training records: deterministic, valid for the trainer, varied, and clear of everything
needle15's test split holds out (templates, values, framing phrases, the catalog's tool names).

The held-out checks here are written independently of the generator's own guard, so that a bug in
one does not hide in the other.
"""

import json
import os
import re
import subprocess
import sys

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATASETS_DIR = os.path.join(REPO_ROOT, "datasets")
if DATASETS_DIR not in sys.path:
    sys.path.insert(0, DATASETS_DIR)

from needlegen import generate as G  # noqa: E402
from needlegen import kinds as K  # noqa: E402
from needlegen import procedural as P  # noqa: E402
from needlegen.schema import Param  # noqa: E402

RECORD_KEYS = ["id", "category", "call_type", "query", "tools", "answers"]
NO_CALL_TYPES = {"none", "near_miss", "no_tools"}
COUNT = 3000


@pytest.fixture(scope="module")
def generator():
    return P.load_generator()


@pytest.fixture(scope="module")
def plan(generator):
    return generator.plan


@pytest.fixture(scope="module")
def records(generator):
    return P.generate(COUNT, seed=0, generator=generator, trace=True)


def normalized(text):
    return " ".join(G.words(text))


def test_same_seed_same_records_other_seed_other_records(generator):
    first = P.generate(150, seed=3, generator=generator)
    assert first == P.generate(150, seed=3, generator=P.load_generator())
    assert [r["query"] for r in first] != [r["query"] for r in P.generate(150, seed=4, generator=generator)]


def test_cli_writes_the_same_records_as_jsonl(tmp_path, generator):
    out = tmp_path / "procedural.jsonl"
    run = subprocess.run([sys.executable, os.path.join(DATASETS_DIR, "generate.py"), "--procedural", "40",
                          "--seed", "7", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == P.generate(40, seed=7, generator=generator)
    bad = subprocess.run([sys.executable, os.path.join(DATASETS_DIR, "generate.py"), "--procedural", "3",
                          "--out", str(tmp_path / "missing" / "x.jsonl")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "No such file or directory" in bad.stderr


def value_matches(value, param):
    if param["type"] == "array":
        return isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
    return K.value_matches_type(value, param["type"])


def test_every_record_is_valid_for_the_trainer(records):
    ids = set()
    for record in records:
        assert list(record)[:6] == RECORD_KEYS
        assert record["id"] not in ids and record["category"] == P.CATEGORY and record["query"].strip()
        ids.add(record["id"])
        tools = {tool["name"]: tool for tool in record["tools"]}
        assert len(tools) == len(record["tools"]), "tool names repeat within a list"
        assert (len(tools) == 0) == (record["call_type"] == "no_tools")
        assert len(tools) <= G.MAX_TOOLS_PER_EXAMPLE
        expected = 0 if record["call_type"] in NO_CALL_TYPES else 2 if record["call_type"] == "multi" else 1
        assert len(record["answers"]) == expected, record
        for tool in record["tools"]:
            assert list(tool) == ["name", "description", "parameters"] and G.NAME_RE.match(tool["name"])
            for param in tool["parameters"].values():
                assert param["type"] in ("string", "number", "integer", "boolean", "array")
                assert isinstance(param["required"], bool) and param["description"]
                if "enum" in param:
                    assert param["enum"] and all(value_matches(v, param) for v in param["enum"])
        for answer in record["answers"]:
            params = tools[answer["name"]]["parameters"]
            arguments = answer["arguments"]
            assert list(arguments) == [p for p in params if p in arguments], "arguments out of the listed order"
            assert all(p in arguments for p, spec in params.items() if spec["required"]), record
            for name, value in arguments.items():
                assert value_matches(value, params[name]), (record["id"], name, value)
                if "enum" in params[name]:
                    assert value in params[name]["enum"], (record["id"], name, value)


def test_invented_text_values_can_be_copied_from_the_query(records):
    checked = 0
    for record in records:
        query = record["query"].lower()
        for answer in record["answers"]:
            for name, value in answer["arguments"].items():
                if record["_kinds"][answer["name"]][name].startswith(("invented:", "array:")):
                    for item in value if isinstance(value, list) else [value]:
                        assert item.lower() in query, (record["query"], name, item)
                        checked += 1
    assert checked > COUNT // 3  # not vacuous: about half the records carry a text value


def test_every_call_type_and_every_list_length_on_both_sides(records):
    lengths = {"call": set(), "no call": set()}
    for record in records:
        if record["call_type"] != "no_tools":
            lengths["no call" if record["call_type"] in NO_CALL_TYPES else "call"].add(len(record["tools"]))
    assert lengths["call"] == lengths["no call"] == set(range(1, G.MAX_TOOLS_PER_EXAMPLE + 1))
    assert {r["call_type"] for r in records} == set(G.CALL_TYPES)


def test_tools_are_too_many_to_memorise_and_never_a_catalog_tool(records, plan):
    names = [tool["name"] for record in records for tool in record["tools"]]
    assert len(set(names)) > 0.6 * len(names), (len(set(names)), len(names))
    assert not set(names) & set(plan.by_name)


def test_near_miss_decoys_look_close(records):
    """A near-miss list holds a tool whose verb (said in any of its request words) or object or
    domain the request names."""
    request_words = {verb[0]: verb[2] for verb in P.VERBS}
    near = [r for r in records if r["call_type"] == "near_miss"]
    assert len(near) > COUNT // 20

    def looks_close(tool, text):
        verb, *rest = tool["name"].split("_")
        said = any(f" {normalized(w)} " in f" {text} " for w in request_words[verb])
        return said or bool(set(rest) & set(text.split()))

    for record in near:
        text = normalized(record["query"])
        assert any(looks_close(tool, text) for tool in record["tools"]), record


def held_out_template_patterns(plan):
    """(template, fixed word pieces, short): a short template has fewer than 3 fixed words."""
    out = []
    for entry in plan.held_out_templates().values():
        for template in entry["test"]:
            pieces = [normalized(piece) for piece in G.SLOT_RE.split(template)[::2]]
            out.append((template, pieces, sum(len(p.split()) for p in pieces) < 3))
    return out


def contains_in_order(text, pieces):
    """Whether the non-empty pieces occur in `text` in order, as whole words."""
    position = 0
    padded = f" {text} "
    for piece in pieces:
        if not piece:
            continue
        found = padded.find(f" {piece} ", position)
        if found < 0:
            return False
        position = found + len(piece) + 1
    return True


def test_no_held_out_template_reaches_a_query(records, plan):
    patterns = held_out_template_patterns(plan)
    assert len(patterns) > 500
    for record in records:
        text = normalized(record["query"])
        for template, pieces, short in patterns:
            if short:
                # Whole-query match only: two words like "dial" or "reply" occur in any request.
                if not (text.startswith(pieces[0]) and text.endswith(pieces[-1]) and contains_in_order(text, pieces)):
                    continue
                regex = r"\S+(?: \S+)*".join(re.escape(p) if p else "" for p in pieces)
                assert not re.fullmatch(regex.replace("  ", " "), text), (record["query"], template)
            else:
                if contains_in_order(text, pieces):
                    regex = r" \S+(?: \S+)* ".join(re.escape(p) for p in pieces if p)
                    assert not re.search(rf"(?:^| ){regex}(?: |$)", text), (record["query"], template)


def test_no_held_out_value_reaches_a_record(records, plan):
    guard = G.TextGuard(plan.held_out_text_values())
    assert len(plan.held_out_text_values()) > 100
    kinds = {}
    typed = 0
    for record in records:
        assert not guard.find(record["query"]), (record["query"], guard.find(record["query"]))
        for answer in record["answers"]:
            for name, value in answer["arguments"].items():
                spec = record["_kinds"][answer["name"]][name]
                family = spec.split(":")[0]
                if family in ("invented", "array"):
                    for item in value if isinstance(value, list) else [value]:
                        assert not guard.find(item), (record["id"], item)
                elif family not in ("enum", "bool"):
                    # Numbers, times, dates: the train side of the catalog's kind of the same spec.
                    if spec not in kinds:
                        json_type = "number" if isinstance(value, float) else "integer" if isinstance(value, int) \
                            else "string"
                        kinds[spec] = K.make_kind(Param("x", json_type, "x", spec), {})
                    assert not kinds[spec].is_held_out(value), (record["id"], spec, value)
                    typed += 1
    assert typed > COUNT // 2


def test_no_held_out_framing_phrase_in_the_grammar_or_a_query(generator, plan, records):
    held = plan.phrases[True]
    held_phrases = set(held.wrappers + held.verb_wrappers + held.joiners + held.fillers + held.corrections
                       + held.restarts)
    grammar = set(generator.wrappers + generator.joiners + generator.fillers + generator.corrections
                  + generator.restarts) | {f.replace("{r}", "{q}") for f in generator.frames}
    assert not grammar & held_phrases
    assert not {P.phrase_key(p) for p in grammar} & {P.phrase_key(p) for p in held_phrases}
    keys = [P.phrase_key(p) for p in held_phrases if len(P.phrase_key(p).split()) >= 2]
    for record in records:
        padded = f" {normalized(record['query'])} "
        assert not [k for k in keys if f" {k} " in padded], record["query"]


def test_the_guard_flags_test_split_queries(generator, repo_root):
    """The generator's own guard recognises needle15's test queries (all but wrapped short templates)."""
    with open(os.path.join(repo_root, "datasets", "needle15", "test.jsonl"), encoding="utf-8") as handle:
        queries = [json.loads(line)["query"] for line in handle]
    caught = sum(bool(generator.guard.find(q)) for q in queries)
    assert caught >= 0.95 * len(queries), caught
