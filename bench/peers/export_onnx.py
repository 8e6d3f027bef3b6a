#!/usr/bin/python3
"""Export a Needle checkpoint to the two ONNX graphs the onnxruntime peer runs.

  prefill.onnx  encoder_ids (B, T_enc) int64
                -> encoder_valid (B, T_enc) bool, cross_k_i / cross_v_i (B, T_enc, kv_heads, head_dim)
                   for every decoder layer i
  decode.onnx   token_id (B, 1) int64, position (1,) int64, encoder_valid, past_k_i / past_v_i
                (B, T_past, kv_heads, head_dim), cross_k_i / cross_v_i
                -> logits (B, vocab), present_k_i / present_v_i (B, T_past + 1, kv_heads, head_dim)
  meta.json     the model config and what the runner needs to build its inputs

Both graphs are traced from python/needle_torch.py (encode, cross_keys_values, decode_step),
so they compute what the PyTorch peer does. The export is cached per checkpoint content under
${XDG_CACHE_HOME:-~/.cache}/needle-bench/onnx/<sha256 prefix>/; prints that directory.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))

# Bump when the graphs change, so that cached exports of older graphs are redone.
EXPORT_VERSION = 1
OPSET = 14
SHA_PREFIX_CHARS = 16


def checkpoint_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "needle-bench", "onnx")


def is_current(directory):
    try:
        with open(os.path.join(directory, "meta.json"), encoding="utf-8") as handle:
            return json.load(handle).get("export_version") == EXPORT_VERSION
    except (OSError, ValueError):
        return False


def layer_names(prefix, layers):
    return [f"{prefix}_{kind}_{layer}" for layer in range(layers) for kind in ("k", "v")]


def export_graphs(model_path, directory):
    """Write prefill.onnx, decode.onnx and meta.json for the checkpoint into directory."""
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
            cross_kv = self.model.cross_keys_values(self.model.encode(encoder_ids))
            return (encoder_ids != needle_torch.PAD_ID, *[t for pair in cross_kv for t in pair])

    class DecodeStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, token_id, position, encoder_valid, *caches):
            past = [(caches[2 * i], caches[2 * i + 1]) for i in range(layers)]
            cross = [(caches[2 * (layers + i)], caches[2 * (layers + i) + 1]) for i in range(layers)]
            logits, present = self.model.decode_step(token_id, position, past, cross, encoder_valid)
            return (logits, *[t for pair in present for t in pair])

    cross_names = layer_names("cross", layers)
    past_names = layer_names("past", layers)
    present_names = layer_names("present", layers)
    encoder_axes = {0: "batch", 1: "encoder_length"}
    encoder_length, past_length = 5, 3  # any lengths: the axes are dynamic
    encoder_ids = torch.arange(6, 6 + encoder_length, dtype=torch.long)[None]
    with torch.no_grad():
        outputs = Prefill()(encoder_ids)
    with warnings.catch_warnings():
        # The tracer warns about Python ints taken from shapes; the axes below keep them dynamic.
        warnings.simplefilter("ignore")
        torch.onnx.export(Prefill(), (encoder_ids,), os.path.join(directory, "prefill.onnx"), opset_version=OPSET,
                          input_names=["encoder_ids"], output_names=["encoder_valid", *cross_names],
                          dynamic_axes={name: encoder_axes for name in ["encoder_ids", "encoder_valid", *cross_names]})
        past = [torch.zeros(1, past_length, *kv_shape) for _ in past_names]
        decode_inputs = (torch.tensor([[1]]), torch.tensor([past_length]), outputs[0], *past, *outputs[1:])
        torch.onnx.export(DecodeStep(), decode_inputs, os.path.join(directory, "decode.onnx"), opset_version=OPSET,
                          input_names=["token_id", "position", "encoder_valid", *past_names, *cross_names],
                          output_names=["logits", *present_names],
                          dynamic_axes={"token_id": {0: "batch"}, "logits": {0: "batch"},
                                        **{name: encoder_axes for name in ["encoder_valid", *cross_names]},
                                        **{name: {0: "batch", 1: "past_length"} for name in past_names},
                                        **{name: {0: "batch", 1: "present_length"} for name in present_names}})
    meta = {"export_version": EXPORT_VERSION, "opset": OPSET, "torch": torch.__version__,
            "checkpoint": os.path.abspath(model_path), "config": config, "head_dim": model.head_dim,
            "max_decode_positions": needle_torch.ROPE_TABLE_POSITIONS,
            "cross_names": cross_names, "past_names": past_names, "present_names": present_names}
    with open(os.path.join(directory, "meta.json"), "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=1)


def ensure_export(model_path):
    """The cache directory holding the checkpoint's graphs, exporting them first if needed."""
    directory = os.path.join(cache_root(), checkpoint_sha256(model_path)[:SHA_PREFIX_CHARS])
    if is_current(directory):
        return directory
    os.makedirs(cache_root(), exist_ok=True)
    # Export next to the final place and rename, so that a concurrent or interrupted run
    # never leaves a half-written directory that looks current.
    staging = tempfile.mkdtemp(prefix=".export-", dir=cache_root())
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would keep the cache private to one user
    try:
        export_graphs(model_path, staging)
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(staging, directory)
    except OSError:
        if not is_current(directory):  # a concurrent export may have won the rename
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="needle checkpoint (.safetensors)")
    args = parser.parse_args()
    if not os.path.isfile(args.model):
        parser.error(f"model file {args.model} does not exist")
    print(ensure_export(args.model))


if __name__ == "__main__":
    main()
