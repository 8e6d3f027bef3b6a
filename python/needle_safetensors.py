"""Read and write safetensors files with nothing but NumPy.

The layout is the plain safetensors one (see docs/checkpoint-format.md): an 8-byte
little-endian header length N, N bytes of JSON header, then the raw tensor bytes.

NumPy has no bfloat16, and ml_dtypes is not available here, so this module carries
bfloat16 tensors as their raw 16-bit patterns in uint16 arrays. A uint16 array handed to
the writer therefore means "BF16"; the project has no integer tensors, so nothing is lost
by that convention. `f32_to_bf16_bits` / `bf16_bits_to_f32` convert between the two.
"""

import json
import os

import numpy as np

# safetensors dtype name -> little-endian numpy dtype used for the raw bytes.
_DTYPES = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # bit patterns, see module docstring
}

# Largest header we accept. Real headers for this model are a few kB; a huge value almost
# always means the file is not safetensors at all, and we should not try to allocate it.
_MAX_HEADER_BYTES = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """The file is not a well-formed safetensors file of the kind this project writes."""


def f32_to_bf16_bits(values):
    """Round float32 values to bfloat16 (round to nearest, ties to even); return uint16 bits.

    bfloat16 is the top half of a float32, so rounding is integer arithmetic on the bit
    pattern: add 0x7FFF plus the lowest kept bit, then drop the low 16 bits. Carries out of
    the mantissa correctly bump the exponent (and overflow to infinity). NaNs are handled
    separately because the carry could turn a NaN with only low payload bits into infinity.
    """
    f32 = np.asarray(values, dtype=np.float32, order="C")
    bits = f32.view(np.uint32)
    # Explicit uint32 constants keep 0-d inputs in unsigned arithmetic. The sum cannot
    # overflow for non-NaN inputs (the largest, -inf, is 0xFF800000).
    lsb = (bits >> np.uint32(16)) & np.uint32(1)
    with np.errstate(over="ignore"):  # only NaN patterns can wrap, and they are replaced
        rounded = ((bits + np.uint32(0x7FFF) + lsb) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(f32)
    if np.any(nan):
        # Keep sign and make sure the result is a quiet NaN.
        quiet = ((bits >> np.uint32(16)) | np.uint32(0x0040)).astype(np.uint16)
        rounded = np.where(nan, quiet, rounded)
    return rounded


def bf16_bits_to_f32(bits):
    """Widen bfloat16 bit patterns (uint16) to float32 exactly."""
    b = np.asarray(bits, dtype=np.uint16, order="C")
    return (b.astype(np.uint32) << np.uint32(16)).astype(np.uint32).view(np.float32)


def _dtype_name(array):
    if array.dtype == np.float32:
        return "F32"
    if array.dtype == np.float16:
        return "F16"
    if array.dtype == np.uint16:
        return "BF16"
    raise SafetensorsError(
        f"unsupported array dtype {array.dtype}: use float32, float16, or uint16 bfloat16 bits")


def write_safetensors(path, tensors, metadata=None):
    """Write `tensors` (name -> ndarray) to `path`.

    float32 -> F32, float16 -> F16, uint16 -> BF16 (bit patterns). Tensors are written in
    sorted name order so that the same content always produces the same bytes; the header
    is padded with spaces so the data area, and with it every tensor, starts 8-byte aligned.
    """
    metadata = dict(metadata or {})
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise SafetensorsError("safetensors metadata must map str to str")

    header = {"__metadata__": metadata} if metadata else {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        dtype_name = _dtype_name(array)
        data = np.asarray(array, dtype=_DTYPES[dtype_name], order="C").tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": [int(n) for n in array.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)

    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)

    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(header_bytes).to_bytes(8, "little"))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)
    # Replace atomically so a reader never sees a half-written checkpoint.
    os.replace(tmp, path)


def read_safetensors_raw(path):
    """Read `path`; return (metadata, {name: (dtype_name, ndarray)}) without converting.

    BF16 tensors come back as uint16 bit patterns. Every structural rule from
    docs/checkpoint-format.md is checked: the header fits in the file, each tensor's byte
    range matches its dtype and shape, and the ranges are ordered, non-overlapping and
    cover the data area exactly.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SafetensorsError(f"{path}: file is {len(blob)} bytes, too short for a safetensors header")
    header_len = int.from_bytes(blob[:8], "little")
    if header_len > _MAX_HEADER_BYTES or 8 + header_len > len(blob):
        raise SafetensorsError(
            f"{path}: header claims {header_len} bytes but the file has only {len(blob) - 8} "
            "after the length field (truncated or not a safetensors file)")
    try:
        header = json.loads(blob[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SafetensorsError(f"{path}: header is not valid JSON: {err}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header must be a JSON object")

    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{path}: __metadata__ must map strings to strings")

    data = memoryview(blob)[8 + header_len:]
    spans = []
    tensors = {}
    for name, info in header.items():
        try:
            dtype_name = info["dtype"]
            shape = [int(n) for n in info["shape"]]
            begin, end = (int(n) for n in info["data_offsets"])
        except (TypeError, KeyError, ValueError):
            raise SafetensorsError(f"{path}: tensor {name!r} has a malformed header entry") from None
        if dtype_name not in _DTYPES:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {dtype_name!r}")
        if any(n < 0 for n in shape):
            raise SafetensorsError(f"{path}: tensor {name!r} has a negative dimension")
        dtype = _DTYPES[dtype_name]
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if not 0 <= begin <= end <= len(data):
            raise SafetensorsError(
                f"{path}: tensor {name!r} data [{begin}, {end}) lies outside the "
                f"{len(data)}-byte data area (file truncated?)")
        if end - begin != expected:
            raise SafetensorsError(
                f"{path}: tensor {name!r} has {end - begin} bytes, but {dtype_name} {shape} needs {expected}")
        spans.append((begin, end, name))
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        tensors[name] = (dtype_name, array.astype(dtype.newbyteorder("="), copy=True))

    cursor = 0
    for begin, end, name in sorted(spans):
        if begin != cursor:
            kind = "overlaps the previous tensor" if begin < cursor else "leaves a gap before it"
            raise SafetensorsError(f"{path}: tensor {name!r} {kind} (offset {begin}, expected {cursor})")
        cursor = end
    if cursor != len(data):
        raise SafetensorsError(
            f"{path}: tensors cover {cursor} bytes but the data area has {len(data)} (trailing bytes)")
    return metadata, tensors


def to_float32(dtype_name, array):
    """Widen one raw tensor as returned by `read_safetensors_raw` to float32."""
    if dtype_name == "BF16":
        return bf16_bits_to_f32(array)
    return array.astype(np.float32)


def read_safetensors(path):
    """Read `path`; return (metadata dict, {name: float32 ndarray})."""
    metadata, raw = read_safetensors_raw(path)
    return metadata, {name: to_float32(dtype_name, array) for name, (dtype_name, array) in raw.items()}
