"""The needlebench Python module against the C++ command-line tools it wraps.

Skipped when the module is not built, unless NEEDLE_REQUIRE_BIN=1 (CI) asks for a failure instead. The
package is imported from $NEEDLEBENCH_PYTHON_DIR, else from python/ beside $NEEDLE_BIN (build/release/python).
"""

import importlib
import json
import math
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from conftest import DEFAULT_BIN, REPO_ROOT

WEATHER_TOOLS_FILE = os.path.join(REPO_ROOT, "models", "examples", "weather_tools.json")
NEEDLE15_TEST = "needle:" + os.path.join(REPO_ROOT, "datasets", "needle15", "test.jsonl")
QUERIES = [
    "What's the weather like in San Francisco right now?",
    "set a timer for 10 minutes",
    "text Sam that I am running late",
    "tell me a joke",
]


def import_needlebench():
    """The compiled package from the build directory, or a skip (a failure under NEEDLE_REQUIRE_BIN=1)."""
    package_parent = os.environ.get("NEEDLEBENCH_PYTHON_DIR") or os.path.join(
        os.path.dirname(os.environ.get("NEEDLE_BIN") or DEFAULT_BIN), "python")
    # conftest puts the source tree's python/ first, whose needlebench has no compiled module, so the
    # build's directory goes in front of it even when PYTHONPATH already lists it further back.
    if package_parent in sys.path:
        sys.path.remove(package_parent)
    sys.path.insert(0, package_parent)
    sys.modules.pop("needlebench", None)
    try:
        module = importlib.import_module("needlebench")
    except ImportError as error:
        if os.environ.get("NEEDLE_REQUIRE_BIN") == "1":
            pytest.fail(f"NEEDLE_REQUIRE_BIN=1 but needlebench does not import from {package_parent}: {error}")
        pytest.skip(f"needlebench not built in {package_parent}: {error}")
    if not os.path.dirname(module.__file__).startswith(package_parent):
        pytest.fail(f"imported {module.__file__}, not the build's package under {package_parent}")
    return module


@pytest.fixture(scope="module")
def nb():
    return import_needlebench()


@pytest.fixture(scope="module")
def model(nb):
    return nb.load()


@pytest.fixture(scope="module")
def weather_tools():
    with open(WEATHER_TOOLS_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def run_cli(needle_bin, *args):
    completed = subprocess.run([needle_bin, *args], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


# --- loading and the model's description ---------------------------------------------------------


def test_package_exports_and_constants(nb):
    assert nb.engine_names() == ["reference", "optimized"]
    assert nb.DEFAULT_MODEL_DIR == os.path.join(REPO_ROOT, "models", "default")
    assert (nb.PAD_ID, nb.EOS_ID, nb.TOOL_CALL_ID, nb.TOOLS_ID) == (0, 1, 4, 5)
    assert nb.snake_case("getWeather") == "get_weather"
    assert nb.snake_case("HTTPRequest") == "http_request"
    assert set(nb.__all__) <= set(dir(nb))


def test_load_by_directory_and_by_file_agree(nb, model):
    by_file = nb.load(nb.DEFAULT_MODEL)
    assert by_file.tokenizer_path == model.tokenizer_path
    # The default is the optimized engine, its "auto" precision resolved for this CPU.
    assert model.engine == "optimized" and model.precision in ("w8a8", "fp32")
    reference = nb.load(engine="reference")
    assert (reference.engine, reference.precision) == ("reference", "fp32")
    config = model.config
    assert config.vocab_size == model.tokenizer.vocab_size
    assert config.head_dim * config.num_heads == config.d_model
    assert config.num_parameters > 0
    assert "vocab_size" in repr(config)


def test_upstream_numerics_match_the_cli(nb, model, weather_tools, needle_bin):
    upstream = nb.load(engine="reference", numerics="upstream")
    assert upstream.numerics == "upstream" and model.numerics == "exact"
    encoder = model.tokenizer.encode(QUERIES[0])
    exact_logits, upstream_logits = model.logits(encoder, [1, 4]), upstream.logits(encoder, [1, 4])
    difference = np.abs(exact_logits - upstream_logits).max()
    assert 0 < difference < 1.0, "bf16 rounding moves the logits a little, never much"
    expected = run_cli(needle_bin, "run", "--json", "--engine", "reference", "--numerics", "upstream",
                       "--query", QUERIES[0],
                       "--tools", json.dumps(weather_tools))
    assert expected["numerics"] == "upstream"
    assert upstream.generate(QUERIES[0], weather_tools).tokens == expected["tokens"]
    with pytest.raises(ValueError, match='unknown numerics "bf16"'):
        nb.load(engine="reference", numerics="bf16")
    with pytest.raises(ValueError, match="no upstream numerics"):
        nb.load(engine="optimized", numerics="upstream")


# --- tokenizer ------------------------------------------------------------------------------------


def test_tokenizer_round_trip_and_standalone_load(nb, model):
    ids = model.tokenizer.encode("remind me to call mum at 5pm")
    assert ids and all(isinstance(i, int) for i in ids)
    assert model.tokenizer.decode(ids) == "remind me to call mum at 5pm"
    standalone = nb.Tokenizer(nb.DEFAULT_TOKENIZER)
    assert standalone.encode("remind me") == model.tokenizer.encode("remind me")
    assert standalone.id_to_piece(nb.TOOL_CALL_ID) == "<tool_call>"


def test_encode_prompt_matches_cli(model, needle_bin):
    tools = '[{"name":"getWeather","description":"d","parameters":{}}]'
    expected = run_cli(needle_bin, "tokenize", "--query", "hi there", "--tools", tools)
    prompt = model.encode_prompt("hi there", tools)
    assert prompt.tokens == expected["encoder_tokens"]
    assert prompt.query_tokens == expected["query_tokens"]
    assert not prompt.query_truncated and not prompt.tools_truncated
    # The tokenizer's own encode_prompt takes the tools text as given: no snake_case.
    assert model.tokenizer.encode_prompt("hi there", expected["tools_prompt_json"]).tokens == prompt.tokens


# --- generation -----------------------------------------------------------------------------------


def test_generate_matches_cli(model, weather_tools, needle_bin):
    expected = run_cli(needle_bin, "run", "--query", QUERIES[1], "--tools_file", WEATHER_TOOLS_FILE, "--json")
    result = model.generate(QUERIES[1], weather_tools)
    assert result.text == expected["call"]
    assert result.tokens == expected["tokens"]
    assert len(result.encoder_tokens) == expected["encoder_tokens"]
    assert result.stop == expected["stop"]
    assert result.prefill_seconds > 0 and result.decode_seconds > 0
    # Tools as JSON text give the same call as tools as Python objects.
    assert model.generate(QUERIES[1], json.dumps(weather_tools)).tokens == result.tokens


def test_generate_options(model, weather_tools, needle_bin):
    expected = run_cli(needle_bin, "run", "--query", QUERIES[0], "--tools_file", WEATHER_TOOLS_FILE, "--json",
                       "--noconstrained")
    assert model.generate(QUERIES[0], weather_tools, constrained=False).tokens == expected["tokens"]
    short = model.generate(QUERIES[0], weather_tools, max_new_tokens=3)
    assert len(short.tokens) == 3 and short.stop == "max_tokens"


def test_streaming_callback_sees_every_token(nb, model):
    # snake_case names, so the streamed text (names as generated) is the call as generated.
    tools = [{"name": "get_weather", "description": "Get the weather",
              "parameters": {"location": {"type": "string", "description": "City", "required": True}}}]
    streamed = []
    result = model.generate(QUERIES[0], tools, on_token=lambda token, text: streamed.append((token, text)))
    assert [token for token, _ in streamed] == result.tokens
    streamed_text = "".join(text for _, text in streamed)
    call = result.tokens[1:] if result.tokens[:1] == [nb.TOOL_CALL_ID] else result.tokens
    assert streamed_text == model.tokenizer.decode(call)
    # The final text is that call as upstream prints it.
    assert result.text == json.dumps(json.loads(streamed_text), separators=(",", ":"))


def test_streaming_callback_returning_false_stops(model, weather_tools):
    result = model.generate(QUERIES[0], weather_tools, on_token=lambda token, text: False)
    assert result.stop == "callback"
    assert len(result.tokens) == 1


class CallbackFailure(Exception):
    pass


def test_exception_in_streaming_callback_propagates(model, weather_tools):
    seen = []

    def explode(token, text):
        seen.append(token)
        raise CallbackFailure("stop here")

    with pytest.raises(CallbackFailure, match="stop here"):
        model.generate(QUERIES[0], weather_tools, on_token=explode)
    assert len(seen) == 1  # generation stopped at the first token
    assert model.generate(QUERIES[0], weather_tools, max_new_tokens=2).stop == "max_tokens"


def test_generate_batch_equals_sequential(model, weather_tools):
    sequential = [model.generate(query, weather_tools).tokens for query in QUERIES]
    streamed = {index: [] for index in range(len(QUERIES))}
    batch = model.generate_batch([(query, weather_tools) for query in QUERIES], parallel=2,
                                 on_token=lambda index, token, text: streamed[index].append(token))
    assert [result.tokens for result in batch] == sequential
    assert [streamed[index] for index in range(len(QUERIES))] == sequential


def test_generate_batch_propagates_callback_exception(model, weather_tools):
    def explode(index, token, text):
        raise CallbackFailure(f"request {index}")

    with pytest.raises(CallbackFailure, match="request"):
        model.generate_batch([(query, weather_tools) for query in QUERIES], parallel=2, on_token=explode)


def test_generate_from_python_threads_equals_sequential(nb, weather_tools):
    """One loaded model, many sessions: concurrent calls give the sequential calls' tokens."""
    model = nb.load(engine="optimized", threads=1)
    sequential = [model.generate(query, weather_tools).tokens for query in QUERIES]
    results = [None] * (2 * len(QUERIES))
    errors = []
    start = threading.Barrier(len(results))

    def worker(slot):
        try:
            start.wait()
            results[slot] = model.generate(QUERIES[slot % len(QUERIES)], weather_tools).tokens
        except Exception as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [sequential[slot % len(QUERIES)] for slot in range(len(results))]


# --- tensors --------------------------------------------------------------------------------------


def test_logits_and_encoder_states_match_cli(model, needle_bin):
    expected = run_cli(needle_bin, "logits", "--encoder_tokens", "7,8,9,10", "--decoder_tokens", "1,4,20")
    logits = model.logits([7, 8, 9, 10], [1, 4, 20])
    assert logits.dtype == np.float32 and logits.shape == (3, model.config.vocab_size)
    np.testing.assert_array_equal(logits, np.array(expected["logits"], dtype=np.float32))
    states = model.encoder_states(np.array([7, 8, 9, 10]))
    assert states.shape == (4, model.config.d_model)
    np.testing.assert_array_equal(states, np.array(expected["encoder_output"], dtype=np.float32))


def test_session_steps_equal_model_logits(model):
    session = model.new_session()
    session.prefill([7, 8, 9, 10])
    steps = np.stack([session.decode(token) for token in (1, 4, 20)])
    assert session.num_encoder_tokens == 4 and session.num_decoded_tokens == 3
    np.testing.assert_array_equal(steps, model.logits([7, 8, 9, 10], [1, 4, 20]))
    np.testing.assert_array_equal(session.encoder_output, model.encoder_states([7, 8, 9, 10]))
    session.prefill([7, 8])  # a new request on the same session starts from a clean decoder
    assert session.num_decoded_tokens == 0
    np.testing.assert_array_equal(session.decode(1), model.logits([7, 8], [1])[0])


def test_embeddings(model, weather_tools, needle_bin):
    expected = run_cli(needle_bin, "embed", "--encoder_tokens", "7,8,9")
    embedding = model.embed([7, 8, 9])
    assert embedding.shape == (model.config.retrieval_dim,)
    np.testing.assert_array_equal(embedding, np.array(expected["embedding"], dtype=np.float32))
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)

    np.testing.assert_array_equal(model.query_embedding(QUERIES[0]),
                                  model.embed(model.tokenizer.encode(QUERIES[0])))
    tools = model.tool_embeddings(weather_tools)
    assert tools.shape == (len(weather_tools), model.config.retrieval_dim)
    np.testing.assert_allclose(np.linalg.norm(tools, axis=1), 1.0, atol=1e-5)
    # Each tool is embedded alone: its row does not depend on the other tools.
    np.testing.assert_array_equal(model.tool_embeddings(weather_tools[1:2])[0], tools[1])


def test_retrieval_inputs_follow_upstream(model):
    # Upstream cuts each text to 256 tokens and encodes a tool with its own name.
    query = " ".join(f"word{i}" for i in range(400))
    tokens = model.tokenizer.encode(query)
    assert len(tokens) > 256
    np.testing.assert_array_equal(model.query_embedding(query), model.embed(tokens[:256]))
    tool = {"name": "getWeather", "description": "caf\u00e9 " * 200, "parameters": {}}
    text = json.dumps(tool, separators=(",", ":"))
    assert '"name":"getWeather"' in text
    tool_tokens = model.tokenizer.encode(text)
    assert len(tool_tokens) > 256
    np.testing.assert_array_equal(model.tool_embeddings([tool])[0], model.embed(tool_tokens[:256]))


# --- errors ---------------------------------------------------------------------------------------


def test_errors_carry_the_cpp_message(nb, model, tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot open"):
        nb.load(str(tmp_path / "missing.safetensors"), tokenizer=nb.DEFAULT_TOKENIZER)
    with pytest.raises(ValueError, match='unknown engine "nope"'):
        nb.load(engine="nope")
    with pytest.raises(ValueError, match=r"tools\[0\]\.name: expected a non-empty string"):
        model.generate("hi", [{"nam": 1}])
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate("hi", "[]", max_new_tokens=0)
    with pytest.raises(ValueError):
        model.logits([model.config.vocab_size], [1])
    with pytest.raises(ValueError):
        model.new_session().prefill([])
    with pytest.raises(ValueError, match=r"requests\[1\]"):
        model.generate_batch([("hi", "[]"), ("hi", "not json")])
    with pytest.raises(FileNotFoundError):
        nb.load_dataset(str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError):
        nb.System.from_spec("nosuchkind")
    with pytest.raises(TypeError):
        model.generate("hi", "[]", on_token=1)


def test_out_of_range_ids_are_value_errors(model):
    tokenizer = model.tokenizer
    vocab = tokenizer.vocab_size
    with pytest.raises(ValueError, match=rf"ids\[1\]: id {vocab} is out of range \[0, {vocab}\)"):
        tokenizer.decode([5, vocab])
    with pytest.raises(ValueError, match=r"ids\[0\]: id -1 is out of range"):
        tokenizer.decode([-1])
    with pytest.raises(ValueError, match=rf"id {vocab} is out of range"):
        tokenizer.id_to_piece(vocab)
    assert tokenizer.id_to_piece(5) == "<tools>"


FIRST_NUMPY_CALLS_FROM_TWO_THREADS = """
import sys, threading
sys.path.insert(0, sys.argv[1])
import needlebench as nb
model = nb.load()
tokens = model.tokenizer.encode("weather in Paris")
calls = [lambda: model.logits(tokens, [1]), lambda: model.embed(tokens),
         lambda: model.new_session().prefill(tokens)]
threads = [threading.Thread(target=call) for call in calls[:2]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("done")
"""


def test_first_numpy_calls_from_two_threads_do_not_deadlock(nb):
    # Deadlocked every time: each interpreter makes its first NumPy-returning call once, so a fresh one is started.
    package_parent = os.path.dirname(os.path.dirname(nb.__file__))
    for _ in range(3):
        completed = subprocess.run([sys.executable, "-c", FIRST_NUMPY_CALLS_FROM_TWO_THREADS, package_parent],
                                   capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip() == "done"


# --- datasets, evals ------------------------------------------------------------------------------


def test_load_dataset(nb):
    dataset = nb.load_dataset(NEEDLE15_TEST, limit=20)
    assert dataset.name == "test" and len(dataset) == 20 and dataset.errors == []
    item = dataset.items[0]
    assert item.id and item.category and item.call_type and item.query
    assert isinstance(json.loads(item.tools_json), list)
    single = next(item for item in dataset.items if item.call_type == "single")
    assert len(single.answers) == 1 and set(single.answers[0]) == {"name", "params"}


def test_limit_takes_a_fraction_and_a_seed_as_needle_eval_does(nb, needle_bin, tmp_path):
    total = len(nb.load_dataset(NEEDLE15_TEST))
    tenth = nb.load_dataset(NEEDLE15_TEST, limit=0.1)
    assert len(tenth) == math.ceil(total / 10)
    assert [item.id for item in tenth] == [item.id for item in nb.load_dataset(NEEDLE15_TEST)][:len(tenth)]

    # The same items as needle-eval's --limit 0.1 --sample_seed 7: one implementation behind both.
    needle_eval = os.path.join(os.path.dirname(needle_bin), "needle-eval")
    out = tmp_path / "cli"
    subprocess.run([needle_eval, "--system", "keyword", "--dataset", NEEDLE15_TEST, "--limit", "0.1",
                    "--sample_seed", "7", "--progress=false", "--out", str(out)], check=True, capture_output=True)
    with open(out / "predictions.jsonl", encoding="utf-8") as handle:
        cli_ids = [json.loads(line)["id"] for line in handle]
    sampled = nb.load_dataset(NEEDLE15_TEST, limit=0.1, seed=7)
    assert [item.id for item in sampled] == cli_ids
    assert cli_ids != [item.id for item in tenth]  # drawn at random, not the first ones
    run = nb.evaluate("keyword", NEEDLE15_TEST, limit=0.1, seed=7)
    assert [item["id"] for item in run.items] == cli_ids

    for bad, message in [(dict(limit=1.5), "limit must be 0, a fraction in (0, 1) or a whole count, got 1.5"),
                         (dict(limit=-0.1), "limit must be"), (dict(limit=0.5, seed=-1), "seed must be >= 0")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            nb.load_dataset(NEEDLE15_TEST, **bad)


def test_run_eval_matches_needle_eval(nb, model, needle_bin, tmp_path):
    needle_eval = os.path.join(os.path.dirname(needle_bin), "needle-eval")
    out = tmp_path / "cli"
    subprocess.run([needle_eval, "--system", "keyword", "--system", "needle", "--dataset", NEEDLE15_TEST,
                    "--limit", "12", "--parallel", "2", "--progress=false", "--out", str(out)],
                   check=True, capture_output=True)
    with open(out / "report.json", encoding="utf-8") as handle:
        expected = json.load(handle)

    progress = []
    run = nb.evaluate(["keyword", nb.System.from_model(model, name="needle-optimized")], NEEDLE15_TEST, limit=12,
                      parallel=2, on_result=lambda done, total, record: progress.append((done, total)))
    assert run.systems == ["keyword", "needle-optimized"]
    assert sorted(progress) == [(done, 24) for done in range(1, 25)]
    for system in run.systems:
        ours, theirs = run.result(system), next(r for r in expected["results"] if r["system"] == system)
        assert ours["overall"] == theirs["overall"]
        assert ours["by_category"] == theirs["by_category"]
    assert len(run.items) == 24
    assert sum(item["exact_match"] for item in run.items if item["system"] == "keyword") == \
        run.result("keyword")["overall"]["exact_match"]["successes"]
    assert "keyword" in run.markdown() and run.html().lstrip().lower().startswith("<!doctype html")
    with pytest.raises(KeyError):
        run.result("nobody")


def oracle(item):
    """A Python adapter that answers with the first acceptable value of every parameter."""
    calls = []
    for answer in item.answers:
        arguments = {key: values[0] for key, values in answer["params"].items() if values and values[0] != ""}
        calls.append({"name": answer["name"], "arguments": arguments})
    return json.dumps(calls)


def test_python_callable_systems(nb):
    dataset = nb.load_dataset(NEEDLE15_TEST, limit=15)

    def broken(item):
        raise RuntimeError("adapter down")

    run = nb.evaluate([oracle, nb.System.from_callable("broken", broken)], dataset, parallel=2)
    assert run.result("oracle")["overall"]["exact_match"]["value"] == 1.0
    broken_items = [item for item in run.items if item["system"] == "broken"]
    assert all("adapter down" in item["request_error"] for item in broken_items)
    assert run.result("broken")["latency_ms"]["failed_requests"] == 15
    structured = nb.System.from_callable("structured", lambda item: {"text": "[]", "ttft_ms": 1.5, "output_tokens": 2})
    wrong_type = nb.System.from_callable("wrong_type", lambda item: 42)
    run = nb.evaluate([structured, wrong_type], dataset, parallel=1)
    assert {(item["ttft_ms"], item["output_tokens"]) for item in run.items if item["system"] == "structured"} == \
        {(1.5, 2)}
    assert all("must return a str" in item["request_error"] for item in run.items if item["system"] == "wrong_type")
    with pytest.raises(TypeError):
        nb.System.from_callable("not_callable", 3)
    prediction = nb.System.from_callable("oracle", oracle).predict(dataset.items[0])
    assert prediction["text"] == oracle(dataset.items[0]) and prediction["latency_ms"] >= 0
    assert prediction["input_truncated"] is False


def test_on_result_exception_propagates(nb):
    def explode(done, total, record):
        raise CallbackFailure("progress failed")

    with pytest.raises(CallbackFailure, match="progress failed"):
        nb.evaluate("keyword", NEEDLE15_TEST, limit=3, on_result=explode)


# --- bench ----------------------------------------------------------------------------------------


def test_run_bench_rows_have_needle_bench_fields(nb, needle_bench_bin):
    cli_rows = json.loads(subprocess.run(
        [needle_bench_bin, "-p", "8", "-n", "4", "-r", "1", "--warmup", "0", "-t", "1", "-e", "reference",
         "-P", "fp32", "-o", "json"], check=True, capture_output=True, text=True).stdout)
    lines = []
    rows = nb.run_bench(n_prompt=[8], n_gen=[4], threads=[1], repetitions=1, warmup=0, engines=["reference"],
                        precisions=["fp32"], progress=lines.append)
    assert [row["test"] for row in rows] == [row["test"] for row in cli_rows] == ["pp8", "tg4 @ d64"]
    assert all(list(row) == list(cli_row) for row, cli_row in zip(rows, cli_rows))
    assert all(row["avg_ts"] > 0 and len(row["samples_ts"]) == 1 for row in rows)
    assert lines, "progress heard nothing"
    table = nb.format_bench_rows(rows, "md")
    assert "pp8" in table and "tg4 @ d64" in table
    assert json.loads(nb.format_bench_rows(rows, "json")) == rows
    with pytest.raises(ValueError):
        nb.format_bench_rows(rows, "xml")
    # Threads default to all cores, as needle-bench's -t does.
    default_threads = nb.run_bench(n_prompt=[8], n_gen=[0], repetitions=1, warmup=0, engines=["optimized"],
                                   precisions=["fp32"])
    assert [row["n_threads"] for row in default_threads] == [os.cpu_count()]
    with pytest.raises(ValueError):
        nb.run_bench(engines=["nope"], n_prompt=[8], n_gen=[0], repetitions=1)


def test_run_bench_depths_peers_and_html(nb, tmp_path):
    peer = tmp_path / "peer.sh"
    peer.write_text('#!/bin/sh\necho \'{"runtime": "fixed 1", "engine": "fixed", "precision": "fp32", '
                    '"samples_ns": [1000000], "samples_ttft_ms": [1.0], "peak_rss_bytes": -1}\'\n')
    peer.chmod(0o755)
    rows = nb.run_bench(n_prompt=[0], n_gen=[4], n_depth=[8, 16], threads=[1], repetitions=1, warmup=0,
                        engines=["reference"], precisions=["fp32"], peers=[f"fixed={peer}"])
    assert [(row["runtime"], row["test"]) for row in rows] == [
        ("needle", "tg4 @ d8"), ("needle", "tg4 @ d16"), ("fixed 1", "tg4 @ d8"), ("fixed 1", "tg4 @ d16")]
    assert rows[2]["avg_ts"] == pytest.approx(4000.0)  # 4 steps in the peer's 1 ms
    assert "x ref" in nb.format_bench_rows(rows, "md")
    assert "<svg" in nb.format_bench_rows(rows, "html")
    with pytest.raises(ValueError):
        nb.run_bench(n_prompt=[0], n_gen=[4], n_depth=[0], repetitions=1)


def test_run_bench_warns_of_a_failing_peer_and_keeps_the_other_rows(nb):
    with pytest.warns(RuntimeWarning, match="peer broken"):
        rows = nb.run_bench(n_prompt=[8], n_gen=[0], threads=[1], repetitions=1, warmup=0, engines=["reference"],
                            precisions=["fp32"], peers=["broken=exit 2"])
    assert [row["runtime"] for row in rows] == ["needle"]


# --- as a notebook uses it --------------------------------------------------------------------------


def test_stream_is_an_iterator_with_the_callers_names(nb, weather_tools):
    camel = [dict(tool, name="getWeather" if tool["name"] == "get_weather" else tool["name"]) for tool in weather_tools]
    with nb.load() as model:
        stream = model.stream(QUERIES[0], camel, max_new_tokens=40)
        pieces = list(stream)
        assert stream.result is not None and len(pieces) > 1
        called = model.generate(QUERIES[0], camel, max_new_tokens=40, on_token=lambda token, text: True)
        assert stream.result.tokens == called.tokens
        joined = "".join(pieces)
        assert "get_weather" not in joined, "the stream carries the caller's names"
        if called.calls:
            assert [call["name"] for call in called.calls][0] in {tool["name"] for tool in camel}
        # Leaving early stops generation.
        early = model.stream(QUERIES[0], camel, max_new_tokens=40)
        next(early)
        early.close()
        assert early.result.stop in ("callback", "eos", "max_tokens")


def test_generate_result_calls_are_parsed(nb, model):
    tools = [{"name": "ping", "description": "Ping a host", "parameters": {}}]
    result = model.generate("ping the router", tools, max_new_tokens=40)
    assert result.calls is None or isinstance(result.calls, list)
    if result.calls is not None:
        assert all(set(call) == {"name", "arguments"} for call in result.calls)
        assert json.loads(result.text) == result.calls


def test_dataset_iterates_and_eval_run_shows_and_saves(nb, needle_bin, tmp_path):
    dataset = nb.load_dataset(NEEDLE15_TEST, limit=5)
    assert [item.id for item in dataset] == [item.id for item in dataset.items]
    assert dataset[-1].id == dataset.items[4].id
    with pytest.raises(IndexError):
        dataset[5]
    run = nb.evaluate(["keyword"], [dataset])
    assert repr(run) == f"EvalRun(systems=[keyword], datasets=[{dataset.name}], items=5)"
    assert run._repr_html_() == run.html()
    run.save(str(tmp_path / "saved"))
    assert json.loads((tmp_path / "saved" / "report.json").read_text())["results"] == run.report["results"]
    assert len((tmp_path / "saved" / "predictions.jsonl").read_text().splitlines()) == 5
    # needle-eval scores the saved predictions again to the same report.
    needle_eval = os.path.join(os.path.dirname(needle_bin), "needle-eval")
    subprocess.run([needle_eval, "score", "--predictions", str(tmp_path / "saved" / "predictions.jsonl"),
                    "--dataset", NEEDLE15_TEST, "--limit", "5", "--out", str(tmp_path / "rescored")],
                   check=True, capture_output=True)
    assert json.loads((tmp_path / "rescored" / "report.json").read_text())["results"] == run.report["results"]


def test_server_in_a_with_block(nb):
    import urllib.request
    with nb.serve("--max_new_tokens", "8", "--parallel", "1") as server:
        with urllib.request.urlopen(server.url + "/health", timeout=30) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        assert server.system_spec == "openai:" + server.url
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/health", timeout=5)
