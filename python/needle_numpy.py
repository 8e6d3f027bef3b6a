"""An independent NumPy reference of the Needle forward pass, written from NEEDLE.md.

Everything is computed in float64 so that this file can serve as the yardstick for the
C++ engines: their float32 results are compared against it with a relative tolerance.
It is deliberately plain (no caching, no batching): the decoder is recomputed in full for
every generated token, exactly as upstream's generation loop does.

Token conventions (NEEDLE.md): PAD=0, EOS=1; the decoder starts from [EOS].
"""

import json
import math

import numpy as np

from needle_safetensors import read_safetensors

PAD_ID = 0
EOS_ID = 1
NORM_EPS = 1e-6
L2_EPS = 1e-12
MAX_NEW_TOKENS = 511

ENC = "encoder/layers/EncoderBlock_0"
DEC = "decoder/layers/DecoderBlock_0"


def load(path):
    """Read a needle safetensors file; return (config dict, {name: float64 array})."""
    metadata, tensors = read_safetensors(path)
    if metadata.get("format") != "needle":
        raise ValueError(f"{path}: not a needle checkpoint (metadata format={metadata.get('format')!r})")
    config = json.loads(metadata["needle_config"])
    params = {name: value.astype(np.float64) for name, value in tensors.items()}
    return config, params


def head_dim(config):
    return config["d_model"] // config["num_heads"]


def zc_rmsnorm(x, scale):
    """Zero-centred RMSNorm: (1 + scale) * x / sqrt(mean(x^2) + eps) over the last axis."""
    return (1.0 + scale) * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + NORM_EPS)


def rope(x, theta):
    """Rotate-half RoPE over the last axis of x (T, heads, head_dim), positions 0..T-1."""
    t, _, dim = x.shape
    half = dim // 2
    freqs = theta ** (-2.0 * np.arange(half) / dim)        # (half,)
    angles = np.arange(t)[:, None] * freqs[None, :]        # (T, half)
    cos = np.cos(angles)[:, None, :]                       # broadcast over heads
    sin = np.sin(angles)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def attention(params, config, prefix, layer, x_q, x_kv, allowed, use_rope):
    """One attention sublayer (no biases) of layer `layer` under parameter prefix `prefix`.

    x_q: (Tq, d) queries' input; x_kv: (Tk, d) keys'/values' input; allowed: bool (Tq, Tk),
    False where a query may not look. Masked scores take the dtype's lowest value before
    the softmax, as upstream does (so a fully masked row degrades to a uniform average
    instead of NaN).
    """
    heads, kv_heads = config["num_heads"], config["num_kv_heads"]
    hd = head_dim(config)
    tq, tk = x_q.shape[0], x_kv.shape[0]

    q = (x_q @ params[f"{prefix}/q_proj/kernel"][layer]).reshape(tq, heads, hd)
    k = (x_kv @ params[f"{prefix}/k_proj/kernel"][layer]).reshape(tk, kv_heads, hd)
    v = (x_kv @ params[f"{prefix}/v_proj/kernel"][layer]).reshape(tk, kv_heads, hd)
    q = zc_rmsnorm(q, params[f"{prefix}/q_norm/scale"][layer])
    k = zc_rmsnorm(k, params[f"{prefix}/k_norm/scale"][layer])

    # GQA: repeating each KV head along the head axis makes KV head j serve query heads
    # j*group .. j*group+group-1 (jnp.repeat semantics).
    group = heads // kv_heads
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)

    if use_rope:
        q = rope(q, config["rope_theta"])
        k = rope(k, config["rope_theta"])

    scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd)
    scores = np.where(allowed[None, :, :], scores, np.finfo(scores.dtype).min)
    out = np.einsum("hqk,khd->qhd", softmax(scores), v).reshape(tq, heads * hd)
    return out @ params[f"{prefix}/out_proj/kernel"][layer]


def embed(params, config, tokens):
    return params["embedding/embedding"][np.asarray(tokens, dtype=np.int64)] * math.sqrt(config["d_model"])


def encode(params, config, enc_tokens):
    """Encoder output (T, d) for one token sequence; PAD (0) positions are masked as keys."""
    tokens = np.asarray(enc_tokens, dtype=np.int64)
    key_valid = tokens != PAD_ID
    allowed = np.broadcast_to(key_valid[None, :], (len(tokens), len(tokens)))
    x = embed(params, config, tokens)
    for layer in range(config["num_encoder_layers"]):
        h = zc_rmsnorm(x, params[f"{ENC}/ZCRMSNorm_0/scale"][layer])
        gate = sigmoid(params[f"{ENC}/attn_gate"][layer])
        x = x + gate * attention(params, config, f"{ENC}/self_attn", layer, h, h, allowed, True)
    return zc_rmsnorm(x, params["encoder/final_norm/scale"])


def decoder_hidden(params, config, encoder_out, dec_tokens, encoder_valid=None):
    """Final decoder hidden states (T_dec, d) after the decoder's final norm.

    encoder_valid: optional bool (T_enc,) marking non-padding encoder positions (all valid
    when omitted). The decoder's self-attention is causal only: generation never feeds PAD.
    """
    tokens = np.asarray(dec_tokens, dtype=np.int64)
    t_dec, t_enc = len(tokens), encoder_out.shape[0]
    if encoder_valid is None:
        encoder_valid = np.ones(t_enc, dtype=bool)
    causal = np.tril(np.ones((t_dec, t_dec), dtype=bool))
    cross = np.broadcast_to(np.asarray(encoder_valid, dtype=bool)[None, :], (t_dec, t_enc))

    x = embed(params, config, tokens)
    for layer in range(config["num_decoder_layers"]):
        h = zc_rmsnorm(x, params[f"{DEC}/ZCRMSNorm_0/scale"][layer])
        gate = sigmoid(params[f"{DEC}/self_attn_gate"][layer])
        x = x + gate * attention(params, config, f"{DEC}/self_attn", layer, h, h, causal, True)
        h = zc_rmsnorm(x, params[f"{DEC}/ZCRMSNorm_1/scale"][layer])
        gate = sigmoid(params[f"{DEC}/cross_attn_gate"][layer])
        x = x + gate * attention(params, config, f"{DEC}/cross_attn", layer, h, encoder_out, cross, False)
    return zc_rmsnorm(x, params["decoder/ZCRMSNorm_0/scale"])


def decoder_logits(params, config, encoder_out, dec_tokens, encoder_valid=None):
    """Logits (T_dec, vocab): row i predicts the token after dec_tokens[0..i] (tied embedding)."""
    hidden = decoder_hidden(params, config, encoder_out, dec_tokens, encoder_valid)
    return hidden @ params["embedding/embedding"].T


def retrieval_embedding(params, config, encoder_out, enc_tokens=None):
    """The retrieval head's L2-normalised embedding (d/4,) of one encoded sequence.

    Mean-pools the encoder output over non-padding positions (all positions when the tokens
    are not given), then Dense+bias -> ReLU -> Dense -> L2 normalisation.
    """
    if enc_tokens is None:
        valid = np.ones(encoder_out.shape[0], dtype=bool)
    else:
        valid = np.asarray(enc_tokens) != PAD_ID
    pooled = encoder_out[valid].sum(axis=0) / max(int(valid.sum()), 1)
    hidden = np.maximum(pooled @ params["contrastive_hidden/kernel"] + params["contrastive_hidden/bias"], 0.0)
    z = hidden @ params["contrastive_proj/kernel"]
    return z / np.sqrt(np.sum(z * z) + L2_EPS)


def retrieval_temperature(params):
    """The learned CLIP temperature exp(log_temp) that scales similarity scores."""
    return float(np.exp(params["log_temp"]))


def greedy(params, config, enc_tokens, max_new=MAX_NEW_TOKENS):
    """Greedy decoding from [EOS]; returns the generated ids (without the seed or final EOS)."""
    tokens = np.asarray(enc_tokens, dtype=np.int64)
    encoder_out = encode(params, config, tokens)
    valid = tokens != PAD_ID
    sequence = [EOS_ID]
    generated = []
    for _ in range(max_new):
        logits = decoder_logits(params, config, encoder_out, sequence, valid)[-1]
        token = int(np.argmax(logits))  # first maximum on ties, like std::max_element
        if token == EOS_ID:
            break
        generated.append(token)
        sequence.append(token)
    return generated
