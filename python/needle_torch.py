"""The Needle network in PyTorch (fp32, batched with padding), for training.

The computation is the one NEEDLE.md describes and the C++ reference engine and
needle_numpy.py run; this file only adds batching. Parameters are held under exactly the
names and shapes of docs/checkpoint-format.md (layers stacked on a leading axis, dense
kernels stored (in, out)), so saving is a plain copy and a saved file loads in both engines.

Batching conventions:
  - encoder ids (B, T_enc), right-padded with PAD (0); padding is masked as attention keys,
    so a padded sequence gives the same encoder output at its real positions as alone;
  - decoder ids (B, T_dec), right-padded with anything: causal masking keeps real positions
    from seeing the padding, and the trainer ignores the loss there.

The prompt layout (how a query and its tools become encoder ids) lives here too, so that the
trainer, the parity fixture and the tests share one implementation of what the C++
tokenizer does (engine/src/tokenizer.cc, engine/src/tools.cc).
"""

import json
import math

import numpy as np
import torch

import needle_convert as nc
import needle_tokenizer_build as needle_prompt
from needle_safetensors import read_safetensors

PAD_ID = 0
EOS_ID = 1
TOOL_CALL_ID = 4
TOOLS_ID = 5
NORM_EPS = 1e-6
L2_EPS = 1e-12
MAX_ENCODER_TOKENS = 1024
MAX_QUERY_TOKENS = 1022
MAX_NEW_TOKENS = 511
# Decoder positions an exported graph's RoPE table covers (NeedleModel._rope_at).
ROPE_TABLE_POSITIONS = 4096

ENC = "encoder/layers/EncoderBlock_0"
DEC = "decoder/layers/DecoderBlock_0"

# PyTorch's fused attention with grouped K/V heads (2.5 and later); Debian's 1.13 has none.
FUSED_ATTENTION_AVAILABLE = tuple(int(part) for part in torch.__version__.split(".")[:2]) >= (2, 5)


# ---------------------------------------------------------------------------------------
# Prompt layout, as the C++ engine builds it
# ---------------------------------------------------------------------------------------

def compact_json(value, ensure_ascii):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii)


def answer_text(answers):
    """The text the decoder is trained to write after <tool_call>: the calls as compact JSON.

    Names are snake_case, as the model sees the tools; the engine maps them back. Values are
    written unescaped (ensure_ascii=False): the model copies them from the query, where
    non-ASCII text appears as itself, and the engine's call parser reads any valid JSON.
    """
    calls = [{"name": needle_prompt.snake_case(call["name"]), "arguments": call.get("arguments", {})} for call in answers]
    return compact_json(calls, ensure_ascii=False)


def encode_prompt(sp, query, tools):
    """Encoder ids of a query and its tools (a list of tool dicts), as the C++ engine builds them."""
    return needle_prompt.encoder_tokens(sp, query, tools)


def decoder_pair(sp, answers, max_len=MAX_NEW_TOKENS):
    """(decoder input, target) for one record: [EOS, <tool_call>, a...] / [<tool_call>, a..., EOS].

    The answer is cut so that generation fits the engine's 511-token limit: the target holds
    at most max_len tokens before the EOS.
    """
    ids = [TOOL_CALL_ID] + sp.encode(answer_text(answers))
    ids = ids[:max_len]
    return [EOS_ID] + ids, ids + [EOS_ID]


# ---------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------

def _attr(name):
    # Module attribute names cannot hold "/" or "."; the checkpoint name is kept alongside.
    return "p__" + name.replace("/", "__")


def zc_rmsnorm(x, scale):
    return (1.0 + scale) * x * torch.rsqrt(torch.mean(x * x, dim=-1, keepdim=True) + NORM_EPS)


def rope_tables(length, head_dim, theta, dtype=torch.float32):
    """cos/sin (T, 1, head_dim/2) for positions 0..T-1, computed in float64 like the engines."""
    half = head_dim // 2
    freqs = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / head_dim)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * freqs[None, :]
    return torch.cos(angles).to(dtype)[:, None, :], torch.sin(angles).to(dtype)[:, None, :]


def apply_rope(x, cos, sin):
    """Rotate-half RoPE on x (B, T, heads, head_dim)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class NeedleModel(torch.nn.Module):
    """Needle encoder-decoder with its retrieval head; parameters named as in the checkpoint."""

    def __init__(self, config):
        super().__init__()
        self.config = nc.normalize_config(config)
        self.shapes = nc.param_shapes(self.config)
        self.names = list(self.shapes)
        for name, shape in self.shapes.items():
            self.register_parameter(_attr(name), torch.nn.Parameter(torch.zeros(shape, dtype=torch.float32)))
        self.d_model = self.config["d_model"]
        self.num_heads = self.config["num_heads"]
        self.num_kv_heads = self.config["num_kv_heads"]
        self.head_dim = self.d_model // self.num_heads
        self._rope_cache = {}
        # Attention through torch's fused kernel instead of the explicit matmuls below. The
        # trainer turns it on: attention's forward and backward take about 2.5x less time at
        # training shapes, a whole step about 10% less (the projections' matmuls dominate).
        # The explicit form stays the default for exports and parity.
        self.fused_attention = False

    def p(self, name):
        return getattr(self, _attr(name))

    # ---- initialisation, loading, saving

    def init_weights(self, seed=0):
        """Training initialisation.

        Dense kernels N(0, 1/fan_in); the embedding N(0, 1/d), so that the scaled input
        embedding and the tied logits both start with a spread of about one; norm scales,
        gates and biases 0 (sigmoid(0) = 1/2 on every residual branch), log_temp log(1/0.07)
        as CLIP starts.
        """
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name in self.names:
                param = self.p(name)
                if name == "embedding/embedding":
                    param.normal_(0.0, 1.0 / math.sqrt(self.d_model), generator=gen)
                elif name.endswith("/kernel"):
                    fan_in = param.shape[-2]
                    param.normal_(0.0, 1.0 / math.sqrt(fan_in), generator=gen)
                elif name == "log_temp":
                    param.fill_(math.log(1.0 / 0.07))
                else:
                    param.zero_()
        return self

    def load_flat(self, flat):
        nc.validate_params(flat, self.config)
        with torch.no_grad():
            for name in self.names:
                self.p(name).copy_(torch.as_tensor(np.asarray(flat[name], dtype=np.float32)))
        return self

    def to_flat(self):
        return {name: self.p(name).detach().cpu().numpy().astype(np.float32) for name in self.names}

    def save(self, path):
        """Write a float32 needle safetensors file (docs/checkpoint-format.md)."""
        nc.write_checkpoint(path, self.config, self.to_flat(), dtype="f32")

    @classmethod
    def load(cls, path):
        metadata, tensors = read_safetensors(path)
        if metadata.get("format") != "needle":
            raise ValueError(f"{path}: not a needle checkpoint")
        model = cls(json.loads(metadata["needle_config"]))
        return model.load_flat(tensors)

    # ---- forward pass

    def _rope(self, length, like):
        key = (length, like.device, like.dtype)
        if key not in self._rope_cache:
            cos, sin = rope_tables(length, self.head_dim, self.config["rope_theta"], like.dtype)
            self._rope_cache[key] = (cos.to(like.device), sin.to(like.device))
        return self._rope_cache[key]

    def embed(self, ids):
        return self.p("embedding/embedding")[ids] * math.sqrt(self.d_model)

    def keys_values(self, prefix, layer, x_kv):
        """k (after k_norm, before RoPE) and v, each (B, Tk, kv_heads, head_dim)."""
        b, tk, _ = x_kv.shape
        k = (x_kv @ self.p(f"{prefix}/k_proj/kernel")[layer]).view(b, tk, self.num_kv_heads, self.head_dim)
        v = (x_kv @ self.p(f"{prefix}/v_proj/kernel")[layer]).view(b, tk, self.num_kv_heads, self.head_dim)
        return zc_rmsnorm(k, self.p(f"{prefix}/k_norm/scale")[layer]), v

    def queries(self, prefix, layer, x_q):
        """q (after q_norm, before RoPE), (B, Tq, heads, head_dim)."""
        b, tq, _ = x_q.shape
        q = (x_q @ self.p(f"{prefix}/q_proj/kernel")[layer]).view(b, tq, self.num_heads, self.head_dim)
        return zc_rmsnorm(q, self.p(f"{prefix}/q_norm/scale")[layer])

    def attention(self, prefix, layer, x_q, x_kv, allowed, use_rope, kv=None):
        """allowed: bool, broadcastable to (B, 1, Tq, Tk); False where a query may not look.

        kv: keys_values(prefix, layer, x_kv) when already computed (x_kv is then unused).
        """
        q = self.queries(prefix, layer, x_q)
        k, v = kv if kv is not None else self.keys_values(prefix, layer, x_kv)
        if use_rope:
            cos, sin = self._rope(q.shape[1], q)
            q = apply_rope(q, cos, sin)
            cos, sin = self._rope(k.shape[1], k)
            k = apply_rope(k, cos, sin)
        return self.attend(prefix, layer, q, k, v, allowed)

    def attend(self, prefix, layer, q, k, v, allowed):
        """Attention of prepared q (B, Tq, heads, hd) over k, v (B, Tk, kv_heads, hd), then out_proj.

        allowed as in attention(), or None when every query may see every key.
        """
        b, tq, heads, hd = q.shape
        kv_heads, tk = self.num_kv_heads, k.shape[1]
        if self.fused_attention:
            # enable_gqa maps query head i to K/V head i // group, as jnp.repeat does below.
            out = torch.nn.functional.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=allowed, enable_gqa=True)
            return out.transpose(1, 2).reshape(b, tq, heads * hd) @ self.p(f"{prefix}/out_proj/kernel")[layer]
        # GQA with jnp.repeat semantics (KV head j serves query heads j*group .. j*group+group-1)
        # without copying K/V: the `group` query heads of KV head j are stacked along the
        # query axis, so one batched matmul per KV head covers them all. The 1/sqrt(head_dim)
        # goes on q, the smaller tensor.
        group = heads // kv_heads
        q = (q * (1.0 / math.sqrt(hd))).permute(0, 2, 1, 3).reshape(b, kv_heads, group * tq, hd)
        k = k.permute(0, 2, 3, 1)  # (B, KV, hd, Tk)
        v = v.permute(0, 2, 1, 3)  # (B, KV, Tk, hd)
        scores = (q @ k).view(b, heads, tq, tk)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1).view(b, kv_heads, group * tq, tk)
        out = (probs @ v).view(b, heads, tq, hd).transpose(1, 2).reshape(b, tq, heads * hd)
        return out @ self.p(f"{prefix}/out_proj/kernel")[layer]

    def encode(self, enc_ids, mask_padding=True):
        """Encoder output (B, T, d) after final_norm; PAD positions are masked as keys unless
        mask_padding is False (for inputs known to hold no PAD: the graph then has no mask)."""
        allowed = (enc_ids != PAD_ID)[:, None, None, :] if mask_padding else None
        x = self.embed(enc_ids)
        for layer in range(self.config["num_encoder_layers"]):
            h = zc_rmsnorm(x, self.p(f"{ENC}/ZCRMSNorm_0/scale")[layer])
            gate = torch.sigmoid(self.p(f"{ENC}/attn_gate")[layer])
            x = x + gate * self.attention(f"{ENC}/self_attn", layer, h, h, allowed, True)
        return zc_rmsnorm(x, self.p("encoder/final_norm/scale"))

    def cross_keys_values(self, encoder_out):
        """Every decoder layer's cross-attention K/V: they depend on the encoder output only."""
        return [self.keys_values(f"{DEC}/cross_attn", layer, encoder_out)
                for layer in range(self.config["num_decoder_layers"])]

    def decode_hidden(self, encoder_out, enc_valid, dec_ids, cross_kv=None):
        """Final decoder hidden states; cross_kv = cross_keys_values(encoder_out) if at hand."""
        t = dec_ids.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=dec_ids.device).tril()[None, None]
        cross = enc_valid[:, None, None, :]
        x = self.embed(dec_ids)
        for layer in range(self.config["num_decoder_layers"]):
            h = zc_rmsnorm(x, self.p(f"{DEC}/ZCRMSNorm_0/scale")[layer])
            gate = torch.sigmoid(self.p(f"{DEC}/self_attn_gate")[layer])
            x = x + gate * self.attention(f"{DEC}/self_attn", layer, h, h, causal, True)
            h = zc_rmsnorm(x, self.p(f"{DEC}/ZCRMSNorm_1/scale")[layer])
            gate = torch.sigmoid(self.p(f"{DEC}/cross_attn_gate")[layer])
            x = x + gate * self.attention(f"{DEC}/cross_attn", layer, h, encoder_out, cross, False,
                                          cross_kv[layer] if cross_kv is not None else None)
        return zc_rmsnorm(x, self.p("decoder/ZCRMSNorm_0/scale"))

    def _rope_at(self, position, like):
        """cos/sin (1, 1, head_dim/2) at one position: an int, or a LongTensor of one element.

        A tensor position (as in an exported graph) reads a fixed table of ROPE_TABLE_POSITIONS
        rows, so the table is a constant of the graph; an int one grows the table as needed.
        """
        if isinstance(position, int):
            rows = max(ROPE_TABLE_POSITIONS, 1 << position.bit_length())
            index = torch.tensor([position], device=like.device)
        else:
            rows = ROPE_TABLE_POSITIONS
            index = position.reshape(1)
        cos, sin = self._rope(rows, like)
        return cos.index_select(0, index), sin.index_select(0, index)

    def decode_step(self, token_ids, position, self_kv, cross_kv, enc_valid):
        """One decoder step with a self-attention KV cache, as a serving engine decodes.

        token_ids (B, 1): the token at decoder position `position` (0 for the start token EOS);
        self_kv: per decoder layer (k, v), each (B, position, kv_heads, head_dim), k after k_norm
        and RoPE (length 0 at position 0); cross_kv: cross_keys_values(encoder_out);
        enc_valid: (B, T_enc) bool, False at PAD, or None when no position is PAD. Returns the logits (B, vocab) of the next token
        and the caches grown by this token. The logits are forward()'s row `position` up to
        float rounding.
        """
        cos, sin = self._rope_at(position, self.p("embedding/embedding"))
        cross_allowed = None if enc_valid is None else enc_valid[:, None, None, :]
        grown_kv = []
        x = self.embed(token_ids)
        for layer in range(self.config["num_decoder_layers"]):
            h = zc_rmsnorm(x, self.p(f"{DEC}/ZCRMSNorm_0/scale")[layer])
            q = apply_rope(self.queries(f"{DEC}/self_attn", layer, h), cos, sin)
            k, v = self.keys_values(f"{DEC}/self_attn", layer, h)
            k = torch.cat([self_kv[layer][0], apply_rope(k, cos, sin)], dim=1)
            v = torch.cat([self_kv[layer][1], v], dim=1)
            grown_kv.append((k, v))
            gate = torch.sigmoid(self.p(f"{DEC}/self_attn_gate")[layer])
            # The step's query is the newest position: causality allows every cached key.
            x = x + gate * self.attend(f"{DEC}/self_attn", layer, q, k, v, None)
            h = zc_rmsnorm(x, self.p(f"{DEC}/ZCRMSNorm_1/scale")[layer])
            gate = torch.sigmoid(self.p(f"{DEC}/cross_attn_gate")[layer])
            x = x + gate * self.attention(f"{DEC}/cross_attn", layer, h, None, cross_allowed, False, cross_kv[layer])
        hidden = zc_rmsnorm(x, self.p("decoder/ZCRMSNorm_0/scale"))
        return self.logits_from_hidden(hidden[:, -1]), grown_kv

    def empty_self_kv(self, batch=1):
        """The self-attention cache before the first decode step: per layer (k, v) of length 0."""
        param = self.p("embedding/embedding")
        shape = (batch, 0, self.num_kv_heads, self.head_dim)
        return [(param.new_zeros(shape), param.new_zeros(shape)) for _ in range(self.config["num_decoder_layers"])]

    def logits_from_hidden(self, hidden):
        return hidden @ self.p("embedding/embedding").t()

    def forward(self, enc_ids, dec_ids):
        """Logits (B, T_dec, vocab); row i predicts the token after dec_ids[:, :i+1]."""
        encoder_out = self.encode(enc_ids)
        hidden = self.decode_hidden(encoder_out, enc_ids != PAD_ID, dec_ids)
        return self.logits_from_hidden(hidden)

    def retrieval_embedding(self, enc_ids):
        """L2-normalised retrieval embeddings (B, d/4): mean over non-PAD encoder positions."""
        encoder_out = self.encode(enc_ids)
        valid = (enc_ids != PAD_ID).to(encoder_out.dtype)[..., None]
        pooled = (encoder_out * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
        hidden = torch.relu(pooled @ self.p("contrastive_hidden/kernel") + self.p("contrastive_hidden/bias"))
        z = hidden @ self.p("contrastive_proj/kernel")
        return z / torch.sqrt((z * z).sum(dim=-1, keepdim=True) + L2_EPS)

    # ---- greedy decoding

    @torch.no_grad()
    def greedy(self, enc_ids, max_new=MAX_NEW_TOKENS, return_logits=False):
        """Unconstrained greedy decoding from [EOS] for a batch of encoder inputs.

        Returns one list of generated ids per row (EOS excluded), like the C++ loop with
        constrained=false; with return_logits, also the logits (steps, vocab) each row's
        steps were chosen from, including the step that chose EOS. The decoder's own layers
        are recomputed in full each step, as upstream generates; only the cross-attention K/V,
        which depend on the encoder alone, are computed once.
        """
        encoder_out = self.encode(enc_ids)
        cross_kv = self.cross_keys_values(encoder_out)
        enc_valid = enc_ids != PAD_ID
        b = enc_ids.shape[0]
        seq = torch.full((b, 1), EOS_ID, dtype=torch.long, device=enc_ids.device)
        done = [False] * b
        generated = [[] for _ in range(b)]
        step_logits = [[] for _ in range(b)]
        for _ in range(max_new):
            hidden = self.decode_hidden(encoder_out, enc_valid, seq, cross_kv)[:, -1]
            logits = self.logits_from_hidden(hidden)
            # argmax returns the first maximum, as std::max_element does in the engine.
            next_ids = torch.argmax(logits, dim=-1)
            for i in range(b):
                if done[i]:
                    continue
                if return_logits:
                    step_logits[i].append(logits[i].clone())
                token = int(next_ids[i])
                if token == EOS_ID:
                    done[i] = True
                else:
                    generated[i].append(token)
            if all(done):
                break
            seq = torch.cat([seq, next_ids[:, None]], dim=1)
        if return_logits:
            return generated, [torch.stack(rows) if rows else torch.zeros(0) for rows in step_logits]
        return generated


def pad_batch(sequences, pad=PAD_ID):
    """Right-pad lists of ids to one LongTensor (B, max_len)."""
    width = max(len(s) for s in sequences)
    out = torch.full((len(sequences), width), pad, dtype=torch.long)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out
