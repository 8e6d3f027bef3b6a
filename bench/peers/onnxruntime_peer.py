#!/usr/bin/python3
"""needle-bench peer: the Needle checkpoint in ONNX Runtime's CPU provider (Python package, PyPI).

Runs the graphs onnx_graphs.py builds for ONNX Runtime (fused operators, folded constants, batch 1,
no mask), exported once per checkpoint content and precision into the cache (onnx_cache.py):

  fp32  the graphs as built;
  w8a8  every MatMul with a constant weight quantised by ONNX Runtime's own tool
        (onnxruntime.quantization.quantize_dynamic: int8 weights with one scale per output column,
        activations quantised to uint8 per tensor at run time; ONNX Runtime fuses each into
        DynamicQuantizeMatMul), the like-for-like peer of needle's w8a8.

Started by needle-bench with Debian's python3, it re-executes itself with the project's virtual
environment (scripts/install-pypi.sh), where onnx and onnxruntime are installed. Decoding keeps
every tensor in ONNX Runtime (OrtValues fed back as the next step's inputs): only the logits are
read into NumPy, for the argmax. Command line and output: peer_protocol.py, docs/peers.md.
"""

import os
import resource
import sys
import time

PEERS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, PEERS_DIR)
sys.path.insert(0, os.path.join(PEERS_DIR, "..", "..", "python"))

import peer_protocol as protocol  # noqa: E402

PROGRAM = "onnxruntime_peer"
PRECISIONS = ("fp32", "w8a8")
# Bump when onnx_graphs.py or the quantisation changes the graphs.
EXPORT_VERSION = 4


def export_graphs(precision):
    """The export function onnx_cache.ensure_export calls for one precision."""

    def export(model_path, directory):
        import onnx_graphs

        config = onnx_graphs.write_graphs(model_path, directory)
        if precision == "w8a8":
            import onnx
            from onnxruntime.quantization import QuantType, quantize_dynamic

            for name in ("prefill.onnx", "decode.onnx"):
                path = os.path.join(directory, name)
                # DefaultTensorType: ONNX's shape inference gives no types after the com.microsoft
                # operators, and every tensor of these graphs is float32.
                quantize_dynamic(path, path, weight_type=QuantType.QInt8, per_channel=True,
                                 op_types_to_quantize=["MatMul"], nodes_to_exclude=[onnx_graphs.LOGITS_NODE],
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        return onnx_graphs.meta(config)

    return export


class Runner:
    """Prefill and greedy decoding over the two sessions of one export directory."""

    def __init__(self, directory, meta, threads):
        import numpy as np
        import onnxruntime as ort

        self.np, self.ort, self.meta = np, ort, meta
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        self.prefill_session = ort.InferenceSession(os.path.join(directory, "prefill.onnx"), options, providers=providers)
        self.decode_session = ort.InferenceSession(os.path.join(directory, "decode.onnx"), options, providers=providers)
        self.cross_names = [output.name for output in self.prefill_session.get_outputs()]
        self.decode_outputs = [output.name for output in self.decode_session.get_outputs()]
        self.empty_cache = np.zeros(meta["empty_cache_shape"], dtype=np.float32)

    def value(self, array):
        return self.ort.OrtValue.ortvalue_from_numpy(array)

    def prefill(self, ids):
        encoder_ids = self.value(self.np.asarray([ids], dtype=self.np.int64))
        return self.prefill_session.run_with_ort_values(self.cross_names, {"encoder_ids": encoder_ids})

    def greedy(self, cross, steps, on_step):
        """`steps` decode steps from EOS, feeding back the argmax; on_step(step, logits, token) after each."""
        feeds = dict(zip(self.cross_names, cross))
        for name in self.meta["past_names"]:
            feeds[name] = self.value(self.empty_cache)
        token = protocol.EOS_ID
        for step in range(steps):
            feeds["token_id"] = self.value(self.np.array([[token]], dtype=self.np.int64))
            feeds["position"] = self.value(self.np.array([[step]], dtype=self.np.int64))
            outputs = dict(zip(self.decode_outputs, self.decode_session.run_with_ort_values(self.decode_outputs, feeds)))
            for past, present in zip(self.meta["past_names"], self.meta["present_names"]):
                feeds[past] = outputs[present]
            logits = outputs["logits"].numpy()[0]
            # argmax returns the first maximum, as the C++ runner's ArgMax does.
            token = int(self.np.argmax(logits))
            on_step(step, logits, token)


def run_once(runner, args, prompt):
    """(timed ns, TTFT ms) of one repetition from fresh state, timed as bench/src/runner.cc does."""
    start = time.perf_counter_ns()
    cross = runner.prefill(prompt)
    prefilled = time.perf_counter_ns()
    first_token = [prefilled]

    def note_first(step, _logits, _token):
        if step == 0:
            first_token[0] = time.perf_counter_ns()

    runner.greedy(cross, max(args.n_gen, 1), note_first)
    end = time.perf_counter_ns()
    return protocol.timed_ns(args, start, prefilled, end), (first_token[0] - start) / 1e6


def run(args, export_dir, engine):
    """Time (or in logits mode, decode with) the graphs in export_dir and print the protocol's JSON."""
    import onnx_cache
    import onnxruntime as ort

    meta = onnx_cache.read_meta(export_dir)
    runner = Runner(export_dir, meta, args.threads)
    if args.logits:
        greedy_ids, rows = [], []

        def record(_step, logits, token):
            greedy_ids.append(token)
            rows.append(logits.tolist())

        runner.greedy(runner.prefill(args.prompt_ids), args.steps, record)
        protocol.print_json({"greedy_ids": greedy_ids, "logits": rows})
        return
    prompt = protocol.prompt_ids(protocol.prefill_length(args), meta["config"]["vocab_size"])
    samples_ns, samples_ttft_ms = [], []
    for repetition in range(args.warmup + args.repetitions):
        timed, ttft_ms = run_once(runner, args, prompt)
        if repetition >= args.warmup:
            samples_ns.append(timed)
            samples_ttft_ms.append(ttft_ms)
    protocol.print_json({
        "runtime": f"onnxruntime {ort.__version__}",
        "engine": engine,
        "precision": args.precision,
        "isa": "",
        "samples_ns": samples_ns,
        "samples_ttft_ms": samples_ttft_ms,
        # ru_maxrss is in KiB on Linux; the export ran in this process only when it was not cached.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    })


def main(argv):
    args = protocol.parse_args(PROGRAM, argv, list(PRECISIONS))
    protocol.reexec_in_venv(PROGRAM, ["onnx", "onnxruntime"], __file__, argv)
    # The export runs in a child process, so that its memory never counts in this one's peak RSS.
    directory = protocol.export_in_child(PROGRAM, __file__, args.model, args.precision)
    run(args, directory, "onnxruntime")


def export_only(model_path, precision):
    """The child's side of protocol.export_in_child: export (if not cached) and print the directory."""
    import onnx_cache

    print(onnx_cache.ensure_export(model_path, f"ort-{precision}", EXPORT_VERSION, export_graphs(precision)))


if __name__ == "__main__":
    if sys.argv[1:2] == [protocol.EXPORT_FLAG]:
        export_only(*sys.argv[2:4])
    else:
        main(sys.argv[1:])
