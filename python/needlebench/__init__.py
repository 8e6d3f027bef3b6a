"""needlebench: the Needle engines, the eval runner and needle-bench from Python.

The compiled module `_core` does the work (with the GIL released); this file
re-exports it and adds the conveniences that only resolve names and paths:

    import needlebench as nb
    model = nb.load()                                  # models/default, optimized engine
    result = model.generate("set a timer for 10 minutes", tools)
    run = nb.evaluate(["needle", "keyword"], ["needle:datasets/needle15/test.jsonl"], limit=100)
    rows = nb.run_bench(n_prompt=[64], n_gen=[16], engines=["optimized"], precisions=["fp32"])

See docs/python.md.
"""

import os
import queue
import re
import signal
import subprocess
import threading
from typing import Callable, Iterable, Iterator, Optional, Sequence, Union

try:
    from . import _core  # noqa: F401  (imported first for a clear message when it is missing)
except ImportError as error:
    raise ImportError(
        f"needlebench: the compiled module _core is not beside {os.path.dirname(__file__)}. Import the "
        "package from the build tree: build/release/python (scripts/run.sh builds it and puts it on sys.path "
        "with a needlebench.pth file)") from error

from ._core import (
    BOS_ID,
    DEFAULT_MODEL,
    DEFAULT_MODEL_DIR,
    DEFAULT_TOKENIZER,
    EOS_ID,
    MAX_ENCODER_TOKENS,
    MAX_GENERATED_TOKENS,
    MAX_QUERY_TOKENS,
    PAD_ID,
    SOURCE_DIR,
    TOOL_CALL_ID,
    TOOLS_ID,
    UNK_ID,
    Dataset,
    DatasetError,
    EncoderPrompt,
    EvalItem,
    EvalRun,
    GenerateResult,
    Model,
    ModelConfig,
    Session,
    System,
    Tokenizer,
    engine_names,
    format_bench_rows,
    load_dataset,
    run_bench,
    run_eval,
    snake_case,
)

__all__ = [
    "BOS_ID", "DEFAULT_MODEL", "DEFAULT_MODEL_DIR", "DEFAULT_TOKENIZER", "EOS_ID", "MAX_ENCODER_TOKENS",
    "MAX_GENERATED_TOKENS", "MAX_QUERY_TOKENS", "PAD_ID", "SOURCE_DIR", "TOOL_CALL_ID", "TOOLS_ID", "UNK_ID",
    "Dataset", "DatasetError", "EncoderPrompt", "EvalItem", "EvalRun", "GenerateResult", "Model", "ModelConfig",
    "Session", "System", "Tokenizer", "engine_names", "evaluate", "format_bench_rows", "load", "load_dataset",
    "run_bench", "run_eval", "snake_case", "GenerateStream", "Server", "serve",
]

# A model directory holds these two files (models/default does).
MODEL_FILE = "needle.safetensors"
TOKENIZER_FILE = "tokenizer.model"


def load(path: str = DEFAULT_MODEL_DIR, engine: str = "optimized", precision: str = "auto", threads: int = 0,
         tokenizer: Optional[str] = None, numerics: str = "exact") -> Model:
    """Loads a model by directory (holding needle.safetensors and tokenizer.model) or by checkpoint file.

    With a checkpoint file, `tokenizer` defaults to tokenizer.model beside it. engine is "optimized" (the
    default, as in every needle tool) or "reference" (single-threaded fp32, the numbers to check against);
    precision (optimized engine) is "auto" (w8a8 where the CPU has SIMD integer kernels, else fp32), fp32,
    bf16, int8, int4, w8a8 or w4a8; threads 0 means all cores; numerics "upstream" makes the reference engine
    round to bfloat16 where upstream does.
    """
    if os.path.isdir(path):
        model_path = os.path.join(path, MODEL_FILE)
        tokenizer_path = tokenizer or os.path.join(path, TOKENIZER_FILE)
    else:
        model_path = path
        tokenizer_path = tokenizer or os.path.join(os.path.dirname(os.path.abspath(path)), TOKENIZER_FILE)
    return Model(model_path, tokenizer_path, engine=engine, precision=precision, threads=threads, numerics=numerics)


SystemLike = Union[str, System, Model, Callable[[EvalItem], object]]


def _as_system(system: SystemLike, system_options: dict) -> System:
    if isinstance(system, System):
        return system
    if isinstance(system, Model):
        return System.from_model(system)
    if isinstance(system, str):
        return System.from_spec(system, **system_options)
    if callable(system):
        return System.from_callable(getattr(system, "__name__", "python"), system)
    raise TypeError(f"not a system: {system!r} (give a spec string, System, Model or callable)")


def evaluate(systems: Union[SystemLike, Sequence[SystemLike]], datasets: Union[str, Dataset, Iterable],
             parallel: int = 0, limit: float = 0, on_result: Optional[Callable[[int, int, dict], None]] = None,
             seed: Optional[int] = None, **system_options) -> EvalRun:
    """Runs the eval as needle-eval does and returns the EvalRun (report, per-item results).

    systems: spec strings ("needle", "needle:optimized:int8", "keyword", "openai:URL", "command:..."),
    System objects, loaded Models or Python callables item -> output text. datasets: spec strings
    ("needle:PATH", "bfcl:PATH", "generic:PATH") or Dataset objects. `limit` and `seed` apply to datasets
    given by spec, as needle-eval's --limit and --sample_seed: limit 0 keeps every item, a fraction in
    (0, 1) that share of them (0.1: a tenth, rounded up), a whole number that many; the first ones, or
    with a seed drawn at random (kept in file order). system_options go to System.from_spec (model_path,
    threads, ...).
    """
    if isinstance(systems, (str, System, Model)) or (callable(systems) and not isinstance(systems, Sequence)):
        systems = [systems]
    if isinstance(datasets, (str, Dataset)):
        datasets = [datasets]
    resolved_systems = [_as_system(system, system_options) for system in systems]
    resolved_datasets = [load_dataset(d, limit=limit, seed=seed) if isinstance(d, str) else d for d in datasets]
    return run_eval(resolved_systems, resolved_datasets, parallel=parallel, on_result=on_result)


class GenerateStream:
    """Model.stream's iterator: the call's text piece by piece as it is generated.

    The pieces are what `on_token` receives (the caller's tool names, each once complete). After the
    last piece, `result` holds the GenerateResult. Leaving the loop early stops generation.
    """

    _END = object()

    def __init__(self, model: Model, query: str, tools, options: dict):
        self._pieces: "queue.Queue" = queue.Queue()
        self._stop = threading.Event()
        self._error: Optional[BaseException] = None
        self.result: Optional[GenerateResult] = None

        def on_token(_token, text):
            if text:
                self._pieces.put(text)
            return not self._stop.is_set()

        def run():
            try:
                self.result = model.generate(query, tools, on_token=on_token, **options)
            except BaseException as error:  # re-raised in the iterating thread
                self._error = error
            finally:
                self._pieces.put(self._END)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def __iter__(self) -> "GenerateStream":
        return self

    def __next__(self) -> str:
        piece = self._pieces.get()
        if piece is self._END:
            self._thread.join()
            if self._error is not None:
                raise self._error
            raise StopIteration
        return piece

    def close(self) -> None:
        """Stops generation and waits for it; `result.stop` is then "callback"."""
        self._stop.set()
        self._thread.join()

    def __del__(self):
        self._stop.set()


def _stream(self: Model, query: str, tools, **options) -> GenerateStream:
    """Model.generate as an iterator of text pieces: `for piece in model.stream(query, tools): ...`.

    Takes generate's options (constrained, max_new_tokens); the GenerateResult is `stream.result` once the
    loop has ended.
    """
    return GenerateStream(self, query, tools, options)


Model.stream = _stream


class Server:
    """needle-serve run as a subprocess, stopped when the `with` block ends (or by close()).

    `url` is its base URL (http://127.0.0.1:PORT), `base_url` the OpenAI SDKs' (url + "/v1"), and
    `system_spec` the needle-eval system that asks it ("openai:" + url).
    """

    def __init__(self, *flags: str, port: int = 0, binary: Optional[str] = None):
        # The build puts this package in BUILD/python/needlebench and needle-serve in BUILD.
        binary = binary or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
            __file__)))), "needle-serve")
        if not os.path.isfile(binary):
            raise FileNotFoundError(f"needle-serve not found at {binary} (build it, or pass binary=)")
        self._process = subprocess.Popen([binary, "--port", str(port), *flags], stderr=subprocess.PIPE, text=True)
        line = self._process.stderr.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            self._process.wait(timeout=30)
            raise RuntimeError(f"needle-serve did not start: {line.strip() or self._process.stderr.read().strip()}")
        self.url = match.group(1)
        self.base_url = self.url + "/v1"
        self.system_spec = "openai:" + self.url

    def close(self) -> None:
        """Stops the server after the requests in flight."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process.stderr.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc_info) -> bool:
        self.close()
        return False

    def __repr__(self) -> str:
        return f"Server(url={self.url})"


def serve(*flags: str, port: int = 0) -> Server:
    """Starts needle-serve with its command-line flags (e.g. "--precision", "int8"): `with nb.serve() as s:`."""
    return Server(*flags, port=port)
