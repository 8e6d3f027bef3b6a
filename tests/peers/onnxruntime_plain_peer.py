#!/usr/bin/python3
"""A test-only needle-bench peer: the plain ONNX export that needle-bench's onnxruntime peer must beat.

This is the export a user gets from torch.onnx.export without tuning: python/needle_torch.py traced
at batch 1 with no padding-mask ops, the decode step with the self-attention KV cache as graph inputs
and outputs, ONNX opset 14, run by the same ONNX Runtime with all graph optimizations
(bench/peers/onnxruntime_peer.py's Runner). `tests/peers/compare_onnx_exports.sh` times it beside the
tuned peer in one needle-bench run; tests/python/test_bench_peers.py checks its logits.

  prefill.onnx  encoder_ids (1, T) -> cross_k_i, cross_v_i (1, T, kv_heads, head_dim) per decoder layer
  decode.onnx   token_id (1, 1), position (1, 1), past_k_i / past_v_i (1, T_past, kv_heads, head_dim),
                cross_k_i / cross_v_i -> logits (1, vocab), present_k_i / present_v_i

The export runs with Debian's PyTorch (python3-torch) in a child process; the timing with the
project's virtual environment, as the tuned peer's does.
"""

import os
import sys
import warnings

TESTS_PEERS_DIR = os.path.dirname(os.path.abspath(__file__))
PEERS_DIR = os.path.join(TESTS_PEERS_DIR, "..", "..", "bench", "peers")
sys.path.insert(0, PEERS_DIR)
sys.path.insert(0, os.path.join(TESTS_PEERS_DIR, "..", "..", "python"))

import peer_protocol as protocol  # noqa: E402

PROGRAM = "onnxruntime_plain_peer"
EXPORT_VERSION = 2
OPSET = 14


def layer_names(prefix, layers):
    return [f"{prefix}_{kind}_{layer}" for layer in range(layers) for kind in ("k", "v")]


def export_graphs(model_path, directory):
    """Trace prefill.onnx and decode.onnx of the checkpoint into directory; returns the meta dict."""
    import torch

    import needle_torch

    model = needle_torch.NeedleModel.load(model_path).eval()
    config = model.config
    layers = config["num_decoder_layers"]
    kv_shape = (model.num_kv_heads, model.head_dim)

    class Prefill(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, encoder_ids):
            cross_kv = self.model.cross_keys_values(self.model.encode(encoder_ids, mask_padding=False))
            return tuple(t for pair in cross_kv for t in pair)

    class DecodeStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, token_id, position, *caches):
            past = [(caches[2 * i], caches[2 * i + 1]) for i in range(layers)]
            cross = [(caches[2 * (layers + i)], caches[2 * (layers + i) + 1]) for i in range(layers)]
            logits, present = self.model.decode_step(token_id, position, past, cross, None)
            return (logits, *[t for pair in present for t in pair])

    cross_names = layer_names("cross", layers)
    past_names = layer_names("past", layers)
    present_names = layer_names("present", layers)
    encoder_length, past_length = 5, 3  # any lengths: the time axes are dynamic
    encoder_ids = torch.arange(6, 6 + encoder_length, dtype=torch.long)[None]
    with torch.no_grad():
        cross = Prefill()(encoder_ids)
    with warnings.catch_warnings():
        # The tracer warns about Python ints taken from shapes; the axes below keep them dynamic.
        warnings.simplefilter("ignore")
        torch.onnx.export(Prefill(), (encoder_ids,), os.path.join(directory, "prefill.onnx"), opset_version=OPSET,
                          input_names=["encoder_ids"], output_names=cross_names,
                          dynamic_axes={name: {1: "encoder_length"} for name in ["encoder_ids", *cross_names]})
        past = [torch.zeros(1, past_length, *kv_shape) for _ in past_names]
        decode_inputs = (torch.tensor([[1]]), torch.tensor([[past_length]]), *past, *cross)
        torch.onnx.export(DecodeStep(), decode_inputs, os.path.join(directory, "decode.onnx"), opset_version=OPSET,
                          input_names=["token_id", "position", *past_names, *cross_names],
                          output_names=["logits", *present_names],
                          dynamic_axes={**{name: {1: "encoder_length"} for name in cross_names},
                                        **{name: {1: "past_length"} for name in past_names},
                                        **{name: {1: "present_length"} for name in present_names}})
    return {"config": config, "torch": torch.__version__, "opset": OPSET,
            "empty_cache_shape": [1, 0, *kv_shape], "past_names": past_names, "present_names": present_names}


def main(argv):
    args = protocol.parse_args(PROGRAM, argv, ["fp32"])
    # Debian's python3 exports (it has torch); the cached export is then found again in the venv.
    directory = protocol.export_in_child(PROGRAM, __file__, args.model, args.precision)
    protocol.reexec_in_venv(PROGRAM, ["onnxruntime"], __file__, argv)
    import onnxruntime_peer

    onnxruntime_peer.run(args, directory, "onnxruntime-plain")


if __name__ == "__main__":
    if sys.argv[1:2] == [protocol.EXPORT_FLAG]:
        import onnx_cache

        print(onnx_cache.ensure_export(sys.argv[2], "plain", EXPORT_VERSION, export_graphs))
    else:
        main(sys.argv[1:])
