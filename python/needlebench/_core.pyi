"""Type stubs of the compiled needlebench._core module (python/bindings/*.cc)."""

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

Tools = Union[str, Sequence[Dict[str, Any]]]
TokenIds = Sequence[int]
FloatArray = npt.NDArray[np.float32]

SOURCE_DIR: str
DEFAULT_MODEL_DIR: str
DEFAULT_MODEL: str
DEFAULT_TOKENIZER: str
MAX_ENCODER_TOKENS: int
MAX_QUERY_TOKENS: int
MAX_GENERATED_TOKENS: int
PAD_ID: int
EOS_ID: int
BOS_ID: int
UNK_ID: int
TOOL_CALL_ID: int
TOOLS_ID: int

def engine_names() -> List[str]:
    """Engines Model accepts: 'reference', 'optimized'."""

def snake_case(name: str) -> str:
    """The tool-name rule the prompt applies (getWeather -> get_weather)."""

class ModelConfig:
    """Hyper-parameters of a loaded checkpoint."""

    @property
    def vocab_size(self) -> int: ...
    @property
    def d_model(self) -> int: ...
    @property
    def num_heads(self) -> int: ...
    @property
    def num_kv_heads(self) -> int: ...
    @property
    def num_encoder_layers(self) -> int: ...
    @property
    def num_decoder_layers(self) -> int: ...
    @property
    def rope_theta(self) -> float: ...
    @property
    def head_dim(self) -> int: ...
    @property
    def kv_dim(self) -> int: ...
    @property
    def retrieval_dim(self) -> int: ...
    @property
    def num_parameters(self) -> int:
        """Parameter count of a checkpoint with this config."""

class EncoderPrompt:
    """The encoder input of one request, with what truncation cut."""

    @property
    def tokens(self) -> List[int]: ...
    @property
    def query_tokens(self) -> int: ...
    @property
    def query_truncated(self) -> bool: ...
    @property
    def tools_truncated(self) -> bool: ...

class Tokenizer:
    """SentencePiece tokenizer with upstream Needle's special ids."""

    def __init__(self, path: str) -> None:
        """Loads a SentencePiece model; refuses one without upstream's id layout (ValueError)."""
    @property
    def vocab_size(self) -> int: ...
    def encode(self, text: str) -> List[int]:
        """Text to ids (no BOS/EOS)."""
    def decode(self, ids: TokenIds) -> str:
        """Ids to text; invalid UTF-8 from byte pieces shows as U+FFFD."""
    def id_to_piece(self, id: int) -> str: ...
    def encode_prompt(self, query: str, tools_json: str) -> EncoderPrompt:
        """tokens(query)[:1022] + [<tools>] + tokens(tools_json), cut to 1024; tools_json used as given."""

class Session:
    """Per-request state of an engine; create one per request (or thread) with Model.new_session()."""

    def prefill(self, encoder_tokens: TokenIds) -> None:
        """Runs the encoder over 1..1024 ids and clears the decoder state. Releases the GIL."""
    def decode(self, token: int) -> FloatArray:
        """Appends one decoder token; returns the logits (vocab_size,) for the next. Releases the GIL."""
    @property
    def encoder_output(self) -> FloatArray:
        """Encoder output after final_norm, (tokens, d_model); a copy."""
    @property
    def num_encoder_tokens(self) -> int: ...
    @property
    def num_decoded_tokens(self) -> int: ...

class GenerateResult:
    """One generated call and how it was produced."""

    @property
    def text(self) -> str:
        """The call, leading <tool_call> stripped, caller's tool names."""
    @property
    def raw_text(self) -> str:
        """The decoded output exactly as generated."""
    @property
    def calls(self) -> Optional[List[Dict[str, Any]]]:
        """The call parsed as needle-eval parses it: [{'name', 'arguments'}] ([] for no call), None if unreadable."""
    @property
    def encoder_tokens(self) -> List[int]: ...
    @property
    def tokens(self) -> List[int]:
        """Generated ids, EOS excluded."""
    @property
    def query_truncated(self) -> bool: ...
    @property
    def tools_truncated(self) -> bool: ...
    @property
    def stop(self) -> str:
        """Why generation stopped: 'eos', 'max_tokens' or 'callback'."""
    @property
    def prefill_seconds(self) -> float: ...
    @property
    def decode_seconds(self) -> float: ...

class Model:
    """A loaded model: engine plus tokenizer. Thread-safe; compute runs with the GIL released."""

    def __init__(self, model_path: str, tokenizer_path: str, engine: str = "optimized", precision: str = "auto",
                 threads: int = 0) -> None:
        """Loads a checkpoint and tokenizer (FileNotFoundError, ValueError on bad input)."""
    def __enter__(self) -> "Model": ...
    def __exit__(self, *exc_info: Any) -> bool: ...
    def stream(self, query: str, tools: Tools, **options: Any) -> Iterator[str]:
        """generate() as an iterator of text pieces (needlebench.GenerateStream); .result after the loop."""
    @property
    def engine(self) -> str: ...
    @property
    def precision(self) -> str: ...
    @property
    def threads(self) -> int: ...
    @property
    def model_path(self) -> str: ...
    @property
    def tokenizer_path(self) -> str: ...
    @property
    def config(self) -> ModelConfig: ...
    @property
    def tokenizer(self) -> Tokenizer: ...
    def generate(self, query: str, tools: Tools = "[]", *, constrained: bool = True, max_new_tokens: int = 511,
                 on_token: Optional[Callable[[int, str], Optional[bool]]] = None) -> GenerateResult:
        """Generates the call for one request; on_token(token, text) streams, False stops, an exception re-raises."""
    def generate_batch(self, requests: Sequence[Tuple[str, Tools]], *, constrained: bool = True,
                       max_new_tokens: int = 511, parallel: int = 1,
                       on_token: Optional[Callable[[int, int, str], Optional[bool]]] = None) -> List[GenerateResult]:
        """Generates calls for (query, tools) pairs, `parallel` at a time; on_token(index, token, text)."""
    def encode_prompt(self, query: str, tools: Tools = "[]") -> EncoderPrompt:
        """The encoder input generate() builds for this request."""
    def logits(self, encoder_tokens: TokenIds, decoder_tokens: TokenIds) -> FloatArray:
        """Raw logits (len(decoder_tokens), vocab_size): prefill, then one decode step per token."""
    def encoder_states(self, encoder_tokens: TokenIds) -> FloatArray:
        """Encoder output after final_norm, (tokens, d_model)."""
    def embed(self, encoder_tokens: TokenIds) -> FloatArray:
        """Retrieval-head embedding (retrieval_dim,), L2-normalised."""
    def query_embedding(self, query: str) -> FloatArray:
        """Retrieval-head embedding of a query's tokens (cut to 1022)."""
    def tool_embeddings(self, tools: Tools) -> FloatArray:
        """(n_tools, retrieval_dim): each tool encoded alone as the prompt writes it."""
    def new_session(self) -> Session:
        """A fresh Session for driving prefill/decode by hand."""

class EvalItem:
    """One eval record: a request and the calls that answer it."""

    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def call_type(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def tools_json(self) -> str: ...
    @property
    def answers(self) -> List[Dict[str, Any]]:
        """[{'name': str, 'params': {key: [acceptable values]}}]; empty when the right output is no call."""

class DatasetError:
    """A record the reader skipped."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def message(self) -> str: ...

class Dataset:
    """Eval items read from one file."""

    @property
    def name(self) -> str: ...
    @property
    def items(self) -> List[EvalItem]: ...
    @property
    def errors(self) -> List[DatasetError]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[EvalItem]: ...
    def __getitem__(self, index: int) -> EvalItem: ...

def load_dataset(spec: str, limit: float = 0, seed: Optional[int] = None) -> Dataset:
    """Loads '[needle:|bfcl:|generic:]PATH'; limit as needle-eval's --limit (0: all, a fraction in (0, 1), or a
    count), the first items or, with seed, drawn at random (kept in file order)."""

class System:
    """A system under evaluation."""

    @property
    def name(self) -> str: ...
    def predict(self, item: EvalItem) -> Dict[str, Any]:
        """One request: {'text', 'latency_ms', 'ttft_ms', 'output_tokens', 'input_truncated'} (-1: unknown)."""
    @staticmethod
    def from_spec(spec: str, *, model_path: str = ..., tokenizer_path: str = ..., constrained: bool = True,
                  max_new_tokens: int = 511, threads: int = 0, stream: bool = True, timeout_seconds: float = 120.0,
                  processes: int = 1) -> System:
        """'[NAME=]needle[:ENGINE[:PRECISION]]', 'keyword', 'openai:URL[#MODEL]', 'command:PROGRAM ARGS...'."""
    @staticmethod
    def from_model(model: Model, name: Optional[str] = None, constrained: bool = True,
                   max_new_tokens: int = 511) -> System:
        """A loaded Model as a system (no second load)."""
    @staticmethod
    def from_callable(name: str, predict: Callable[[EvalItem], Union[str, Dict[str, Any]]]) -> System:
        """Any adapter in Python: predict(item) returns the output text or {'text', 'ttft_ms', 'output_tokens'}."""

class EvalRun:
    """A finished eval: report and per-item results."""

    @property
    def systems(self) -> List[str]: ...
    @property
    def report(self) -> Dict[str, Any]:
        """report.json as needle-eval writes it."""
    @property
    def items(self) -> List[Dict[str, Any]]:
        """predictions.jsonl as dicts: per item the output, parsed calls and score."""
    def result(self, system: Optional[str] = None, dataset: Optional[str] = None) -> Dict[str, Any]:
        """One system on one dataset: 'overall', 'by_category', 'by_call_type', 'by_tool_count', 'latency_ms' (KeyError if absent)."""
    def markdown(self) -> str: ...
    def html(self) -> str: ...
    def save(self, dir: str) -> None:
        """Writes predictions.jsonl, report.json, report.md and report.html as needle-eval --out does."""
    def _repr_html_(self) -> str: ...

def run_eval(systems: Sequence[System], datasets: Sequence[Dataset], *, parallel: int = 0,
             on_result: Optional[Callable[[int, int, Dict[str, Any]], None]] = None) -> EvalRun:
    """Runs every system on every item and scores each as needle-eval does."""

def run_bench(*, models: Optional[Sequence[str]] = None, n_prompt: Sequence[int] = ..., n_gen: Sequence[int] = ...,
              n_depth: Sequence[int] = ..., prompt_gen: Sequence[Tuple[int, int]] = ...,
              threads: Optional[Sequence[int]] = None, repetitions: int = 5, warmup: int = 1,
              engines: Sequence[str] = ..., precisions: Sequence[str] = ..., peers: Sequence[str] = ...,
              progress: Optional[Callable[[str], None]] = None) -> List[Dict[str, Any]]:
    """Runs needle-bench and returns its rows (the fields of -o json) as dicts."""

def format_bench_rows(rows: Sequence[Dict[str, Any]], format: str = "md") -> str:
    """Rows in needle-bench's output formats: md, csv, json, jsonl or html."""
