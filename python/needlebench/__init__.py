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
from typing import Callable, Iterable, Optional, Sequence, Union

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
    "run_bench", "run_eval", "snake_case",
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
             parallel: int = 0, limit: int = 0, on_result: Optional[Callable[[int, int, dict], None]] = None,
             **system_options) -> EvalRun:
    """Runs the eval as needle-eval does and returns the EvalRun (report, per-item results).

    systems: spec strings ("needle", "needle:optimized:int8", "keyword", "openai:URL", "command:..."),
    System objects, loaded Models or Python callables item -> output text. datasets: spec strings
    ("needle:PATH", "bfcl:PATH", "generic:PATH") or Dataset objects; `limit` keeps the first items of
    datasets given by spec. system_options go to System.from_spec (model_path, threads, ...).
    """
    if isinstance(systems, (str, System, Model)) or (callable(systems) and not isinstance(systems, Sequence)):
        systems = [systems]
    if isinstance(datasets, (str, Dataset)):
        datasets = [datasets]
    resolved_systems = [_as_system(system, system_options) for system in systems]
    resolved_datasets = [load_dataset(d, limit=limit) if isinstance(d, str) else d for d in datasets]
    return run_eval(resolved_systems, resolved_datasets, parallel=parallel, on_result=on_result)
