"""Needle as ONNX graphs built for ONNX Runtime's CPU provider, the way a serving engineer tunes them.

Where a traced export (tests/peers/onnxruntime_plain_peer.py) records the training code, this file writes the graphs
node by node from the checkpoint's weights (NumPy and the `onnx` package only), so that every choice
that makes ONNX Runtime fast can be made:

- batch 1 and no padding mask: a benchmark prompt has no padding, so no mask is built or applied;
- constants folded into the weights once, instead of being applied to activations at every run:
  each ZCRMSNorm's (1 + scale) goes into the projection that reads the norm's output (the encoder's
  final norm into every decoder layer's cross-attention K/V, the decoder's final norm into the tied
  logits matrix), sigmoid(gate) into the out_proj it scales, 1/sqrt(head_dim) into q_norm, and
  sqrt(d_model) into the embedding table the graphs gather from;
- ONNX Runtime's own fused operators (com.microsoft domain), with attention="fused":
  SimplifiedLayerNormalization for every RMSNorm, RotaryEmbedding for RoPE, MultiHeadAttention for
  the encoder's self-attention (K/V heads repeated after their projection: the op has no GQA for
  bidirectional attention and the decoder's cross-attention) and GroupQueryAttention for the decoder's
  cached self-attention; with attention="ops", attention is plain MatMul/Softmax with the GQA groups
  stacked along the query axis (no K/V copies), which is what a traced export gives;
- the decoder's cross-attention K/V computed once at prefill, laid out as the decode step's attention
  reads them (cross_kv_layout).

  prefill.onnx  encoder_ids (1, T) int64 -> cross_k_i, cross_v_i for every decoder layer i
  decode.onnx   token_id (1, 1) int64, position (1, 1) int64, past_k_i / past_v_i, cross_k_i / cross_v_i
                -> logits (1, vocab), present_k_i / present_v_i

Self-attention caches are (1, kv_heads, length, head_dim) in both modes (meta()); quantised graphs are
made from these by onnxruntime.quantization (onnxruntime_peer.py).
"""

import json
import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from needle_safetensors import read_safetensors

OPSET = 17
MS_OPSET = 1
NORM_EPS = 1e-6
ENC = "encoder/layers/EncoderBlock_0"
DEC = "decoder/layers/DecoderBlock_0"
ATTENTION_MODES = ("fused", "ops")
LOGITS_NODE = "logits_matmul"


def load_checkpoint(path):
    """(config, {name: float32 array}) of a needle safetensors file."""
    metadata, tensors = read_safetensors(path)
    if metadata.get("format") != "needle":
        raise ValueError(f"{path}: not a needle checkpoint")
    return json.loads(metadata["needle_config"]), {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-float(x)))


def rope_cache(positions, head_dim, theta):
    """cos and sin (positions, head_dim/2), computed in float64 as the engines do."""
    half = head_dim // 2
    freqs = theta ** (-2.0 * np.arange(half, dtype=np.float64) / head_dim)
    angles = np.arange(positions, dtype=np.float64)[:, None] * freqs[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


class GraphBuilder:
    """Nodes, initializers and value names of one graph; names are made unique by a counter."""

    def __init__(self):
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, array, stem="const"):
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values):
        return self.const(np.asarray(values, dtype=np.int64), "shape")

    def op(self, op_type, inputs, outputs=1, domain="", **attributes):
        names = [self.name(op_type.lower()) for _ in range(outputs)] if isinstance(outputs, int) else list(outputs)
        self.nodes.append(helper.make_node(op_type, list(inputs), names, domain=domain or None, **attributes))
        return names[0] if len(names) == 1 else names

    def matmul(self, x, weight):
        return self.op("MatMul", [x, self.const(weight, "weight")])

    def rms_norm(self, x, scale):
        """x / sqrt(mean(x^2) + eps) * scale over the last axis."""
        return self.op("SimplifiedLayerNormalization", [x, self.const(scale.astype(np.float32), "norm_scale")],
                       axis=-1, epsilon=NORM_EPS, stash_type=1)

    def reshape(self, x, shape):
        return self.op("Reshape", [x, self.ints(shape)])

    def transpose(self, x, perm):
        return self.op("Transpose", [x], perm=perm)


class NeedleGraphs:
    """Builds the prefill and decode graphs of one checkpoint (see the module docstring)."""

    def __init__(self, config, params, attention="fused", max_positions=4096):
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, not {attention!r}")
        self.config, self.params, self.attention_mode = config, params, attention
        self.d = config["d_model"]
        self.heads, self.kv_heads = config["num_heads"], config["num_kv_heads"]
        self.head_dim = self.d // self.heads
        self.group = self.heads // self.kv_heads
        self.max_positions = max_positions
        self.cos, self.sin = rope_cache(max_positions, self.head_dim, config["rope_theta"])

    def p(self, name, layer=None):
        value = self.params[name]
        return value if layer is None else value[layer]

    # ---- folded weights

    def projections(self, prefix, layer, norm_scale=None):
        """q, k, v, out kernels of one attention block with the read norm's (1 + scale) folded in."""
        row_scale = 1.0 if norm_scale is None else (1.0 + norm_scale)[:, None]
        q = self.p(f"{prefix}/q_proj/kernel", layer) * row_scale
        k = self.p(f"{prefix}/k_proj/kernel", layer) * row_scale
        v = self.p(f"{prefix}/v_proj/kernel", layer) * row_scale
        return q, k, v, self.p(f"{prefix}/out_proj/kernel", layer)

    def head_norms(self, prefix, layer):
        """q_norm's scale with 1/sqrt(head_dim) folded in, and k_norm's."""
        q_scale = (1.0 + self.p(f"{prefix}/q_norm/scale", layer)) / math.sqrt(self.head_dim)
        return q_scale, 1.0 + self.p(f"{prefix}/k_norm/scale", layer)

    # ---- blocks

    def heads_norm(self, g, x, heads, scale, length):
        """Per-head RMSNorm of x (1, T, heads*hd) -> (1, T, heads, hd)."""
        return g.rms_norm(g.reshape(x, [1, length, heads, self.head_dim]), scale)

    def rope(self, g, x4, positions, heads):
        """RoPE on x4 (1, T, heads, hd) at position_ids (1, T) -> (1, T, heads*hd)."""
        flat = g.reshape(x4, [1, -1, heads * self.head_dim])
        if self.attention_mode == "fused":
            return g.op("RotaryEmbedding", [flat, positions, self.cos_name(g), self.sin_name(g)], domain="com.microsoft",
                        interleaved=0, num_heads=heads)
        cos = g.op("Gather", [self.cos_name(g), positions], axis=0)  # (1, T, hd/2)
        sin = g.op("Gather", [self.sin_name(g), positions], axis=0)
        cos = g.op("Unsqueeze", [cos, g.ints([2])])  # (1, T, 1, hd/2)
        sin = g.op("Unsqueeze", [sin, g.ints([2])])
        half = self.head_dim // 2
        x1, x2 = g.op("Split", [x4, g.ints([half, half])], outputs=2, axis=-1)
        first = g.op("Sub", [g.op("Mul", [x1, cos]), g.op("Mul", [x2, sin])])
        second = g.op("Add", [g.op("Mul", [x2, cos]), g.op("Mul", [x1, sin])])
        return g.reshape(g.op("Concat", [first, second], axis=-1), [1, -1, heads * self.head_dim])

    def cos_name(self, g):
        if not hasattr(g, "cos_name"):
            g.cos_name, g.sin_name_ = g.const(self.cos, "rope_cos"), g.const(self.sin, "rope_sin")
        return g.cos_name

    def sin_name(self, g):
        self.cos_name(g)
        return g.sin_name_

    def stacked_attention(self, g, q, k, v, q_len):
        """Plain-op attention: q (1, Tq, H*hd) already scaled; k, v (1, KV, Tk, hd) -> (1, Tq, H*hd).

        The `group` query heads of each KV head are stacked along the query axis, so one batched
        MatMul per KV head covers them without copying K or V.
        """
        q = g.transpose(g.reshape(q, [1, q_len, self.heads, self.head_dim]), [0, 2, 1, 3])
        q = g.reshape(q, [1, self.kv_heads, -1, self.head_dim])
        scores = g.op("MatMul", [q, g.transpose(k, [0, 1, 3, 2])])
        out = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        out = g.reshape(out, [1, self.heads, -1, self.head_dim])
        return g.reshape(g.transpose(out, [0, 2, 1, 3]), [1, -1, self.d])

    def repeat_kv(self, g, x, length):
        """(1, T, KV*hd) -> (1, T, H*hd), KV head j serving query heads j*group .. j*group+group-1."""
        x = g.reshape(x, [1, length, self.kv_heads, 1, self.head_dim])
        x = g.op("Expand", [x, g.ints([1, 1, self.kv_heads, self.group, self.head_dim])])
        return g.reshape(x, [1, length, self.d])

    def to_bnsh(self, g, x, heads):
        """(1, T, heads*hd) -> (1, heads, T, hd)."""
        return g.transpose(g.reshape(x, [1, -1, heads, self.head_dim]), [0, 2, 1, 3])

    def encoder_layer(self, g, x, positions, length):
        prefix = f"{ENC}/self_attn"
        h = g.rms_norm(x, np.ones(self.d, np.float32))
        wq, wk, wv, wo = self.projections(prefix, layer=self.layer, norm_scale=self.p(f"{ENC}/ZCRMSNorm_0/scale",
                                                                                        self.layer))
        q_scale, k_scale = self.head_norms(prefix, self.layer)
        q = self.rope(g, self.heads_norm(g, g.matmul(h, wq), self.heads, q_scale, length), positions, self.heads)
        k = self.rope(g, self.heads_norm(g, g.matmul(h, wk), self.kv_heads, k_scale, length), positions, self.kv_heads)
        v = g.matmul(h, wv)
        if self.attention_mode == "fused":
            # scale=1: 1/sqrt(head_dim) is already in q_norm's scale.
            attended = g.op("MultiHeadAttention", [q, self.repeat_kv(g, k, length), self.repeat_kv(g, v, length)],
                            domain="com.microsoft", num_heads=self.heads, scale=1.0)
        else:
            attended = self.stacked_attention(g, q, self.to_bnsh(g, k, self.kv_heads), self.to_bnsh(g, v, self.kv_heads),
                                              length)
        gate = sigmoid(self.p(f"{ENC}/attn_gate", self.layer))
        return g.op("Add", [x, g.matmul(attended, wo * gate)])

    def embedding_input(self, g, ids):
        """The scaled embedding rows of ids."""
        table = self.p("embedding/embedding") * math.sqrt(self.d)
        return g.op("Gather", [g.const(table, "embedding"), ids], axis=0)

    def cross_heads(self):
        """Heads of the cross-attention K/V the prefill hands to the decode step."""
        return self.heads if self.attention_mode == "fused" else self.kv_heads

    def cross_kv_layout(self, g, x):
        """Cross-attention K or V (1, T, KV*hd) as the decode step reads it: (1, cross_heads, T, hd).

        Fused, K/V heads are repeated for MultiHeadAttention. Stacking a KV head's queries instead
        reads half the bytes, but measured slower on the 26M model (a decode step at depth 1024:
        11.2 ms against 10.3 ms): ONNX Runtime's MatMul is slow for the two stacked rows.
        """
        if self.attention_mode == "fused":
            return self.to_bnsh(g, self.repeat_kv(g, x, -1), self.heads)
        return self.to_bnsh(g, x, self.kv_heads)

    def build_prefill(self):
        g = GraphBuilder()
        ids = helper.make_tensor_value_info("encoder_ids", TensorProto.INT64, [1, "encoder_length"])
        length_1d = g.op("Slice", [g.op("Shape", ["encoder_ids"]), g.ints([1]), g.ints([2])])
        positions = g.op("Unsqueeze", [g.op("Range", [g.const(np.int64(0)), g.op("Squeeze", [length_1d]),
                                                       g.const(np.int64(1))]), g.ints([0])])
        x = self.embedding_input(g, "encoder_ids")
        for self.layer in range(self.config["num_encoder_layers"]):
            x = self.encoder_layer(g, x, positions, -1)
        encoder_out = g.rms_norm(x, np.ones(self.d, np.float32))
        outputs = []
        final_scale = self.p("encoder/final_norm/scale")
        for layer in range(self.config["num_decoder_layers"]):
            _, wk, wv, _ = self.projections(f"{DEC}/cross_attn", layer, norm_scale=final_scale)
            _, k_scale = self.head_norms(f"{DEC}/cross_attn", layer)
            k = g.reshape(self.heads_norm(g, g.matmul(encoder_out, wk), self.kv_heads, k_scale, -1),
                          [1, -1, self.kv_heads * self.head_dim])
            v = g.matmul(encoder_out, wv)
            for kind, value in (("k", k), ("v", v)):
                name = f"cross_{kind}_{layer}"
                g.op("Identity", [self.cross_kv_layout(g, value)], outputs=[name])
                outputs.append(name)
        output_infos = [helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                      [1, self.cross_heads(), "encoder_length", self.head_dim])
                        for name in outputs]
        return self._model(g, "needle_prefill", [ids], output_infos)

    def build_decode(self):
        g = GraphBuilder()
        layers = self.config["num_decoder_layers"]
        inputs = [helper.make_tensor_value_info("token_id", TensorProto.INT64, [1, 1]),
                  helper.make_tensor_value_info("position", TensorProto.INT64, [1, 1])]
        for kind in ("past", "cross"):
            for layer in range(layers):
                for part in ("k", "v"):
                    heads, length = (self.kv_heads, "past_length") if kind == "past" else (self.cross_heads(),
                                                                                           "encoder_length")
                    inputs.append(helper.make_tensor_value_info(f"{kind}_{part}_{layer}", TensorProto.FLOAT,
                                                                [1, heads, length, self.head_dim]))
        outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, self.config["vocab_size"]])]
        x = g.reshape(self.embedding_input(g, "token_id"), [1, 1, self.d])
        if self.attention_mode == "fused":
            # GroupQueryAttention's lengths: the cache holds `position` tokens before this step.
            total = g.op("Cast", [g.op("Add", [g.reshape("position", [1]), g.ints([1])])], to=TensorProto.INT32)
            seqlens_k = g.op("Sub", [total, g.const(np.array([1], np.int32))])
            total_length = g.reshape(total, [])
        for layer in range(layers):
            prefix = f"{DEC}/self_attn"
            wq, wk, wv, wo = self.projections(prefix, layer, norm_scale=self.p(f"{DEC}/ZCRMSNorm_0/scale", layer))
            q_scale, k_scale = self.head_norms(prefix, layer)
            h = g.rms_norm(x, np.ones(self.d, np.float32))
            q = g.reshape(self.heads_norm(g, g.matmul(h, wq), self.heads, q_scale, 1), [1, 1, self.d])
            k = g.reshape(self.heads_norm(g, g.matmul(h, wk), self.kv_heads, k_scale, 1), [1, 1, -1])
            v = g.matmul(h, wv)
            present = [f"present_k_{layer}", f"present_v_{layer}"]
            if self.attention_mode == "fused":
                attended = g.op("GroupQueryAttention",
                                [q, k, v, f"past_k_{layer}", f"past_v_{layer}", seqlens_k, total_length,
                                 self.cos_name(g), self.sin_name(g)],
                                outputs=[g.name("gqa")] + present, domain="com.microsoft", num_heads=self.heads,
                                kv_num_heads=self.kv_heads, do_rotary=1, rotary_interleaved=0, scale=1.0)[0]
            else:
                q = self.rope(g, g.reshape(q, [1, 1, self.heads, self.head_dim]), "position", self.heads)
                k = self.rope(g, g.reshape(k, [1, 1, self.kv_heads, self.head_dim]), "position", self.kv_heads)
                k_all = g.op("Concat", [f"past_k_{layer}", self.to_bnsh(g, k, self.kv_heads)], outputs=[present[0]],
                             axis=2)
                v_all = g.op("Concat", [f"past_v_{layer}", self.to_bnsh(g, v, self.kv_heads)], outputs=[present[1]],
                             axis=2)
                attended = self.stacked_attention(g, q, k_all, v_all, 1)
            gate = sigmoid(self.p(f"{DEC}/self_attn_gate", layer))
            x = g.op("Add", [x, g.matmul(attended, wo * gate)])

            prefix = f"{DEC}/cross_attn"
            wq, _, _, wo = self.projections(prefix, layer, norm_scale=self.p(f"{DEC}/ZCRMSNorm_1/scale", layer))
            q_scale, _ = self.head_norms(prefix, layer)
            h = g.rms_norm(x, np.ones(self.d, np.float32))
            q = g.reshape(self.heads_norm(g, g.matmul(h, wq), self.heads, q_scale, 1), [1, 1, self.d])
            if self.attention_mode == "fused":
                attended = g.op("MultiHeadAttention", [q, f"cross_k_{layer}", f"cross_v_{layer}"], domain="com.microsoft",
                                num_heads=self.heads, scale=1.0)
            else:
                attended = self.stacked_attention(g, q, f"cross_k_{layer}", f"cross_v_{layer}", 1)
            gate = sigmoid(self.p(f"{DEC}/cross_attn_gate", layer))
            x = g.op("Add", [x, g.matmul(attended, wo * gate)])
            for name in present:
                outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                             [1, self.kv_heads, "present_length", self.head_dim]))
        hidden = g.reshape(g.rms_norm(x, np.ones(self.d, np.float32)), [1, self.d])
        logits_matrix = (self.p("embedding/embedding") * (1.0 + self.p("decoder/ZCRMSNorm_0/scale"))[None, :]).T
        g.nodes.append(helper.make_node("MatMul", [hidden, g.const(np.ascontiguousarray(logits_matrix), "logits_matrix")],
                                        ["logits"], name=LOGITS_NODE))
        return self._model(g, "needle_decode", inputs, outputs)

    def _model(self, g, name, inputs, outputs):
        graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                        helper.make_opsetid("com.microsoft", MS_OPSET)])
        model.ir_version = 8
        return model


def meta(config):
    """What a runner needs besides the graphs: the config and the decode step's cache names and shape."""
    layers = range(config["num_decoder_layers"])
    head_dim = config["d_model"] // config["num_heads"]
    return {"config": config, "empty_cache_shape": [1, config["num_kv_heads"], 0, head_dim],
            "past_names": [f"past_{kind}_{layer}" for layer in layers for kind in ("k", "v")],
            "present_names": [f"present_{kind}_{layer}" for layer in layers for kind in ("k", "v")]}


def write_graphs(model_path, directory, attention="fused"):
    """Write prefill.onnx and decode.onnx of the checkpoint into directory; returns the config."""
    import os

    config, params = load_checkpoint(model_path)
    graphs = NeedleGraphs(config, params, attention)
    for file_name, model in (("prefill.onnx", graphs.build_prefill()), ("decode.onnx", graphs.build_decode())):
        onnx.save_model(model, os.path.join(directory, file_name))
    return config
