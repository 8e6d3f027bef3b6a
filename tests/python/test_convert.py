"""Tests of the safetensors reader/writer and of the upstream-pickle converter."""

import dataclasses
import json
import os
import pickle
import pickletools
import subprocess
import sys

import numpy as np
import pytest

import needle_convert as nc
import needle_safetensors as st

# A config small enough that every converter test runs in milliseconds.
SMALL = {"vocab_size": 64, "d_model": 16, "num_heads": 4, "num_kv_heads": 2,
         "num_encoder_layers": 2, "num_decoder_layers": 1, "rope_theta": 500}


def raw_tensors(path):
    metadata, raw = st.read_safetensors_raw(path)
    return metadata, raw


def pickle_globals(path):
    """(module, name) pairs a pickle refers to, read from its opcodes."""
    found, strings = set(), []
    with open(path, "rb") as f:
        for opcode, arg, _ in pickletools.genops(f):
            if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                strings.append(arg)
            elif opcode.name == "STACK_GLOBAL":
                found.add((strings[-2], strings[-1]))
            elif opcode.name == "GLOBAL":
                found.add(tuple(arg.split(" ", 1)))
    return found


# --- bfloat16 helpers ------------------------------------------------------------------

def test_bf16_rounding_is_nearest_even():
    values = np.array([
        1.0,
        1.0 + 2.0 ** -8,             # exactly halfway between 1 and the next bf16: ties to even (down)
        1.0 + 3 * 2.0 ** -8,         # halfway, odd lower neighbour: ties to even (up)
        1.0 + 2.0 ** -8 + 2.0 ** -20,  # just above halfway: up
        -2.5, 0.0, -0.0, np.inf, -np.inf,
        3.4e38,                      # above the largest bf16, rounds to infinity
    ], dtype=np.float32)
    bits = st.f32_to_bf16_bits(values)
    assert [hex(b) for b in bits] == ["0x3f80", "0x3f80", "0x3f82", "0x3f81", "0xc020",
                                      "0x0", "0x8000", "0x7f80", "0xff80", "0x7f80"]


def test_bf16_nan_stays_nan_and_widening_is_exact():
    bits = st.f32_to_bf16_bits(np.array([np.nan, -np.nan], dtype=np.float32))
    assert np.all(np.isnan(st.bf16_bits_to_f32(bits)))
    every = np.arange(0, 1 << 16, dtype=np.uint32).astype(np.uint16)
    finite = every[np.isfinite(st.bf16_bits_to_f32(every))]
    # Widening then rounding back is the identity on every finite bf16 value.
    assert np.array_equal(st.f32_to_bf16_bits(st.bf16_bits_to_f32(finite)), finite)


def test_bf16_helpers_keep_zero_dimensional_shape():
    assert st.f32_to_bf16_bits(np.float32(1.5)).shape == ()
    assert st.bf16_bits_to_f32(np.uint16(0x3FC0)).shape == ()
    assert float(st.bf16_bits_to_f32(np.uint16(0x3FC0))) == 1.5


# --- safetensors -----------------------------------------------------------------------

def test_safetensors_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "b/f32": rng.standard_normal((3, 5)).astype(np.float32),
        "a/f16": rng.standard_normal((7,)).astype(np.float16),
        "c/bf16": st.f32_to_bf16_bits(rng.standard_normal((2, 2, 3)).astype(np.float32)),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    path = tmp_path / "x.safetensors"
    st.write_safetensors(path, tensors, {"format": "needle", "k": "v"})

    metadata, raw = st.read_safetensors_raw(path)
    assert metadata == {"format": "needle", "k": "v"}
    assert {name: dtype for name, (dtype, _) in raw.items()} == {
        "b/f32": "F32", "a/f16": "F16", "c/bf16": "BF16", "scalar": "F32", "empty": "F32"}
    for name, value in tensors.items():
        assert raw[name][1].shape == value.shape
        assert np.array_equal(raw[name][1], value)

    _, as_f32 = st.read_safetensors(path)
    assert all(v.dtype == np.float32 for v in as_f32.values())
    assert np.array_equal(as_f32["c/bf16"], st.bf16_bits_to_f32(tensors["c/bf16"]))


def test_safetensors_layout_is_aligned_and_deterministic(tmp_path):
    tensors = {"z": np.ones((3,), np.float32), "a": np.ones((5,), np.float16)}
    first, second = tmp_path / "1.safetensors", tmp_path / "2.safetensors"
    st.write_safetensors(first, tensors, {"format": "needle"})
    st.write_safetensors(second, dict(reversed(list(tensors.items()))), {"format": "needle"})
    blob = first.read_bytes()
    assert blob == second.read_bytes()
    header_len = int.from_bytes(blob[:8], "little")
    assert header_len % 8 == 0
    header = json.loads(blob[8:8 + header_len])
    assert list(header) == ["__metadata__", "a", "z"]  # stable, sorted order
    assert blob[8:8 + header_len].rstrip(b" ") == json.dumps(header, separators=(",", ":")).encode()


def test_safetensors_reader_rejects_truncated_file(tmp_path):
    path = tmp_path / "x.safetensors"
    st.write_safetensors(path, {"w": np.ones((10, 10), np.float32)}, {"format": "needle"})
    blob = path.read_bytes()
    for cut in (len(blob) - 4, 100, 8, 3):
        path.write_bytes(blob[:cut])
        with pytest.raises(st.SafetensorsError, match="truncated|too short|outside"):
            st.read_safetensors(path)


def _write_raw(path, header, data):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


@pytest.mark.parametrize("header, data, message", [
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4), "needs 8"),
    ({"w": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4), "unsupported dtype"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
      "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(8), "overlaps"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8), "gap"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(8), "trailing"),
    ({"a": {"dtype": "F32", "shape": [1]}}, bytes(4), "malformed"),
])
def test_safetensors_reader_rejects_bad_layouts(tmp_path, header, data, message):
    path = tmp_path / "bad.safetensors"
    _write_raw(path, header, data)
    with pytest.raises(st.SafetensorsError, match=message):
        st.read_safetensors(path)


# --- configs and parameter counts --------------------------------------------------------

def test_26m_parameter_count():
    counts = nc.param_counts(nc.PRESETS["26m"])
    assert counts == {"embedding": 4_194_304, "encoder": 9_445_388, "decoder": 12_593_680,
                      "retrieval": 82_049, "total": 26_315_421}


def test_26m_random_checkpoint_file(tmp_path):
    path = tmp_path / "26m.safetensors"
    nc.write_random_checkpoint(path, nc.PRESETS["26m"], seed=1, dtype="bf16")
    metadata, raw = st.read_safetensors_raw(path)
    assert metadata["format"] == "needle"
    assert json.loads(metadata["needle_config"]) == nc.PRESETS["26m"]
    assert sum(a.size for _, a in raw.values()) == 26_315_421
    assert {dtype for dtype, _ in raw.values()} == {"BF16"}
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    assert os.path.getsize(path) == 8 + header_len + 2 * 26_315_421
    assert set(raw) == set(nc.param_shapes(nc.PRESETS["26m"]))


def test_normalize_config_fills_defaults_and_checks_values():
    assert nc.normalize_config({}) == nc.DEFAULT_CONFIG
    assert nc.normalize_config({"d_model": 64, "dropout": 0.1})["d_model"] == 64
    assert nc.normalize_config({"rope_theta": 10000.0})["rope_theta"] == 10000
    assert nc.normalize_config({"rope_theta": 5e5})["rope_theta"] == 500000
    assert nc.normalize_config({"no_feedforward": True}) == nc.DEFAULT_CONFIG
    with pytest.raises(nc.CheckpointError, match="no_feedforward"):
        nc.normalize_config({"no_feedforward": False})
    with pytest.raises(nc.CheckpointError, match="divisible"):
        nc.normalize_config({"d_model": 100, "num_heads": 3})
    with pytest.raises(nc.CheckpointError, match="multiple of num_kv_heads"):
        nc.normalize_config({"num_heads": 4, "num_kv_heads": 3})
    with pytest.raises(nc.CheckpointError, match="positive integer"):
        nc.normalize_config({"num_encoder_layers": 0})


# --- converting upstream pickles ---------------------------------------------------------

@pytest.mark.parametrize("protocol, numpy_module", [
    (4, "numpy.core"), (2, "numpy.core"), (5, "numpy.core"), (4, "numpy._core"), (5, "numpy._core")])
def test_convert_f32_pickle_round_trips_exactly(tmp_path, protocol, numpy_module):
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    expected = nc.make_pickle(pkl, SMALL, seed=3, dtype="f32", protocol=protocol, numpy_module=numpy_module)
    config = nc.convert(pkl, out, "keep")
    assert config == SMALL
    metadata, raw = raw_tensors(out)
    assert metadata == {"format": "needle", "needle_config": nc.config_json(SMALL)}
    assert set(raw) == set(expected)
    for name, value in expected.items():
        dtype, array = raw[name]
        assert dtype == "F32"
        assert array.shape == nc.param_shapes(SMALL)[name]
        assert np.array_equal(array, value), name


@pytest.mark.parametrize("protocol, numpy_module", [
    (4, "numpy.core"), (2, "numpy.core"), (5, "numpy.core"), (4, "numpy._core")])
def test_convert_bf16_pickle_keeps_bits(tmp_path, protocol, numpy_module):
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    nc.make_pickle(pkl, SMALL, seed=4, dtype="bf16", protocol=protocol, numpy_module=numpy_module)
    # The pickle names ml_dtypes' scalar type exactly as a real upstream bf16 pickle does.
    assert ("ml_dtypes", "bfloat16") in pickle_globals(pkl)
    expected_bits = {name: st.f32_to_bf16_bits(v) for name, v in nc.random_params(SMALL, 4).items()}

    nc.convert(pkl, out, "keep")
    _, raw = raw_tensors(out)
    for name, bits in expected_bits.items():
        dtype, array = raw[name]
        assert dtype == "BF16"
        assert array.dtype == np.uint16 and np.array_equal(array, bits), name

    nc.convert(pkl, out, "f32")
    _, raw = raw_tensors(out)
    for name, bits in expected_bits.items():
        assert raw[name][0] == "F32"
        assert np.array_equal(raw[name][1], st.bf16_bits_to_f32(bits)), name


def test_bf16_pickle_cannot_be_loaded_by_plain_pickle(tmp_path):
    # Without ml_dtypes a stock unpickler fails: the converter's own path is really needed.
    pkl = tmp_path / "needle.pkl"
    nc.make_pickle(pkl, SMALL, seed=0, dtype="bf16")
    with open(pkl, "rb") as f, pytest.raises((ImportError, AttributeError)):
        pickle.load(f)


def test_convert_f32_pickle_to_bf16(tmp_path):
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    expected = nc.make_pickle(pkl, SMALL, seed=5, dtype="f32")
    nc.convert(pkl, out, "bf16")
    _, raw = raw_tensors(out)
    for name, value in expected.items():
        assert raw[name][0] == "BF16"
        assert np.array_equal(raw[name][1], st.f32_to_bf16_bits(value))


def test_convert_keeps_float16_and_narrows_float64(tmp_path):
    flat = nc.random_params(SMALL, 6)
    flat["embedding/embedding"] = flat["embedding/embedding"].astype(np.float16)
    flat["log_temp"] = np.float64(2.5)  # a numpy scalar, not an array
    flat["encoder/final_norm/scale"] = flat["encoder/final_norm/scale"].astype(np.float64)
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    nc.write_upstream_pickle(pkl, nc.nest(flat), SMALL)
    nc.convert(pkl, out, "keep")
    _, raw = raw_tensors(out)
    assert raw["embedding/embedding"][0] == "F16"
    assert np.array_equal(raw["embedding/embedding"][1], flat["embedding/embedding"])
    assert raw["log_temp"][0] == "F32" and raw["log_temp"][1].shape == ()
    assert float(raw["log_temp"][1]) == 2.5
    assert raw["encoder/final_norm/scale"][0] == "F32"


def test_convert_whole_float16_pickle_as_upstreams_trainer_writes_it(tmp_path):
    # Upstream's train.py casts every parameter to float16 before pickling.
    flat = {name: np.asarray(value).astype(np.float16) for name, value in nc.random_params(SMALL, 9).items()}
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    nc.write_upstream_pickle(pkl, nc.nest(flat), SMALL)
    nc.convert(pkl, out, "keep")
    _, raw = raw_tensors(out)
    assert set(raw) == set(flat)
    for name, value in flat.items():
        assert raw[name][0] == "F16", name
        assert raw[name][1].shape == value.shape and np.array_equal(raw[name][1], value), name
    nc.convert(pkl, out, "f32")
    _, raw = raw_tensors(out)
    for name, value in flat.items():
        assert raw[name][0] == "F32" and np.array_equal(raw[name][1], value.astype(np.float32)), name
    nc.convert(pkl, out, "bf16")
    _, raw = raw_tensors(out)
    for name, value in flat.items():
        assert raw[name][0] == "BF16"
        assert np.array_equal(raw[name][1], st.f32_to_bf16_bits(value.astype(np.float32))), name


def test_missing_config_keys_take_upstream_defaults(tmp_path):
    # Upstream defaults describe a d_model 128 network; the pickle states none of them.
    defaults = nc.DEFAULT_CONFIG
    flat = nc.random_params(defaults, 7)
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    nc.write_upstream_pickle(pkl, nc.nest(flat), {"dropout_rate": 0.1, "no_feedforward": True},
                             extra={"format_version": 1, "step": 1234})
    nc.convert(pkl, out)
    metadata, _ = raw_tensors(out)
    assert json.loads(metadata["needle_config"]) == defaults
    assert metadata["needle_config"] == (
        '{"vocab_size":8192,"d_model":128,"num_heads":4,"num_kv_heads":2,'
        '"num_encoder_layers":2,"num_decoder_layers":2,"rope_theta":10000}')

    # Partially stated configs mix the stated values with defaults for the rest.
    partial = {"d_model": 32, "vocab_size": 100, "num_encoder_layers": 1}
    full = nc.normalize_config(partial)
    assert full == dict(defaults, **partial)
    nc.write_upstream_pickle(pkl, nc.nest(nc.random_params(full, 8)), partial)
    nc.convert(pkl, out)
    assert nc.read_checkpoint_config(out) == full


def test_wrong_shape_is_reported_with_path_and_expected_shape(tmp_path):
    flat = nc.random_params(SMALL, 9)
    flat["decoder/layers/DecoderBlock_0/cross_attn/k_proj/kernel"] = np.zeros((1, 16, 16), np.float32)
    pkl = tmp_path / "needle.pkl"
    nc.write_upstream_pickle(pkl, nc.nest(flat), SMALL)
    with pytest.raises(nc.CheckpointError) as err:
        nc.convert(pkl, tmp_path / "out.safetensors")
    assert ("decoder/layers/DecoderBlock_0/cross_attn/k_proj/kernel has shape (1, 16, 16), "
            "expected (1, 16, 8)") in str(err.value)
    assert not (tmp_path / "out.safetensors").exists()


def test_missing_and_unexpected_params_are_reported(tmp_path):
    flat = nc.random_params(SMALL, 10)
    del flat["encoder/layers/EncoderBlock_0/self_attn/q_norm/scale"]
    flat["decoder/layers/DecoderBlock_0/mlp/kernel"] = np.zeros((1, 16, 64), np.float32)
    pkl = tmp_path / "needle.pkl"
    nc.write_upstream_pickle(pkl, nc.nest(flat), SMALL)
    with pytest.raises(nc.CheckpointError) as err:
        nc.convert(pkl, tmp_path / "out.safetensors")
    message = str(err.value)
    assert "missing parameter encoder/layers/EncoderBlock_0/self_attn/q_norm/scale (expected shape (2, 4))" in message
    assert "unexpected parameter decoder/layers/DecoderBlock_0/mlp/kernel" in message


def test_feedforward_checkpoints_are_refused(tmp_path):
    pkl = tmp_path / "needle.pkl"
    nc.write_upstream_pickle(pkl, nc.nest(nc.random_params(SMALL, 11)), dict(SMALL, no_feedforward=False))
    with pytest.raises(nc.CheckpointError, match="no_feedforward=false"):
        nc.convert(pkl, tmp_path / "out.safetensors")


class RunInfo:
    """Stands for run metadata of a class the converter cannot import."""

    def __init__(self):
        self.started = "yesterday"


@dataclasses.dataclass
class TransformerConfig:
    vocab_size: int = 64
    d_model: int = 16
    num_heads: int = 4
    num_kv_heads: int = 2
    num_encoder_layers: int = 2
    num_decoder_layers: int = 1
    rope_theta: float = 500.0
    no_feedforward: bool = True


def test_foreign_objects_outside_params_are_ignored(tmp_path):
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    # Pickled by reference to this test module, which the converter does not import.
    nc.write_upstream_pickle(pkl, nc.nest(nc.random_params(SMALL, 12)), SMALL,
                             extra={"run": RunInfo(), "history": [RunInfo()]})
    assert ("test_convert", "RunInfo") in pickle_globals(pkl)
    assert nc.convert(pkl, out) == SMALL


def test_config_given_as_an_object_is_read_from_its_fields(tmp_path):
    pkl, out = tmp_path / "needle.pkl", tmp_path / "out.safetensors"
    nc.write_upstream_pickle(pkl, nc.nest(nc.random_params(SMALL, 13)), {})
    blob = pickle.loads(pkl.read_bytes())
    blob["config"] = TransformerConfig()
    pkl.write_bytes(pickle.dumps(blob, protocol=4))
    assert nc.convert(pkl, out) == SMALL


def test_foreign_params_and_corrupt_pickles_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    pkl = tmp_path / "evil.pkl"
    with open(pkl, "wb") as f:
        pickle.dump({"params": {"x": Evil()}, "config": {}}, f)
    with pytest.raises(nc.CheckpointError, match=r"parameter x is a (posix|nt)\.system object"):
        nc.load_upstream_pickle(pkl)

    good = tmp_path / "good.pkl"
    nc.make_pickle(good, SMALL, seed=0)
    (tmp_path / "cut.pkl").write_bytes(good.read_bytes()[:500])
    with pytest.raises(nc.CheckpointError, match="cannot unpickle"):
        nc.load_upstream_pickle(tmp_path / "cut.pkl")


def test_random_checkpoints_are_deterministic_and_valid(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    nc.write_random_checkpoint(a, SMALL, seed=1)
    nc.write_random_checkpoint(b, SMALL, seed=1)
    assert a.read_bytes() == b.read_bytes()
    nc.write_random_checkpoint(b, SMALL, seed=2)
    assert a.read_bytes() != b.read_bytes()
    _, raw = raw_tensors(a)
    assert {name: arr.shape for name, (_, arr) in raw.items()} == nc.param_shapes(SMALL)
    assert float(raw["log_temp"][1]) == pytest.approx(np.log(1 / 0.07), rel=1e-6)


def test_command_line(tmp_path, repo_root):
    script = os.path.join(repo_root, "python", "needle_convert.py")
    pkl, out = tmp_path / "n.pkl", tmp_path / "n.safetensors"
    config = json.dumps({"d_model": 32, "vocab_size": 50, "num_decoder_layers": 1})
    run = lambda *args: subprocess.run([sys.executable, script, *args], capture_output=True, text=True)

    result = run("make-pickle", str(pkl), "--config-json", config, "--dtype", "bf16", "--seed", "3")
    assert result.returncode == 0, result.stderr
    result = run("convert", str(pkl), str(out), "--dtype", "keep")
    assert result.returncode == 0, result.stderr
    assert nc.read_checkpoint_config(out)["d_model"] == 32
    result = run("random", str(out), "--config", "tiny", "--dtype", "f32")
    assert result.returncode == 0, result.stderr
    assert "1,350,055 parameters" in result.stdout
    result = run("convert", str(tmp_path / "missing.pkl"), str(out))
    assert result.returncode == 1 and "error:" in result.stderr
    result = run("counts", "--config", "26m")
    assert json.loads(result.stdout)["total"] == 26_315_421


# --- the checked-in default model ----------------------------------------------------------

def test_default_model_files(default_model_dir, repo_root):
    import hashlib

    import needle_tokenizer_build as tb

    sys.path.insert(0, os.path.join(repo_root, "models"))
    import make_default_model

    sp = tb.check_tokenizer(os.path.join(default_model_dir, "tokenizer.model"))  # ids 0..5, 8192 pieces
    assert [sp.id_to_piece(i) for i in (4, 5)] == ["<tool_call>", "<tools>"]
    weights = os.path.join(default_model_dir, "needle.safetensors")
    assert nc.read_checkpoint_config(weights) == make_default_model.CONFIG
    shipped = ("tokenizer.model", "needle.safetensors")
    assert sum(os.path.getsize(os.path.join(default_model_dir, f)) for f in shipped) <= 20 * 1000 * 1000
    readme = open(os.path.join(default_model_dir, "README.md"), encoding="utf-8").read()
    for name in shipped:
        with open(os.path.join(default_model_dir, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() in readme, f"{name} does not match its README hash"


def test_default_tokenizer_regenerates_identically(tmp_path, repo_root, default_model_dir):
    script = os.path.join(repo_root, "models", "make_default_model.py")
    result = subprocess.run([sys.executable, script, "tokenizer", "--out", str(tmp_path), "--run", str(tmp_path / "run")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(default_model_dir, "tokenizer.model"), "rb") as f:
        assert (tmp_path / "tokenizer.model").read_bytes() == f.read(), (
            "models/default/tokenizer.model is stale: rerun models/make_default_model.py tokenizer")
