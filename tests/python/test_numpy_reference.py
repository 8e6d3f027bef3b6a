"""Sanity checks of the NumPy reference (python/needle_numpy.py) against NEEDLE.md."""

import math
import os

import numpy as np
import pytest

import needle_convert as nc
import needle_numpy as nn

CONFIG = nc.normalize_config({"vocab_size": 97, "d_model": 32, "num_heads": 4, "num_kv_heads": 2,
                              "num_encoder_layers": 2, "num_decoder_layers": 2, "rope_theta": 1000})


@pytest.fixture(scope="module")
def params():
    return {name: value.astype(np.float64) for name, value in nc.random_params(CONFIG, 0).items()}


def test_rope_is_identity_at_position_zero_and_keeps_norms():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 16))
    rotated = nn.rope(x, 10000.0)
    assert np.array_equal(rotated[0], x[0])
    assert np.allclose(np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1))


def test_rope_uses_rotate_half_pairs_and_theta():
    # Dimension i pairs with i + head_dim/2 and turns by pos * theta^(-2i/head_dim).
    x = np.zeros((3, 1, 8))
    x[:, 0, 1] = 1.0                      # unit vector in the first half, i = 1
    rotated = nn.rope(x, 100.0)
    angle = 2 * 100.0 ** (-2 * 1 / 8)     # position 2
    assert rotated[2, 0, 1] == pytest.approx(math.cos(angle))
    assert rotated[2, 0, 5] == pytest.approx(math.sin(angle))
    assert np.count_nonzero(np.abs(rotated[2, 0]) > 1e-12) == 2


def test_rope_scores_depend_only_on_relative_position():
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal(16), rng.standard_normal(16)
    seq_q = np.broadcast_to(q, (8, 1, 16))
    seq_k = np.broadcast_to(k, (8, 1, 16))
    rq, rk = nn.rope(seq_q, 500.0)[:, 0], nn.rope(seq_k, 500.0)[:, 0]
    assert rq[5] @ rk[2] == pytest.approx(rq[7] @ rk[4])
    assert rq[3] @ rk[3] == pytest.approx(q @ k)


def test_zc_rmsnorm_scale_zero_gives_unit_rms_and_scale_multiplies():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 64)) * 7.0
    y = nn.zc_rmsnorm(x, np.zeros(64))
    assert np.allclose(np.sqrt(np.mean(y * y, axis=-1)), 1.0, atol=1e-6)
    scale = rng.standard_normal(64)
    assert np.allclose(nn.zc_rmsnorm(x, scale), (1 + scale) * y)
    # The epsilon sits inside the square root.
    tiny = np.full((1, 4), 1e-4)
    assert nn.zc_rmsnorm(tiny, np.zeros(4))[0, 0] == pytest.approx(1e-4 / math.sqrt(1e-8 + 1e-6))


def test_gqa_kv_head_j_serves_query_heads_2j_and_2j_plus_1(params):
    # Zero the value projection of KV head 1 and make out_proj the identity, so that the
    # attention output shows each query head's result in its own head_dim columns. Only the
    # query heads served by KV head 1 (2 and 3 under jnp.repeat) may then be all zero.
    p = dict(params)
    hd = nn.head_dim(CONFIG)
    prefix = "encoder/layers/EncoderBlock_0/self_attn"
    v = p[f"{prefix}/v_proj/kernel"].copy()
    v[0][:, hd:2 * hd] = 0.0
    p[f"{prefix}/v_proj/kernel"] = v
    out_proj = p[f"{prefix}/out_proj/kernel"].copy()
    out_proj[0] = np.eye(CONFIG["d_model"])
    p[f"{prefix}/out_proj/kernel"] = out_proj

    x = np.random.default_rng(3).standard_normal((6, CONFIG["d_model"]))
    out = nn.attention(p, CONFIG, prefix, 0, x, x, np.ones((6, 6), bool), True)
    per_head = np.abs(out.reshape(6, CONFIG["num_heads"], hd)).max(axis=(0, 2))
    assert per_head[0] > 0 and per_head[1] > 0
    assert per_head[2] == 0 and per_head[3] == 0


def test_decoder_is_causal(params):
    enc = nn.encode(params, CONFIG, [5, 9, 14, 20, 3])
    a = nn.decoder_logits(params, CONFIG, enc, [1, 4, 30, 31, 32, 33])
    b = nn.decoder_logits(params, CONFIG, enc, [1, 4, 30, 60, 61, 62])
    assert np.array_equal(a[:3], b[:3])
    assert not np.allclose(a[3:], b[3:])


def test_encoder_is_bidirectional(params):
    a = nn.encode(params, CONFIG, [5, 9, 14, 20])
    b = nn.encode(params, CONFIG, [5, 9, 14, 21])
    assert not np.allclose(a[0], b[0])


def test_encoder_padding_is_masked(params):
    tokens = [7, 8, 9, 10]
    padded = tokens + [0, 0, 0]
    enc = nn.encode(params, CONFIG, tokens)
    enc_padded = nn.encode(params, CONFIG, padded)
    assert np.allclose(enc_padded[:4], enc, atol=1e-12)

    valid = np.array(padded) != 0
    dec = [1, 4, 11]
    assert np.allclose(nn.decoder_logits(params, CONFIG, enc_padded, dec, valid),
                       nn.decoder_logits(params, CONFIG, enc, dec), atol=1e-10)
    assert np.allclose(nn.retrieval_embedding(params, CONFIG, enc_padded, padded),
                       nn.retrieval_embedding(params, CONFIG, enc, tokens), atol=1e-12)


def test_logits_are_tied_to_the_embedding(params):
    enc = nn.encode(params, CONFIG, [5, 6])
    hidden = nn.decoder_hidden(params, CONFIG, enc, [1, 2])
    logits = nn.decoder_logits(params, CONFIG, enc, [1, 2])
    assert np.allclose(logits, hidden @ params["embedding/embedding"].T)
    assert logits.shape == (2, CONFIG["vocab_size"])


def test_retrieval_embedding_is_unit_length(params):
    enc = nn.encode(params, CONFIG, [5, 6, 7])
    z = nn.retrieval_embedding(params, CONFIG, enc)
    assert z.shape == (CONFIG["d_model"] // 4,)
    assert np.linalg.norm(z) == pytest.approx(1.0)
    assert nn.retrieval_temperature(params) == pytest.approx(1 / 0.07, rel=1e-5)


def test_greedy_matches_step_by_step_argmax(params):
    enc_tokens = [12, 40, 41, 3, 77]
    generated = nn.greedy(params, CONFIG, enc_tokens, max_new=8)
    assert len(generated) <= 8 and nn.EOS_ID not in generated
    enc = nn.encode(params, CONFIG, enc_tokens)
    logits = nn.decoder_logits(params, CONFIG, enc, [nn.EOS_ID] + generated)
    expected = [int(i) for i in np.argmax(logits, axis=-1)]
    assert expected[:len(generated)] == generated
    if len(generated) < 8:
        assert expected[len(generated)] == nn.EOS_ID


def test_greedy_stops_at_eos(params):
    # Make EOS's embedding dominate every logit row: generation must stop at once.
    p = dict(params)
    emb = p["embedding/embedding"].copy()
    emb[nn.EOS_ID] *= 1000.0
    p["embedding/embedding"] = emb
    assert nn.greedy(p, CONFIG, [5, 6, 7], max_new=5) == []


def test_default_model_writes_a_call(default_model_dir):
    import json

    import sentencepiece as spm

    import needle_tokenizer_build as tb

    config, params = nn.load(os.path.join(default_model_dir, "needle.safetensors"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(default_model_dir, "tokenizer.model"))
    tools = [{"name": "set_timer", "description": "Start a countdown timer that rings when it reaches zero.",
              "parameters": {"duration_minutes": {"type": "integer", "description": "How long the timer runs, "
                                                  "in minutes.", "required": True}}}]
    out = nn.greedy(params, config, tb.encoder_tokens(sp, "set a timer for 10 minutes", tools), max_new=40)
    # The trained model answers in upstream's format: <tool_call>, then a JSON list of calls.
    assert out[0] == tb.TOOL_CALL_ID
    assert isinstance(json.loads(sp.decode(out[1:])), list)
