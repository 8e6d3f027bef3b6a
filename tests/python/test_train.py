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


def test_snake_case_matches_engine_rule():
    cases = {"getWeather": "get_weather", "GetWeather": "get_weather", "get-weather": "get_weather",
             "get.weather": "get_weather", "HTTPRequest": "http_request", "set__timer": "set_timer",
             "already_snake": "already_snake", "v2Api": "v2_api"}
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
