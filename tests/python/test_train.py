"""The PyTorch trainer: the model matches the NumPy reference, prompts match the C++ layout,
and a short training run lowers the loss and exports a checkpoint NumPy runs identically.

Skipped when PyTorch is not installed. Kept small: a tiny config, a few dozen steps.
"""

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
spm = pytest.importorskip("sentencepiece")

import needle_convert as nc  # noqa: E402
import needle_numpy as nn  # noqa: E402
import needle_tokenizer_build as needle_prompt  # noqa: E402
import needle_torch as nt  # noqa: E402
import needle_train as tr  # noqa: E402

TINY = {"vocab_size": 8192, "d_model": 32, "num_heads": 2, "num_kv_heads": 1,
        "num_encoder_layers": 1, "num_decoder_layers": 1, "rope_theta": 10000}

TOOLS = [
    {"name": "set_timer", "description": "Start a countdown timer.",
     "parameters": {"duration_minutes": {"type": "integer", "description": "Minutes.", "required": True}}},
    {"name": "sendMessage", "description": "Send a text \u2709 to a contact.",
     "parameters": {"recipient": {"type": "string", "description": "Who.", "required": True},
                    "message": {"type": "string", "description": "Text.", "required": True}}},
]


def tiny_records(n):
    people = ["Sam", "Maria Lopez", "Jos\u00e9", "Priya"]
    records = []
    for i in range(n):
        if i % 3 == 0:
            query, answers = f"set a timer for {i % 50 + 1} minutes", [
                {"name": "set_timer", "arguments": {"duration_minutes": i % 50 + 1}}]
        elif i % 3 == 1:
            person = people[i % 4]
            query, answers = f"text {person} see you soon", [
                {"name": "sendMessage", "arguments": {"recipient": person, "message": "see you soon"}}]
        else:
            query, answers = "tell me a joke", []
        records.append({"id": f"t{i}", "category": "test", "call_type": "single", "query": query,
                        "tools": TOOLS, "answers": answers})
    return records


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def sp(default_model_dir):
    return spm.SentencePieceProcessor(model_file=os.path.join(default_model_dir, "tokenizer.model"))


def test_torch_logits_equal_numpy_reference(tmp_path):
    config = {"vocab_size": 300, "d_model": 64, "num_heads": 4, "num_kv_heads": 2,
              "num_encoder_layers": 2, "num_decoder_layers": 2, "rope_theta": 10000}
    path = str(tmp_path / "r.safetensors")
    nc.write_random_checkpoint(path, config, seed=5)
    cfg, params = nn.load(path)
    model = nt.NeedleModel.load(path)
    rng = np.random.default_rng(0)
    encs = [list(rng.integers(6, 300, n)) for n in (23, 7)]
    decs = [[1] + list(rng.integers(6, 300, n)) for n in (5, 11)]
    with torch.no_grad():
        logits = model(nt.pad_batch(encs), nt.pad_batch(decs, pad=9)).numpy()
    for i in range(2):
        want = nn.decoder_logits(params, cfg, nn.encode(params, cfg, encs[i]), decs[i])
        got = logits[i, :len(decs[i])]
        assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
        assert (got.argmax(-1) == want.argmax(-1)).all()
    assert model.greedy(nt.pad_batch(encs[:1]), max_new=12)[0] == nn.greedy(params, cfg, encs[0], 12)


@pytest.mark.skipif(not nt.FUSED_ATTENTION_AVAILABLE, reason="PyTorch before 2.5 has no fused grouped attention")
def test_fused_attention_computes_what_the_explicit_one_does(tmp_path):
    # Padded encoder inputs and decoder rows (the masks), grouped K/V heads, gradients and the
    # cached decode steps greedy uses: the trainer's fast path must be the same network.
    config = {"vocab_size": 300, "d_model": 64, "num_heads": 4, "num_kv_heads": 2,
              "num_encoder_layers": 2, "num_decoder_layers": 2, "rope_theta": 10000}
    path = str(tmp_path / "r.safetensors")
    nc.write_random_checkpoint(path, config, seed=6)
    rng = np.random.default_rng(1)
    enc = nt.pad_batch([list(rng.integers(6, 300, n)) for n in (31, 9, 17)])
    dec = nt.pad_batch([[1] + list(rng.integers(6, 300, n)) for n in (4, 12, 7)], pad=9)
    results = []
    for fused in (False, True):
        model = nt.NeedleModel.load(path)
        model.fused_attention = fused
        logits = model(enc, dec)
        logits.square().mean().backward()
        grads = {name: param.grad.clone() for name, param in model.named_parameters()
                 if param.grad is not None}  # the retrieval head takes no part in the logits
        results.append((logits.detach(), grads, model.greedy(enc, max_new=10)))
    (explicit, explicit_grads, explicit_greedy), (fused, fused_grads, fused_greedy) = results

    def close(got, want):  # float rounding only: the sums run in another order
        return float((got - want).abs().max()) <= 1e-4 * float(want.abs().max()) + 1e-7

    assert close(fused, explicit)
    assert fused_grads.keys() == explicit_grads.keys()
    for name, grad in explicit_grads.items():
        assert close(fused_grads[name], grad), name
    assert fused_greedy == explicit_greedy


def test_snake_case_matches_engine_rule():
    cases = {"getWeather": "get_weather", "GetWeather": "get_weather", "get-weather": "get_weather",
             "get.weather": "get_weather", "HTTPRequest": "http_request", "set__timer": "set_timer",
             "already_snake": "already_snake", "v2Api": "v2_api",
             # upstream's rule for every other character, and for the edges
             "get/weather": "get_weather", "ns:tool": "ns_tool", "tool(v2)": "tool_v2",
             "get_weather_": "get_weather", "caf\u00e9_info": "caf_info", "_private": "private"}
    for name, want in cases.items():
        assert needle_prompt.snake_case(name) == want, name


def test_prompt_and_decoder_pair(sp):
    enc = nt.encode_prompt(sp, "text Sam hi", TOOLS)
    assert enc.count(nt.TOOLS_ID) == 1
    tools_json = needle_prompt.tools_json(TOOLS)
    assert '"name":"send_message"' in tools_json and "\\u2709" in tools_json
    assert enc == sp.encode("text Sam hi") + [nt.TOOLS_ID] + sp.encode(tools_json)
    answers = [{"name": "sendMessage", "arguments": {"recipient": "Jos\u00e9", "message": "hi"}}]
    dec_in, target = nt.decoder_pair(sp, answers)
    assert dec_in[:2] == [nt.EOS_ID, nt.TOOL_CALL_ID] and target[-1] == nt.EOS_ID
    assert dec_in[1:] == target[:-1]
    assert sp.decode(target[1:-1]) == '[{"name":"send_message","arguments":{"recipient":"Jos\u00e9","message":"hi"}}]'
    weights = tr.target_weights(sp, answers, target, 3.0)
    assert weights[0] == 1.0 and weights[-1] == 1.0 and 3.0 in weights
    weighted = sp.decode([t for t, w in zip(target, weights) if w == 3.0])
    assert "send" in weighted and "Jos\u00e9" in weighted and "arguments" not in weighted


def test_long_prompt_is_cut_like_the_engine(sp):
    long_query = "timer " * 1500
    enc = nt.encode_prompt(sp, long_query, TOOLS)
    assert len(enc) == nt.MAX_ENCODER_TOKENS
    assert enc[nt.MAX_QUERY_TOKENS] == nt.TOOLS_ID


def test_short_training_run_lowers_loss_and_exports(tmp_path, default_model_dir):
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    write_jsonl(train, tiny_records(48))
    write_jsonl(dev, tiny_records(12))
    out = tmp_path / "run"
    argv = ["--train", str(train), "--dev", str(dev), "--out", str(out), "--threads", "1",
            "--tokenizer", os.path.join(default_model_dir, "tokenizer.model"),
            "--config-json", json.dumps(TINY), "--steps", "30", "--warmup-steps", "5", "--lr", "3e-3",
            "--tokens-per-batch", "2000", "--max-batch", "16", "--evals", "1", "--dev-greedy-n", "4",
            "--name-value-weight", "2", "--log-every", "100"]
    assert tr.main(argv) == 0
    log = json.loads((out / "train_log.json").read_text())
    losses = [s["loss"] for s in log["steps"]]
    assert log["total_steps"] == 30 and len(losses) == 30
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0
    assert log["wall_seconds"] > 0 and log["evals"]

    for name in ("needle.safetensors", "best.safetensors"):
        assert nc.read_checkpoint_config(str(out / name)) == nc.normalize_config(TINY)
    path = str(out / "needle.safetensors")
    cfg, params = nn.load(path)
    model = nt.NeedleModel.load(path)
    enc = nt.encode_prompt(spm.SentencePieceProcessor(
        model_file=os.path.join(default_model_dir, "tokenizer.model")), "set a timer for 5 minutes", TOOLS)
    dec = [nt.EOS_ID, nt.TOOL_CALL_ID, 300, 301]
    with torch.no_grad():
        got = model(torch.tensor([enc]), torch.tensor([dec]))[0].numpy()
    want = nn.decoder_logits(params, cfg, nn.encode(params, cfg, enc), dec)
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_same_seed_same_result(tmp_path, default_model_dir):
    train = tmp_path / "train.jsonl"
    write_jsonl(train, tiny_records(24))
    results = []
    for run in ("a", "b"):
        out = tmp_path / run
        argv = ["--train", str(train), "--out", str(out), "--threads", "1",
                "--tokenizer", os.path.join(default_model_dir, "tokenizer.model"),
                "--config-json", json.dumps(TINY), "--steps", "4", "--warmup-steps", "2",
                "--tokens-per-batch", "2000", "--max-batch", "8"]
        assert tr.main(argv) == 0
        results.append((out / "needle.safetensors").read_bytes())
    assert results[0] == results[1]


def test_paused_and_resumed_run_equals_an_uninterrupted_one(tmp_path, default_model_dir):
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    write_jsonl(train, tiny_records(40))
    write_jsonl(dev, tiny_records(6))

    def run(out, *extra):
        argv = ["--train", str(train), "--dev", str(dev), "--out", str(out), "--threads", "1",
                "--tokenizer", os.path.join(default_model_dir, "tokenizer.model"),
                "--config-json", json.dumps(TINY), "--steps", "9", "--warmup-steps", "2",
                "--tokens-per-batch", "1000", "--max-batch", "8", "--evals", "3", "--dev-greedy-n", "2",
                "--snapshots", *extra]
        assert tr.main(argv) == 0
        return json.loads((out / "train_log.json").read_text())

    straight = run(tmp_path / "straight")
    # Paused mid-epoch (40 records in batches of at most 8) and between evaluations, twice.
    first = run(tmp_path / "parts", "--pause-at-step", "4")
    assert first["paused"] and first["total_steps"] == 4 and (tmp_path / "parts" / "checkpoint.pt").exists()
    # The resumed run trains on the examples the run started with, whatever the data files say now.
    write_jsonl(train, tiny_records(3))
    run(tmp_path / "parts", "--resume", "--pause-at-step", "7")
    last = run(tmp_path / "parts", "--resume")
    assert not last["paused"] and not (tmp_path / "parts" / "checkpoint.pt").exists()
    assert not (tmp_path / "parts" / "examples.pkl").exists()
    for name in ("needle.safetensors", "best.safetensors"):
        assert (tmp_path / "parts" / name).read_bytes() == (tmp_path / "straight" / name).read_bytes()
    assert [s["loss"] for s in last["steps"]] == [s["loss"] for s in straight["steps"]]
    assert [e["dev_loss"] for e in last["evals"]] == [e["dev_loss"] for e in straight["evals"]]
    assert len(last["sessions"]) == 2
    snapshots = sorted(p.name for p in (tmp_path / "straight" / "snapshots").iterdir())
    assert snapshots == ["step-0000003.safetensors", "step-0000006.safetensors", "step-0000009.safetensors"]
    for name in snapshots:
        assert (tmp_path / "parts" / "snapshots" / name).read_bytes() == \
            (tmp_path / "straight" / "snapshots" / name).read_bytes()

    write_jsonl(train, tiny_records(40))
    with pytest.raises(SystemExit, match="different lr"):
        run(tmp_path / "parts2", "--pause-at-step", "2")
        run(tmp_path / "parts2", "--resume", "--lr", "1e-4")


def test_thin_distractors_keeps_answer_tools_and_the_record_otherwise():
    import random

    distractors = [{"name": f"tool_{i}", "description": "x", "parameters": {}} for i in range(8)]
    record = {"id": "r", "category": "c", "call_type": "multi", "query": "q",
              "tools": distractors[:3] + TOOLS + distractors[3:],
              "answers": [{"name": "set_timer", "arguments": {"duration_minutes": 5}},
                          {"name": "sendMessage", "arguments": {"recipient": "Sam", "message": "hi"}}]}
    rng = random.Random(0)
    sizes = set()
    for _ in range(50):
        thinned = tr.thin_distractors(record, rng)
        names = [tool["name"] for tool in thinned["tools"]]
        assert "set_timer" in names and "sendMessage" in names
        # Order kept: the kept tools appear as they did in the record.
        original = [tool["name"] for tool in record["tools"]]
        assert names == [name for name in original if name in names]
        assert {k: v for k, v in thinned.items() if k != "tools"} == {k: v for k, v in record.items() if k != "tools"}
        sizes.add(len(names))
    assert min(sizes) == 2 and max(sizes) == 10  # from no distractor to all of them
    assert len(record["tools"]) == 10  # the input record is not changed


def test_distractor_drop_spares_none_and_near_miss_records_by_default():
    import random

    records = []
    for call_type in ("single", "none", "near_miss", "no_tools", "indirect"):
        records.append({"id": call_type, "category": "c", "call_type": call_type, "query": "set a timer",
                        "tools": TOOLS + [{"name": f"extra_{i}", "description": "x", "parameters": {}}
                                          for i in range(6)],
                        "answers": [] if call_type in ("none", "no_tools") else
                        [{"name": "set_timer", "arguments": {"duration_minutes": 5}}]})
    thinned = tr.training_records(records, random.Random(3), distractor_drop=1.0)
    assert [r["id"] for r in thinned] == [r["id"] for r in records]
    for before, after in zip(records, thinned):
        assert after["answers"] == before["answers"]  # answers never change
        if before["call_type"] in ("none", "near_miss", "no_tools"):
            assert after is before
    assert sum(len(after["tools"]) for after in thinned) < sum(len(before["tools"]) for before in records)


@pytest.fixture(scope="module")
def catalog():
    return tr.load_catalog_tools()


def test_near_miss_decoys_finds_the_tool_related_to_the_request(catalog):
    by_name, related = catalog.by_name, catalog.related
    # A request for `plan` offered its declared near miss among tools unrelated to it, as the
    # generator builds a near_miss record.
    plan = next(p for p in by_name.values() if p.near_miss and p.near_miss[0].category != p.category)
    decoy = plan.near_miss[0]
    unrelated = [t for t in by_name.values() if not related(plan, t)][:5]
    tools = [{"name": t.name, "description": "", "parameters": {}} for t in unrelated[:2] + [decoy] + unrelated[2:]]
    record = {"id": "r", "category": plan.category, "call_type": "near_miss", "query": "q", "tools": tools,
              "answers": []}
    assert tr.near_miss_decoys(record, catalog) == {decoy.name}


def test_near_miss_decoys_of_a_procedural_record_keep_every_tool(catalog):
    # Procedural tools are in no catalog: thinning must not lose the decoy, so all of them count.
    record = next(r for r in tr.procedural_records(60, seed=1) if r["call_type"] == "near_miss")
    assert tr.near_miss_decoys(record, catalog) == {tool["name"] for tool in record["tools"]}


def test_procedural_records_train_alone_and_are_seeded(tmp_path, default_model_dir):
    assert tr.procedural_records(0, seed=0) == []
    assert tr.procedural_records(30, seed=2) == tr.procedural_records(30, seed=2)
    out = tmp_path / "run"
    argv = ["--procedural", "40", "--procedural-seed", "2", "--out", str(out), "--threads", "1",
            "--tokenizer", os.path.join(default_model_dir, "tokenizer.model"),
            "--config-json", json.dumps(TINY), "--steps", "3", "--warmup-steps", "1",
            "--tokens-per-batch", "3000", "--max-batch", "8"]
    assert tr.main(argv) == 0
    log = json.loads((out / "train_log.json").read_text())
    assert log["data"]["train"] == 40 and log["total_steps"] == 3
    assert all(np.isfinite(step["loss"]) for step in log["steps"])


@pytest.fixture(scope="module")
def dev_records(repo_root):
    with open(os.path.join(repo_root, "datasets", "needle15", "dev.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_near_miss_decoys_of_the_dev_split_are_one_listed_tool(dev_records, catalog):
    sizes = []
    for record in dev_records:
        if record["call_type"] == "near_miss":
            decoys = tr.near_miss_decoys(record, catalog)
            assert decoys <= {tool["name"] for tool in record["tools"]}, record["id"]
            sizes.append(len(decoys))
    assert sizes and min(sizes) >= 1
    assert sizes.count(1) >= 0.95 * len(sizes)


def no_call_share_by_length(records):
    short = [not r["answers"] for r in records if 1 <= len(r["tools"]) <= 3]
    long = [not r["answers"] for r in records if len(r["tools"]) >= 7]
    return sum(short) / len(short), sum(long) / len(long)


def test_thin_negatives_takes_the_length_cue_away(dev_records, catalog):
    import random

    records = [record for record in dev_records if record["call_type"] != "no_tools"]
    short, long = no_call_share_by_length(tr.training_records(records, random.Random(0), distractor_drop=0.6))
    assert long > 1.5 * short  # the cue the stage-7 model learnt (about twice as many no-calls)
    balanced = tr.training_records(records, random.Random(0), distractor_drop=0.6, thin_negatives=catalog)
    short, long = no_call_share_by_length(balanced)
    assert abs(long - short) < 0.05
    for before, after in zip((r for r in records if r["call_type"] == "near_miss"),
                             (r for r in balanced if r["call_type"] == "near_miss")):
        assert tr.near_miss_decoys(before, catalog) <= {tool["name"] for tool in after["tools"]}


def test_without_answer_follows_one_call_records_with_a_no_call_twin():
    import random

    extra = [{"name": f"extra_{i}", "description": "x", "parameters": {}} for i in range(4)]
    call = {"name": "set_timer", "arguments": {"duration_minutes": 5}}
    records = [{"id": call_type, "category": "c", "call_type": call_type, "query": "set a timer",
                "tools": TOOLS + extra, "answers": [call, {"name": "sendMessage", "arguments": {}}]
                if call_type == "multi" else [call]} for call_type in ("single", "multi", "indirect", "disfluent")]
    out = tr.training_records(records, random.Random(0), without_answer=1.0)
    assert [r["id"] for r in out] == ["single", "single-without", "multi", "indirect", "indirect-without",
                                      "disfluent", "disfluent-without"]
    twin = out[1]
    assert twin["answers"] == [] and twin["call_type"] == "none" and twin["query"] == records[0]["query"]
    assert [t["name"] for t in twin["tools"]] == [t["name"] for t in TOOLS + extra if t["name"] != "set_timer"]
    assert records[0]["answers"] == [call]  # the input record is not changed


def test_oversample_repeats_records_of_the_named_call_types():
    records = [{"id": str(i), "call_type": call_type}
               for i, call_type in enumerate(["single", "none", "near_miss", "none", "multi"])]
    factors = tr.parse_oversample(["none=3", "near_miss=2"])
    assert factors == {"none": 3, "near_miss": 2}
    ids = [record["id"] for record in tr.oversample(records, factors)]
    assert ids == ["0", "1", "1", "1", "2", "2", "3", "3", "3", "4"]
    assert tr.oversample(records, tr.parse_oversample(None)) == records


@pytest.mark.parametrize("bad", ["none", "none=0", "none=x", "nothing=2", "=2", "none=-1"])
def test_oversample_rejects_malformed_factors(bad):
    with pytest.raises(SystemExit, match="--oversample"):
        tr.parse_oversample([bad])


def test_init_continues_from_a_checkpoint(tmp_path, default_model_dir):
    train = tmp_path / "train.jsonl"
    write_jsonl(train, tiny_records(24))
    common = ["--train", str(train), "--threads", "1", "--tokenizer",
              os.path.join(default_model_dir, "tokenizer.model"), "--config-json", json.dumps(TINY),
              "--warmup-steps", "2", "--tokens-per-batch", "2000", "--max-batch", "8"]
    first = tmp_path / "first"
    assert tr.main(common + ["--out", str(first), "--steps", "20", "--lr", "3e-3"]) == 0
    second = tmp_path / "second"
    assert tr.main(common + ["--out", str(second), "--steps", "1", "--lr", "1e-9", "--seed", "1",
                             "--init", str(first / "needle.safetensors")]) == 0
    # With a negligible learning rate the continued model is the first one, not a fresh random init.
    a = nt.NeedleModel.load(str(first / "needle.safetensors")).to_flat()
    b = nt.NeedleModel.load(str(second / "needle.safetensors")).to_flat()
    assert max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in a) < 1e-4
    first_loss = json.loads((first / "train_log.json").read_text())["steps"][0]["loss"]
    second_loss = json.loads((second / "train_log.json").read_text())["steps"][0]["loss"]
    assert second_loss < first_loss - 1.0

    other = dict(TINY, d_model=64)
    with pytest.raises(SystemExit, match="differs from the run's"):
        tr.main(["--train", str(train), "--out", str(tmp_path / "bad"), "--threads", "1", "--tokenizer",
                 os.path.join(default_model_dir, "tokenizer.model"), "--config-json", json.dumps(other),
                 "--steps", "1", "--init", str(first / "needle.safetensors")])
