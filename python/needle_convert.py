"""Convert upstream Needle checkpoints to our safetensors layout, and make test checkpoints.

Command line (also importable; every subcommand is a plain function below):

    needle_convert.py convert IN.pkl OUT.safetensors [--dtype keep|f32|bf16]
    needle_convert.py random OUT.safetensors (--config NAME | --config-json JSON) [--seed N] [--dtype f32|bf16]
    needle_convert.py make-pickle OUT.pkl (--config NAME | --config-json JSON) [--seed N] [--dtype f32|bf16]
    needle_convert.py counts (--config NAME | --config-json JSON)

The layouts are the ones in NEEDLE.md (upstream `needle.pkl`) and docs/checkpoint-format.md
(ours). Only NumPy is needed: in particular neither JAX nor ml_dtypes, so bfloat16 arrays in
an upstream pickle are recovered by a restricted unpickler (see `_NeedleUnpickler`).
"""

import argparse
import io
import json
import math
import pickle
import sys
import types

import numpy as np

from needle_safetensors import (bf16_bits_to_f32, f32_to_bf16_bits, read_safetensors_raw,
                                write_safetensors)

# Upstream TransformerConfig defaults for the keys the network shape depends on. A pickle
# that leaves a key out was trained with this value.
DEFAULT_CONFIG = {
    "vocab_size": 8192,
    "d_model": 128,
    "num_heads": 4,
    "num_kv_heads": 2,
    "num_encoder_layers": 2,
    "num_decoder_layers": 2,
    "rope_theta": 10000,
}
CONFIG_KEYS = tuple(DEFAULT_CONFIG)

# Named configurations for `random` and `make-pickle`.
#   26m   - the released "Needle 1" model (26,315,421 parameters).
#   tiny  - upstream's TransformerConfig defaults; also the shape of models/default.
#   small - half the release's width and roughly half its depth: a middle point for
#           benchmarks that is still quick to write and run.
PRESETS = {
    "26m": {"vocab_size": 8192, "d_model": 512, "num_heads": 8, "num_kv_heads": 4,
            "num_encoder_layers": 12, "num_decoder_layers": 8, "rope_theta": 10000},
    "tiny": dict(DEFAULT_CONFIG),
    "small": {"vocab_size": 8192, "d_model": 256, "num_heads": 8, "num_kv_heads": 4,
              "num_encoder_layers": 6, "num_decoder_layers": 4, "rope_theta": 10000},
}

FORMAT_NAME = "needle"


class CheckpointError(ValueError):
    """An input checkpoint or configuration that we cannot (or must not) convert."""


# ---------------------------------------------------------------------------------------
# Configuration and parameter layout
# ---------------------------------------------------------------------------------------

def normalize_config(raw):
    """Return a config dict with exactly CONFIG_KEYS, defaults filled in, values checked.

    Other upstream kwargs (dropout and the like) do not change the inference network and
    are dropped, except `no_feedforward`: the engines only implement the feed-forward-free
    network, so a checkpoint trained with feed-forward blocks is refused outright rather
    than loaded with its blocks silently missing.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CheckpointError(f"config must be a dict of TransformerConfig kwargs, got {type(raw).__name__}")
    if "no_feedforward" in raw and not raw["no_feedforward"]:
        raise CheckpointError(
            "config has no_feedforward=false: this checkpoint has feed-forward blocks, which "
            "the Needle engines do not implement")

    config = {}
    for key, default in DEFAULT_CONFIG.items():
        value = raw.get(key, default)
        if key == "rope_theta":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise CheckpointError(f"config rope_theta must be a positive number, got {value!r}")
            # Integral thetas are written as integers so the JSON stays `10000`, as upstream.
            value = int(value) if float(value).is_integer() else float(value)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise CheckpointError(f"config {key} must be a positive integer, got {value!r}")
            value = int(value)
        config[key] = value

    d, heads, kv_heads = config["d_model"], config["num_heads"], config["num_kv_heads"]
    if d % heads:
        raise CheckpointError(f"d_model {d} is not divisible by num_heads {heads}")
    if heads % kv_heads:
        raise CheckpointError(f"num_heads {heads} is not a multiple of num_kv_heads {kv_heads}")
    if (d // heads) % 2:
        raise CheckpointError(f"head_dim {d // heads} must be even for rotate-half RoPE")
    if d % 4:
        raise CheckpointError(f"d_model {d} must be divisible by 4 (retrieval head width d/4)")
    return config


def config_json(config):
    """The compact JSON stored in the `needle_config` metadata entry."""
    return json.dumps({key: config[key] for key in CONFIG_KEYS}, separators=(",", ":"))


def param_shapes(config):
    """Map each tensor name of docs/checkpoint-format.md to its shape, grouped by part."""
    d = config["d_model"]
    head_dim = d // config["num_heads"]
    kv_dim = config["num_kv_heads"] * head_dim
    r = d // 4
    l_enc, l_dec = config["num_encoder_layers"], config["num_decoder_layers"]

    def attention(prefix, layers):
        return {
            f"{prefix}/q_proj/kernel": (layers, d, d),
            f"{prefix}/k_proj/kernel": (layers, d, kv_dim),
            f"{prefix}/v_proj/kernel": (layers, d, kv_dim),
            f"{prefix}/out_proj/kernel": (layers, d, d),
            f"{prefix}/q_norm/scale": (layers, head_dim),
            f"{prefix}/k_norm/scale": (layers, head_dim),
        }

    enc = "encoder/layers/EncoderBlock_0"
    dec = "decoder/layers/DecoderBlock_0"
    shapes = {"embedding/embedding": (config["vocab_size"], d)}
    shapes[f"{enc}/attn_gate"] = (l_enc,)
    shapes[f"{enc}/ZCRMSNorm_0/scale"] = (l_enc, d)
    shapes.update(attention(f"{enc}/self_attn", l_enc))
    shapes["encoder/final_norm/scale"] = (d,)
    shapes[f"{dec}/self_attn_gate"] = (l_dec,)
    shapes[f"{dec}/cross_attn_gate"] = (l_dec,)
    shapes[f"{dec}/ZCRMSNorm_0/scale"] = (l_dec, d)
    shapes[f"{dec}/ZCRMSNorm_1/scale"] = (l_dec, d)
    shapes.update(attention(f"{dec}/self_attn", l_dec))
    shapes.update(attention(f"{dec}/cross_attn", l_dec))
    shapes["decoder/ZCRMSNorm_0/scale"] = (d,)
    shapes["contrastive_hidden/kernel"] = (d, r)
    shapes["contrastive_hidden/bias"] = (r,)
    shapes["contrastive_proj/kernel"] = (r, r)
    shapes["log_temp"] = ()
    return shapes


def _part(name):
    if name.startswith("embedding/"):
        return "embedding"
    if name.startswith("encoder/"):
        return "encoder"
    if name.startswith("decoder/"):
        return "decoder"
    return "retrieval"


def param_counts(config):
    """Parameter counts per part (embedding, encoder, decoder, retrieval) and in total."""
    counts = {"embedding": 0, "encoder": 0, "decoder": 0, "retrieval": 0}
    for name, shape in param_shapes(normalize_config(config)).items():
        counts[_part(name)] += math.prod(shape)
    counts["total"] = sum(counts.values())
    return counts


def validate_params(flat, config):
    """Check that `flat` (name -> array-like) has exactly the expected names and shapes."""
    expected = param_shapes(config)
    problems = []
    for name, shape in expected.items():
        if name not in flat:
            problems.append(f"missing parameter {name} (expected shape {shape})")
        elif tuple(flat[name].shape) != shape:
            problems.append(
                f"parameter {name} has shape {tuple(flat[name].shape)}, expected {shape}")
    for name in flat:
        if name not in expected:
            problems.append(f"unexpected parameter {name} with shape {tuple(flat[name].shape)}")
    if problems:
        raise CheckpointError(
            "checkpoint does not match config " + config_json(config) + ":\n  " + "\n  ".join(problems))


def flatten(tree, prefix=""):
    """Nested dict -> {"a/b/c": leaf}, the naming of flax parameter paths."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def nest(flat):
    """{"a/b/c": leaf} -> nested dict, the inverse of `flatten`."""
    tree = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


# ---------------------------------------------------------------------------------------
# Reading upstream pickles
# ---------------------------------------------------------------------------------------

class Bf16Array:
    """A bfloat16 array held as its uint16 bit patterns (NumPy has no bfloat16 dtype)."""

    def __init__(self, bits):
        self.bits = np.asarray(bits, dtype=np.uint16, order="C")

    @property
    def shape(self):
        return self.bits.shape

    def to_float32(self):
        return bf16_bits_to_f32(self.bits)

    def __repr__(self):
        return f"Bf16Array(shape={self.shape})"


class _Bf16ScalarType:
    """Stands in for the `ml_dtypes.bfloat16` scalar type while unpickling."""


class _Bf16Descr:
    """Stands in for `numpy.dtype(ml_dtypes.bfloat16)` while unpickling.

    numpy's pickle of that dtype ends in BUILD with the dtype state
    (3, byteorder, None, None, None, -1, -1, flags); only the byte order matters to us.
    """
    itemsize = 2

    def __init__(self):
        self.byteorder = "<"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byteorder = ">" if state[1] == ">" else "<"


def _raw_to_leaf(raw, dtype, shape, fortran=False):
    """Build an ndarray (or Bf16Array) from the raw bytes numpy put in a pickle."""
    shape = tuple(int(n) for n in shape)
    count = math.prod(shape)
    if isinstance(dtype, _Bf16Descr):
        bits = np.frombuffer(raw, dtype=np.dtype(dtype.byteorder + "u2"), count=count)
        bits = bits.reshape(shape, order="F" if fortran else "C")
        return Bf16Array(bits.astype(np.uint16))
    if not isinstance(dtype, np.dtype):
        raise CheckpointError(f"array with unexpected dtype object {dtype!r} in pickle")
    if dtype.hasobject or dtype.fields is not None:
        raise CheckpointError(f"array with dtype {dtype} in pickle: only float arrays are supported")
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return array.astype(dtype.newbyteorder("="), order="C", copy=True)


class _PendingArray:
    """Returned by the `_reconstruct` stand-in; filled in by pickle's BUILD.

    numpy pickles an ndarray as `_reconstruct(ndarray, (0,), b"b")` followed by
    `__setstate__((version, shape, dtype, is_fortran, raw_bytes))`. By the time BUILD runs
    the dtype is known, and that is the first moment we can tell a bfloat16 array from a
    real numpy one, so the array is only built here. `_resolve` swaps these out afterwards.
    """

    def __init__(self):
        self.value = None

    def __setstate__(self, state):
        if len(state) == 5:
            _, shape, dtype, fortran, raw = state
        elif len(state) == 4:  # the pre-versioned numpy state
            shape, dtype, fortran, raw = state
        else:
            raise CheckpointError("ndarray pickle state has an unknown layout")
        if isinstance(raw, str):  # protocol 0/1 pickles carry the bytes as latin-1 text
            raw = raw.encode("latin-1")
        if not isinstance(raw, (bytes, bytearray)):
            raise CheckpointError("ndarray pickle state holds Python objects, not raw numbers")
        self.value = _raw_to_leaf(raw, dtype, shape, bool(fortran))


def _reconstruct_standin(cls, shape, typecode):
    return _PendingArray()


def _frombuffer_standin(buffer, dtype, shape, order):
    # numpy's pickle-protocol-5 path: the array bytes come first, fully formed.
    return _raw_to_leaf(bytes(buffer), dtype, shape, fortran=(order == "F"))


def _scalar_standin(dtype, raw):
    # numpy scalars (np.float32(1.5) and so on) pickle as `scalar(dtype, raw_bytes)`.
    if isinstance(raw, str):
        raw = raw.encode("latin-1")
    return _raw_to_leaf(raw, dtype, ())


def _dtype_standin(obj, align=False, copy=False):
    if obj is _Bf16ScalarType:
        return _Bf16Descr()
    # A real numpy dtype; `copy=True` (what numpy pickles) gives a private descriptor, so the
    # BUILD that follows cannot disturb numpy's shared built-in ones.
    return np.dtype(obj, align, copy)


def _frozen_dict_standin(*args, **kwargs):
    # flax FrozenDict pickles as FrozenDict(plain_dict); a plain dict is all we need.
    return dict(*args, **kwargs)


# Where JAX-era tools have kept the bfloat16 scalar type over the years. A numpy dtype
# pickle names the scalar type by its module and name, so any of these can appear.
_BF16_MODULE_ROOTS = ("ml_dtypes", "jax", "jaxlib", "tensorflow", "tensorflow_core")

# The globals a needle.pkl's arrays are built from. Anything else becomes an inert `_Foreign`
# placeholder, so the unpickler never imports or runs code named by an untrusted file.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_standin,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_standin,  # numpy >= 2
    ("numpy.core.multiarray", "scalar"): _scalar_standin,
    ("numpy._core.multiarray", "scalar"): _scalar_standin,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer_standin,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer_standin,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype_standin,
    ("_codecs", "encode"): __import__("codecs").encode,  # how protocol 2 spells bytes
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("flax.core.frozen_dict", "FrozenDict"): _frozen_dict_standin,
}


class _Foreign:
    """Inert placeholder for any other class or function a pickle names.

    Upstream pickles may carry extra entries next to "params" and "config" (run metadata
    and the like) whose classes are not installed here. Such entries are ignored, so they
    must unpickle without importing anything: a placeholder records what it was given and
    never runs code. Should one turn up where an array or the config is needed, the error
    names the class it stands for.
    """
    qualname = "?"

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self.args, self.state, self.items = args, None, []
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    # Pickled containers are filled through these after construction.
    def __setitem__(self, key, value):
        self.items.append((key, value))

    def append(self, value):
        self.items.append(value)

    def extend(self, values):
        self.items.extend(values)


class _NeedleUnpickler(pickle.Unpickler):
    """Unpickles a needle.pkl without JAX or ml_dtypes; never imports what a pickle names."""

    def find_class(self, module, name):
        if name == "bfloat16" and module.split(".")[0] in _BF16_MODULE_ROOTS:
            return _Bf16ScalarType
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module.split(".")[0] == "numpy" and name in ("float32", "float16", "float64"):
            return getattr(np, name)
        if module.split(".")[0] == "ml_dtypes":
            raise CheckpointError(
                f"pickle uses the ml_dtypes type {name}; only bfloat16 is supported")
        return type(name, (_Foreign,), {"qualname": f"{module}.{name}"})


def _resolve(obj):
    """Replace the unpickler's placeholders with the arrays they stand for."""
    if isinstance(obj, _PendingArray):
        if obj.value is None:
            raise CheckpointError("ndarray in pickle was never given its data")
        return obj.value
    if isinstance(obj, dict):
        return {key: _resolve(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(value) for value in obj)
    return obj


def _leaf_array(name, value):
    """Coerce one parameter leaf to an ndarray (float) or Bf16Array, or fail clearly."""
    if isinstance(value, Bf16Array):
        return value
    if isinstance(value, (float, int, np.generic)) and not isinstance(value, bool):
        value = np.asarray(value)
    if isinstance(value, _Foreign):
        hint = ""
        if value.qualname.split(".")[0] in ("jax", "jaxlib"):
            hint = ": save the params as numpy arrays (jax.device_get / np.asarray) before pickling"
        raise CheckpointError(f"parameter {name} is a {value.qualname} object, not a numpy array{hint}")
    if not isinstance(value, np.ndarray):
        raise CheckpointError(f"parameter {name} is a {type(value).__name__}, not an array")
    if value.dtype.kind != "f":
        raise CheckpointError(f"parameter {name} has dtype {value.dtype}, expected a float type")
    return value


def load_upstream_pickle(path):
    """Read an upstream needle.pkl; return (normalized config, {param path: leaf}).

    Leaves are float ndarrays or `Bf16Array`s. Keys other than "params" and "config"
    (format_version, step, run, ...) are ignored.
    """
    with open(path, "rb") as f:
        try:
            checkpoint = _resolve(_NeedleUnpickler(f).load())
        except CheckpointError:
            raise
        except Exception as err:  # truncated or corrupt pickles raise all sorts of things
            raise CheckpointError(f"{path}: cannot unpickle: {type(err).__name__}: {err}") from None
    if not isinstance(checkpoint, dict) or "params" not in checkpoint:
        raise CheckpointError(f"{path}: expected a dict with 'params' and 'config' keys")
    params = checkpoint["params"]
    if not isinstance(params, dict):
        raise CheckpointError(f"{path}: 'params' is not a nested dict")
    # Some flax versions wrap the tree as {"params": {...}} once more.
    if set(params) == {"params"} and isinstance(params["params"], dict):
        params = params["params"]
    config = checkpoint.get("config")
    if isinstance(config, _Foreign):
        # A config object (say a TransformerConfig dataclass) pickles its fields as state.
        if not isinstance(config.state, dict):
            raise CheckpointError(f"{path}: config is a {config.qualname} object without readable fields")
        config = config.state
    config = normalize_config(config)
    flat = {name: _leaf_array(name, value) for name, value in flatten(params).items()}
    return config, flat


# ---------------------------------------------------------------------------------------
# Writing our safetensors checkpoints
# ---------------------------------------------------------------------------------------

def _cast(leaf, dtype):
    """Convert one leaf for writing: returns float32, float16 or uint16 (bf16 bits)."""
    if dtype == "keep":
        if isinstance(leaf, Bf16Array):
            return leaf.bits
        if leaf.dtype == np.float16:
            return leaf
        return leaf.astype(np.float32)  # float32 stays; float64 has no place in our format
    as_f32 = leaf.to_float32() if isinstance(leaf, Bf16Array) else np.asarray(leaf, np.float32)
    if dtype == "f32":
        return as_f32
    if dtype == "bf16":
        return leaf.bits if isinstance(leaf, Bf16Array) else f32_to_bf16_bits(as_f32)
    raise CheckpointError(f"unknown dtype {dtype!r} (keep, f32 or bf16)")


def write_checkpoint(path, config, flat, dtype="keep"):
    """Validate `flat` against `config` and write it as a needle safetensors file."""
    config = normalize_config(config)
    validate_params(flat, config)
    tensors = {name: _cast(leaf, dtype) for name, leaf in flat.items()}
    metadata = {"format": FORMAT_NAME, "needle_config": config_json(config)}
    write_safetensors(path, tensors, metadata)


def convert(in_path, out_path, dtype="keep"):
    """Convert an upstream needle.pkl to our safetensors layout; return the config."""
    config, flat = load_upstream_pickle(in_path)
    write_checkpoint(out_path, config, flat, dtype)
    return config


def read_checkpoint_config(path):
    """The config stored in one of our safetensors files (no defaults applied)."""
    metadata, _ = read_safetensors_raw(path)
    if metadata.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: metadata format is {metadata.get('format')!r}, expected 'needle'")
    return json.loads(metadata["needle_config"])


# ---------------------------------------------------------------------------------------
# Random checkpoints
# ---------------------------------------------------------------------------------------

# Scales for random weights. An untrained network must still behave like a network:
# activations of order one into every sublayer, logits with a spread of about one unit, and
# greedy decoding that neither stops at once nor depends only on position. Left at textbook
# values (all kernels N(0, 1/fan_in), norm scales 0) a random Needle degenerates: the
# decoder's own input embedding dominates its tied output, so every step copies its input
# token and decoding from [EOS] emits EOS immediately. The values below were chosen by
# measuring greedy runs on the tiny, small and 26m configs:
#  - dense kernels N(0, 1/fan_in), except out_proj, which is OUT_PROJ_GAIN times larger so
#    that the attention sublayers outweigh the token's own embedding in the residual stream;
#  - embedding N(0, EMBED_RMS^2 / d): the input embedding * sqrt(d) then has RMS EMBED_RMS,
#    and so does the spread of the tied logits;
#  - q_norm / k_norm scales around QK_SCALE_MEAN: (1 + 2)^2 = 9 times sharper attention
#    than at scale 0, so each position attends to a few keys instead of averaging them all,
#    which gives the decoder position- and input-dependent outputs (trained models have
#    sharp heads too);
#  - other norm scales and gates: small random values around their zero start, so each
#    layer differs and a layer-indexing bug shows up in parity tests;
#  - log_temp: log(1/0.07), the usual CLIP starting temperature.
EMBED_RMS = 1.0
OUT_PROJ_GAIN = 8.0
QK_SCALE_MEAN = 2.0
NORM_SCALE_STD = 0.1
GATE_STD = 0.5
BIAS_STD = 0.02
LOG_TEMP = math.log(1.0 / 0.07)


def random_params(config, seed=0):
    """Random float32 weights for `config`, as {tensor name: array} in canonical order."""
    config = normalize_config(config)
    rng = np.random.default_rng(seed)
    embed_std = EMBED_RMS / math.sqrt(config["d_model"])
    flat = {}
    for name, shape in param_shapes(config).items():
        leaf = name.rsplit("/", 1)[-1]
        mean = 0.0
        if name == "log_temp":
            std, mean = 0.0, LOG_TEMP
        elif name == "embedding/embedding":
            std = embed_std
        elif leaf == "kernel":
            std = 1.0 / math.sqrt(shape[-2])  # fan_in: kernels are (in, out), maybe stacked
            if name.endswith("out_proj/kernel"):
                std *= OUT_PROJ_GAIN
        elif name.endswith(("q_norm/scale", "k_norm/scale")):
            std, mean = NORM_SCALE_STD, QK_SCALE_MEAN
        elif leaf == "scale":
            std = NORM_SCALE_STD
        elif leaf.endswith("gate"):
            std = GATE_STD
        elif leaf == "bias":
            std = BIAS_STD
        else:
            raise AssertionError(f"no init rule for {name}")
        # Drawing every tensor (even log_temp) keeps later tensors' values independent of
        # whether an earlier rule changes.
        normal = rng.standard_normal(shape, dtype=np.float32)
        flat[name] = normal * np.float32(std) + np.float32(mean)
    return flat


def write_random_checkpoint(path, config, seed=0, dtype="f32"):
    """Write a random-weight checkpoint for `config` to `path`; return the config."""
    if dtype not in ("f32", "bf16"):
        raise CheckpointError(f"random checkpoints are f32 or bf16, not {dtype!r}")
    config = normalize_config(config)
    write_checkpoint(path, config, random_params(config, seed), dtype)
    return config


# ---------------------------------------------------------------------------------------
# Writing upstream-style pickles (test inputs for the converter)
# ---------------------------------------------------------------------------------------
#
# What a real upstream needle.pkl holds: `pickle.dump({"params": tree, "config": {...}, ...})`
# where `tree` is the nested dict of numpy arrays that flax produced. float32 arrays pickle
# the ordinary numpy way (that is what we write for them too, by pickling real arrays).
# A bfloat16 array pickles the same way, but its dtype is an ml_dtypes user-defined numpy
# dtype, and numpy's dtype reduce for user-defined types names the *scalar type* instead of
# a type string:
#
#     numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b"b")       # REDUCE
#     BUILD (1, shape,
#            numpy.dtype(ml_dtypes.bfloat16, False, True)                 # REDUCE
#              BUILD (3, "<", None, None, None, -1, -1, 112),
#            False, <2 bytes per element, little-endian bf16 bits>)
#
# (112 = NPY_NEEDS_PYAPI | NPY_USE_GETITEM | NPY_USE_SETITEM, the flags ml_dtypes registers;
# -1/-1 because a user-defined dtype is not a flexible type). With pickle protocol 5 numpy
# instead writes `numpy.core.numeric._frombuffer(<bytes>, dtype, shape, "C")`, and numpy 2
# spells the modules `numpy._core.*`.
#
# ml_dtypes is not installed here, so we produce exactly those opcodes with stand-ins:
# `_UpstreamArray.__reduce__` returns the reconstruct call and state above, and for the
# duration of the dump a fake `ml_dtypes` module (and, when asked, fake `numpy._core`
# modules) is put in sys.modules so that pickle writes the stand-ins under the real names.
# The pickle therefore refers to `ml_dtypes.bfloat16` just as a real one does, and loading
# it exercises the converter's real unpickling path.

_ML_DTYPES_BF16_FLAGS = 0x10 | 0x20 | 0x40


class _FakeMlDtypesBfloat16:
    """Pickled under the name ml_dtypes.bfloat16 (see the module set-up in `_fake_modules`)."""


class _UpstreamBf16Descr:
    """Pickles exactly as numpy pickles `numpy.dtype(ml_dtypes.bfloat16)`."""

    def __reduce__(self):
        return (np.dtype, (_FakeMlDtypesBfloat16, False, True),
                (3, "<", None, None, None, -1, -1, _ML_DTYPES_BF16_FLAGS))


class _UpstreamArray:
    """Pickles as numpy would pickle an array with the given descriptor and raw bytes."""

    def __init__(self, raw, shape, descr, style):
        self.raw, self.shape, self.descr, self.style = raw, tuple(shape), descr, style

    def __reduce__(self):
        funcs = self.style["funcs"]
        if self.style["protocol"] >= 5:
            buffer = pickle.PickleBuffer(bytearray(self.raw))
            return (funcs["_frombuffer"], (buffer, self.descr, self.shape, "C"))
        return (funcs["_reconstruct"], (np.ndarray, (0,), b"b"),
                (1, self.shape, self.descr, False, self.raw))


class _fake_modules:
    """Temporarily install fake modules so pickle can name stand-ins by upstream's names."""

    def __init__(self, modules):
        self.modules = modules
        self.saved = {}

    def __enter__(self):
        for name, module in self.modules.items():
            self.saved[name] = sys.modules.get(name)
            sys.modules[name] = module
        return self

    def __exit__(self, *exc):
        for name, previous in self.saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        return False


def _make_module(name, **attrs):
    module = types.ModuleType(name)
    for attr, value in attrs.items():
        value.__module__ = name
        value.__qualname__ = attr
        setattr(module, attr, value)
    return module


def _numpy_style(numpy_module, protocol):
    """The reconstruct functions to name in the pickle, and fake modules they need."""
    if numpy_module == "numpy.core":
        # Real numpy functions: pickle names them numpy.core.multiarray._reconstruct etc.
        funcs = {"_reconstruct": np.core.multiarray._reconstruct,
                 "_frombuffer": np.core.numeric._frombuffer}
        return {"funcs": funcs, "protocol": protocol, "fake": {}}
    if numpy_module == "numpy._core":
        # numpy 2 names; the functions only need to exist long enough to be named.
        def _reconstruct(*args):
            raise AssertionError("stand-in, never called")

        def _frombuffer(*args):
            raise AssertionError("stand-in, never called")

        fake = {
            "numpy._core": _make_module("numpy._core"),
            "numpy._core.multiarray": _make_module("numpy._core.multiarray", _reconstruct=_reconstruct),
            "numpy._core.numeric": _make_module("numpy._core.numeric", _frombuffer=_frombuffer),
        }
        funcs = {"_reconstruct": fake["numpy._core.multiarray"]._reconstruct,
                 "_frombuffer": fake["numpy._core.numeric"]._frombuffer}
        return {"funcs": funcs, "protocol": protocol, "fake": fake}
    raise CheckpointError(f"numpy_module must be numpy.core or numpy._core, not {numpy_module!r}")


def write_upstream_pickle(path, params_tree, config, *, protocol=4, numpy_module="numpy.core",
                          extra=None):
    """Write {"params": params_tree, "config": config, **extra} the way upstream does.

    Leaves of `params_tree` may be float ndarrays or `Bf16Array`s; the latter are written as
    ml_dtypes bfloat16 arrays (see the comment above). `config` is written as given, so a
    test can leave keys out or add foreign ones.
    """
    style = _numpy_style(numpy_module, protocol)
    bf16_descr = _UpstreamBf16Descr()  # one shared object, as numpy shares its descriptor

    def encode(value):
        if isinstance(value, dict):
            return {key: encode(item) for key, item in value.items()}
        if isinstance(value, Bf16Array):
            raw = value.bits.astype("<u2").tobytes()
            return _UpstreamArray(raw, value.shape, bf16_descr, style)
        if isinstance(value, np.ndarray) and style["fake"]:
            raw = np.asarray(value, order="C").tobytes()
            return _UpstreamArray(raw, value.shape, value.dtype, style)
        return value

    checkpoint = {"params": encode(params_tree), "config": dict(config)}
    checkpoint.update(extra or {})
    fake = dict(style["fake"])
    fake["ml_dtypes"] = _make_module("ml_dtypes", bfloat16=_FakeMlDtypesBfloat16)
    buffer = io.BytesIO()
    with _fake_modules(fake):
        pickle.dump(checkpoint, buffer, protocol=protocol)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def make_pickle(path, config, seed=0, dtype="f32", protocol=4, numpy_module="numpy.core"):
    """Write a random-weight upstream-layout needle.pkl; return the float32 params used.

    With dtype "bf16" the pickled arrays are bfloat16 (ml_dtypes), and the returned params
    are those bfloat16 values widened back to float32.
    """
    config = normalize_config(config)
    flat = random_params(config, seed)
    if dtype == "bf16":
        flat = {name: Bf16Array(f32_to_bf16_bits(value)) for name, value in flat.items()}
    elif dtype != "f32":
        raise CheckpointError(f"make-pickle dtype is f32 or bf16, not {dtype!r}")
    write_upstream_pickle(path, nest(flat), config, protocol=protocol, numpy_module=numpy_module,
                          extra={"format_version": 1, "step": 0})
    return {name: (v.to_float32() if isinstance(v, Bf16Array) else v) for name, v in flat.items()}


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------

def _config_from_args(args):
    if args.config_json is not None:
        try:
            return normalize_config(json.loads(args.config_json))
        except json.JSONDecodeError as err:
            raise CheckpointError(f"--config-json is not valid JSON: {err}") from None
    return dict(PRESETS[args.config])


def _add_config_options(parser):
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--config", choices=sorted(PRESETS), help="a named configuration")
    group.add_argument("--config-json", help="a JSON object of config keys (absent keys take defaults)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("convert", help="upstream needle.pkl -> needle safetensors")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--dtype", choices=["keep", "f32", "bf16"], default="keep")

    p = sub.add_parser("random", help="write a random-weight checkpoint")
    p.add_argument("output")
    _add_config_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")

    p = sub.add_parser("make-pickle", help="write a random-weight pickle in upstream's layout")
    p.add_argument("output")
    _add_config_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--protocol", type=int, choices=[2, 3, 4, 5], default=4,
                   help="pickle protocol (upstream's pickle.dump default is 4)")
    p.add_argument("--numpy-module", choices=["numpy.core", "numpy._core"], default="numpy.core",
                   help="module names numpy 1.x or numpy 2.x would write")

    p = sub.add_parser("counts", help="print parameter counts for a config")
    _add_config_options(p)

    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            config = convert(args.input, args.output, args.dtype)
            print(f"wrote {args.output}: {config_json(config)}, {param_counts(config)['total']:,} parameters")
        elif args.command == "random":
            config = write_random_checkpoint(args.output, _config_from_args(args), args.seed, args.dtype)
            print(f"wrote {args.output}: {config_json(config)}, {param_counts(config)['total']:,} parameters")
        elif args.command == "make-pickle":
            config = _config_from_args(args)
            make_pickle(args.output, config, args.seed, args.dtype, args.protocol, args.numpy_module)
            print(f"wrote {args.output}: {config_json(config)}")
        elif args.command == "counts":
            print(json.dumps(param_counts(_config_from_args(args))))
    except (CheckpointError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
