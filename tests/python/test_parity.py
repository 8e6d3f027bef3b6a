"""Parity of the C++ reference engine (the `needle` CLI) with the NumPy reference.

The CLI comes from $NEEDLE_BIN or build/release/needle (see conftest.py). Contract:
  needle logits --model M --encoder-tokens 5,6,7 --decoder-tokens 1,4,9
      -> {"encoder_output": [[d floats] x T_enc], "logits": [[vocab floats] x T_dec]}
         where logits row i follows decoder tokens 0..i;
  needle tokenize --tokenizer T --query Q --tools JSON -> {"encoder_tokens": [...], ...}.

Tolerance: max|cpp - numpy| <= 1e-4 * max(1, max|numpy|), separately for the encoder output
and the logits, and the argmax of every logits row must agree.
"""

import json
import os
import subprocess

import numpy as np
import pytest

import needle_convert as nc
import needle_numpy as nn
import needle_tokenizer_build as tb

REL_TOL = 1e-4

# (id, config, checkpoint dtype, weights seed, encoder length, decoder length)
CASES = [
    ("d32-h4kv2-L1x1-f32-len1",
     {"vocab_size": 300, "d_model": 32, "num_heads": 4, "num_kv_heads": 2,
      "num_encoder_layers": 1, "num_decoder_layers": 1, "rope_theta": 10000}, "f32", 1, 1, 1),
    ("d64-h4kv4-L2x3-bf16",
     {"vocab_size": 500, "d_model": 64, "num_heads": 4, "num_kv_heads": 4,
      "num_encoder_layers": 2, "num_decoder_layers": 3, "rope_theta": 500}, "bf16", 2, 17, 9),
    ("d128-h8kv2-L3x2-f32",
     {"vocab_size": 1000, "d_model": 128, "num_heads": 8, "num_kv_heads": 2,
      "num_encoder_layers": 3, "num_decoder_layers": 2, "rope_theta": 1000000}, "f32", 3, 40, 12),
    ("d96-h4kv2-L2x1-bf16-declen1",
     {"vocab_size": 777, "d_model": 96, "num_heads": 4, "num_kv_heads": 2,
      "num_encoder_layers": 2, "num_decoder_layers": 1, "rope_theta": 10000}, "bf16", 4, 5, 1),
    ("d48-h8kv2-L1x2-f32-long",
     {"vocab_size": 1000, "d_model": 48, "num_heads": 8, "num_kv_heads": 2,
      "num_encoder_layers": 1, "num_decoder_layers": 2, "rope_theta": 10000}, "f32", 5, 64, 20),
    ("d64-h8kv8-L3x3-f32-enclen3",
     {"vocab_size": 333, "d_model": 64, "num_heads": 8, "num_kv_heads": 8,
      "num_encoder_layers": 3, "num_decoder_layers": 3, "rope_theta": 10000}, "f32", 6, 3, 30),
    ("d128-h4kv1-L1x1-bf16-enclen100",
     {"vocab_size": 640, "d_model": 128, "num_heads": 4, "num_kv_heads": 1,
      "num_encoder_layers": 1, "num_decoder_layers": 1, "rope_theta": 2000}, "bf16", 7, 100, 4),
]

TOOLS = [
    {"name": "set_timer", "description": "Set a timer",
     "parameters": {"minutes": {"type": "number", "description": "Duration in minutes", "required": True},
                    "label": {"type": "string", "description": "Name of the timer", "required": False}}},
    {"name": "sendMessage", "description": "Send a text message to a contact",
     "parameters": {"recipient": {"type": "string", "description": "Who gets it", "required": True},
                    "message": {"type": "string", "description": "The text", "required": True}}},
    {"name": "SetThermostat", "description": "Caf\u00e9 temperature \u2615 in \u00b0C",
     "parameters": {"celsius": {"type": "number", "description": "Target", "required": True},
                    "eco": {"type": "boolean", "description": "Eco mode", "required": False}}},
]

PROMPTS = [
    ("set a timer for 10 minutes", TOOLS[:1],
     '[{"name":"set_timer","arguments":{"minutes":10}}]'),
    ("Text Bob  that I'm running late \U0001F600, then set the heat to 21", TOOLS,
     '[{"name":"send_message","arguments":{"recipient":"Bob","message":"running late"}}]'),
    ("  what's the weather like in Paris?  ", TOOLS[1:], "[]"),
    # Longer than the encoder allows: the query is cut to 1022 tokens, the whole to 1024.
    ("please set a timer for 25 minutes and " * 150, TOOLS,
     '[{"name":"set_timer","arguments":{"minutes":25}}]'),
]


def case_inputs(config, seed, enc_len, dec_len):
    """Random token sequences without PAD; the decoder starts from EOS as in generation."""
    rng = np.random.default_rng(1000 + seed)
    enc = [int(t) for t in rng.integers(1, config["vocab_size"], enc_len)]
    dec = [nn.EOS_ID] + [int(t) for t in rng.integers(1, config["vocab_size"], dec_len - 1)]
    return enc, dec


def numpy_outputs(model_path, enc, dec):
    config, params = nn.load(model_path)
    encoder_out = nn.encode(params, config, enc)
    encoder_valid = np.asarray(enc) != nn.PAD_ID
    return encoder_out, nn.decoder_logits(params, config, encoder_out, dec, encoder_valid)


def run_cli(needle_bin, *args):
    result = subprocess.run([needle_bin, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"needle {' '.join(args[:1])} failed ({result.returncode}): {result.stderr}"
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as err:
        pytest.fail(f"needle {args[0]} printed invalid JSON ({err}): {result.stdout[:500]!r}")


def cli_logits(needle_bin, model_path, enc, dec):
    out = run_cli(needle_bin, "logits", "--engine", "reference", "--model", str(model_path),
                  "--encoder-tokens", ",".join(map(str, enc)),
                  "--decoder-tokens", ",".join(map(str, dec)))
    return np.array(out["encoder_output"], dtype=np.float64), np.array(out["logits"], dtype=np.float64)


def assert_close(name, got, want):
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    tol = REL_TOL * max(1.0, float(np.max(np.abs(want))))
    err = float(np.max(np.abs(got - want)))
    assert err <= tol, f"{name}: max abs difference {err:.3g} exceeds tolerance {tol:.3g}"


def assert_parity(needle_bin, model_path, enc, dec):
    want_enc, want_logits = numpy_outputs(model_path, enc, dec)
    got_enc, got_logits = cli_logits(needle_bin, model_path, enc, dec)
    assert_close("encoder_output", got_enc, want_enc)
    assert_close("logits", got_logits, want_logits)
    mismatched = np.nonzero(np.argmax(got_logits, axis=-1) != np.argmax(want_logits, axis=-1))[0]
    assert len(mismatched) == 0, f"argmax differs at decoder positions {mismatched.tolist()}"


def top2_gap(logits):
    top = np.sort(logits, axis=-1)[:, -2:]
    return top[:, 1] - top[:, 0]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_random_config_parity(tmp_path, needle_bin, case):
    _, config, dtype, seed, enc_len, dec_len = case
    model = tmp_path / "model.safetensors"
    nc.write_random_checkpoint(model, config, seed=seed, dtype=dtype)
    enc, dec = case_inputs(config, seed, enc_len, dec_len)
    assert_parity(needle_bin, model, enc, dec)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_parity_cases_are_well_conditioned(tmp_path, case):
    # Runs without the binary. Argmax agreement is only a fair demand when no logits row has
    # a near-tie at the top; this keeps the chosen seeds honest.
    _, config, dtype, seed, enc_len, dec_len = case
    model = tmp_path / "model.safetensors"
    nc.write_random_checkpoint(model, config, seed=seed, dtype=dtype)
    _, logits = numpy_outputs(model, *case_inputs(config, seed, enc_len, dec_len))
    tol = REL_TOL * max(1.0, float(np.max(np.abs(logits))))
    # If both sides are within tol of each other, a gap above 2*tol cannot flip the argmax.
    assert np.min(top2_gap(logits)) > 2 * tol


@pytest.fixture(scope="module")
def default_model(default_model_dir):
    import sentencepiece as spm

    tokenizer = os.path.join(default_model_dir, "tokenizer.model")
    model = os.path.join(default_model_dir, "needle.safetensors")
    return spm.SentencePieceProcessor(model_file=tokenizer), tokenizer, model


def test_prompt_layout(default_model):
    sp, _, _ = default_model
    query, tools, _ = PROMPTS[0]
    tokens = tb.encoder_tokens(sp, query, tools)
    assert tokens == sp.encode(query) + [tb.TOOLS_ID] + sp.encode(tb.tools_json(tools))
    assert tb.tools_json(TOOLS).count('"name":"send_message"') == 1
    assert '"name":"set_thermostat"' in tb.tools_json(TOOLS)
    assert "\\u2615" in tb.tools_json(TOOLS)  # ensure_ascii, as json.dumps does by default
    long_tokens = tb.encoder_tokens(sp, PROMPTS[3][0], TOOLS)
    assert len(long_tokens) == 1024 and long_tokens[1022] == tb.TOOLS_ID


@pytest.mark.parametrize("prompt", PROMPTS, ids=["timer", "multi-tool-unicode", "no-call", "too-long"])
def test_default_model_tokenize_and_logits_parity(needle_bin, default_model, prompt):
    sp, tokenizer, model = default_model
    query, tools, answer = prompt
    expected = tb.encoder_tokens(sp, query, tools)
    out = run_cli(needle_bin, "tokenize", "--tokenizer", tokenizer, "--query", query,
                  "--tools", json.dumps(tools))
    assert out["encoder_tokens"] == expected

    dec = [nn.EOS_ID, tb.TOOL_CALL_ID] + sp.encode(answer)[:12]
    assert_parity(needle_bin, model, expected, dec)


@pytest.mark.parametrize("dtype", ["f32", "bf16"])
def test_release_shape_parity(tmp_path, needle_bin, dtype):
    """The 26M release shape (12+8 layers, d 512, 8/4 heads, vocab 8192).

    The random init of `needle_convert random` sharpens attention (q/k norm scales near 2,
    large out_proj) so that small models decode non-trivially; through 20 layers that init is
    chaotic: NumPy itself differs by ~1e-2 between float32 and float64 arithmetic on it. Here
    the q/k norm scales are zeroed and out_proj shrunk, which leaves a well-conditioned network
    in which a float32 engine can be held to the same tolerance as the small configs.
    """
    from needle_safetensors import f32_to_bf16_bits, read_safetensors, write_safetensors

    raw = tmp_path / "raw.safetensors"
    nc.write_random_checkpoint(raw, dict(nc.PRESETS["26m"]), seed=11, dtype=dtype)
    metadata, tensors = read_safetensors(raw)
    for name in tensors:
        if name.endswith(("q_norm/scale", "k_norm/scale")):
            tensors[name] = np.zeros_like(tensors[name])
        elif name.endswith("out_proj/kernel"):
            tensors[name] = tensors[name] / 8  # a power of two: exact in bf16 too
        if dtype == "bf16":
            tensors[name] = f32_to_bf16_bits(tensors[name])
    model = tmp_path / "model.safetensors"
    write_safetensors(model, tensors, metadata)
    enc, dec = case_inputs({"vocab_size": 8192}, 11, 64, 8)
    assert_parity(needle_bin, model, enc, dec)


@pytest.mark.parametrize("case", CASES[:4], ids=[c[0] for c in CASES[:4]])
def test_padding_mask_and_retrieval_head_parity(tmp_path, needle_bin, case):
    """PAD ids (0) in the encoder input are masked in self- and cross-attention and left out
    of the retrieval head's mean; both implementations must agree on all three."""
    _, config, dtype, seed, enc_len, dec_len = case
    model = tmp_path / "model.safetensors"
    nc.write_random_checkpoint(model, config, seed=seed, dtype=dtype)
    enc, dec = case_inputs(config, seed, enc_len + 3, dec_len)
    enc[1] = enc[-1] = nn.PAD_ID
    assert_parity(needle_bin, model, enc, dec)

    cfg, params = nn.load(model)
    want = nn.retrieval_embedding(params, cfg, nn.encode(params, cfg, enc), enc)
    got = np.array(run_cli(needle_bin, "embed", "--engine", "reference", "--model", str(model),
                           "--encoder-tokens", ",".join(map(str, enc)))["embedding"])
    assert_close("retrieval embedding", got, want)
    assert abs(np.linalg.norm(got) - 1.0) < 1e-5


@pytest.mark.parametrize("prompt", PROMPTS[:3], ids=["timer", "multi-tool-unicode", "no-call"])
def test_default_model_greedy_tokens_match(needle_bin, default_model, prompt):
    """Unconstrained greedy decoding: the C++ pipeline and NumPy pick the same ids."""
    sp, tokenizer, model = default_model
    query, tools, _ = prompt
    steps = 24
    cfg, params = nn.load(model)
    want = nn.greedy(params, cfg, tb.encoder_tokens(sp, query, tools), max_new=steps)
    out = run_cli(needle_bin, "run", "--engine", "reference", "--model", model, "--tokenizer", tokenizer,
                  "--query", query,
                  "--tools", json.dumps(tools), "--noconstrained", "--json",
                  "--max-new-tokens", str(steps))
    assert out["tokens"] == [int(t) for t in want]
