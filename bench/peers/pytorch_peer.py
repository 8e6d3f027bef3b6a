#!/usr/bin/python3
"""needle-bench peer: the Needle checkpoint in PyTorch eager mode (python/needle_torch.py).

Prefill is the encoder plus every decoder layer's cross-attention K/V; decode is
NeedleModel.decode_step, one token per step over a self-attention KV cache. The command
line and the output are described in peer_protocol.py and docs/peers.md.
"""

import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer_protocol as protocol  # noqa: E402

PROGRAM = "pytorch_peer"
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16"}


def cpu_capability(torch):
    """The instruction set PyTorch dispatches its CPU kernels to (e.g. "avx2"), or ""."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip().lower()
    return ""


class Runner:
    def __init__(self, model, torch):
        self.model = model
        self.torch = torch

    def prefill(self, ids):
        encoder_ids = self.torch.tensor([ids], dtype=self.torch.long)
        encoder_out = self.model.encode(encoder_ids)
        return self.model.cross_keys_values(encoder_out), encoder_ids != 0

    def greedy(self, cross_kv, encoder_valid, steps, on_step):
        """`steps` decode steps from EOS, feeding back the argmax; on_step(step, logits) after each."""
        self_kv = self.model.empty_self_kv()
        token = protocol.EOS_ID
        for step in range(steps):
            logits, self_kv = self.model.decode_step(self.torch.tensor([[token]]), step, self_kv, cross_kv,
                                                     encoder_valid)
            # argmax returns the first maximum, as the C++ runner's ArgMax does.
            token = int(self.torch.argmax(logits[0]))
            on_step(step, logits[0], token)


def run_once(runner, args, prompt):
    """(timed ns, TTFT ms) of one repetition from fresh state, timed as bench/src/runner.cc does."""
    start = time.perf_counter_ns()
    cross_kv, encoder_valid = runner.prefill(prompt)
    prefilled = time.perf_counter_ns()
    first_token = [prefilled]

    def note_first(step, _logits, _token):
        if step == 0:
            first_token[0] = time.perf_counter_ns()

    runner.greedy(cross_kv, encoder_valid, max(args.n_gen, 1), note_first)
    end = time.perf_counter_ns()
    return protocol.timed_ns(args, start, prefilled, end), (first_token[0] - start) / 1e6


def main(argv):
    args = protocol.parse_args(PROGRAM, argv, list(PRECISIONS))
    import torch

    import needle_torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    try:
        model = needle_torch.NeedleModel.load(args.model).eval()
    except (ValueError, KeyError, OSError) as error:
        protocol.fail(PROGRAM, f"cannot load {args.model}: {error}")
    model.to(getattr(torch, PRECISIONS[args.precision]))
    runner = Runner(model, torch)

    with torch.inference_mode():
        if args.logits:
            cross_kv, encoder_valid = runner.prefill(args.prompt_ids)
            greedy_ids, rows = [], []

            def record(_step, logits, token):
                greedy_ids.append(token)
                rows.append(logits.float().tolist())

            runner.greedy(cross_kv, encoder_valid, args.steps, record)
            protocol.print_json({"greedy_ids": greedy_ids, "logits": rows})
            return

        prompt = protocol.prompt_ids(protocol.prefill_length(args), model.config["vocab_size"])
        samples_ns, samples_ttft_ms = [], []
        for run in range(args.warmup + args.repetitions):
            timed, ttft_ms = run_once(runner, args, prompt)
            if run >= args.warmup:
                samples_ns.append(timed)
                samples_ttft_ms.append(ttft_ms)

    protocol.print_json({
        "runtime": f"pytorch {torch.__version__}",
        "engine": "pytorch-eager",
        "precision": args.precision,
        "isa": cpu_capability(torch),
        "samples_ns": samples_ns,
        "samples_ttft_ms": samples_ttft_ms,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    })


if __name__ == "__main__":
    main(sys.argv[1:])
