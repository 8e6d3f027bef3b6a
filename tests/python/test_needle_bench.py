"""needle-bench end to end: the CLI on the shipped model, every field of its JSON rows, the other output
formats, and its refusals of bad input."""

import csv
import io
import json
import math
import os
import re
import signal
import statistics
import struct
import subprocess

import pytest

FIELDS = {
    "runtime": str, "device": str, "host": str, "cpu_info": str, "n_cpu_cores": int, "build_commit": str,
    "device_model": str, "os_version": str, "battery_before": int, "battery_after": int, "temp_before_c": float,
    "temp_after_c": float,
    "model_filename": str, "model_type": str, "model_size": int, "model_n_params": int, "engine": str,
    "precision": str, "isa": str, "n_threads": int, "cpu_mask": str, "test": str, "n_prompt": int, "n_gen": int,
    "n_depth": int, "repetitions": int, "warmup": int, "avg_ns": float, "stddev_ns": float, "avg_ts": float,
    "stddev_ts": float, "samples_ns": list, "samples_ts": list, "avg_ttft_ms": float, "samples_ttft_ms": list,
    "peak_rss_bytes": int, "test_time": str, "work_flop": float, "work_bytes": float, "peak_flops": float,
    "peak_bytes_per_s": float,
}
REPETITIONS = 2
GENERATION_DEPTH = 64  # the prefill before a generation-only test (docs/bench.md)


def run_bench(binary, *args, timeout=600):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


def parameter_count(path):
    """Elements of every tensor in a safetensors file: a Needle checkpoint holds exactly the model's parameters."""
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return sum(math.prod(entry["shape"]) for name, entry in header.items() if name != "__metadata__")


@pytest.fixture(scope="module")
def model(default_model_dir):
    return os.path.join(default_model_dir, "needle.safetensors")


@pytest.fixture(scope="module")
def json_run(needle_bench_bin, model):
    run = run_bench(needle_bench_bin, "-m", model, "-p", "32", "-n", "8", "-pg", "32,8", "-t", "1,2", "-r",
                    str(REPETITIONS), "-P", "fp32,int8", "-o", "json", "--progress")
    assert run.returncode == 0, run.stderr
    return run


def test_json_rows_have_every_field(json_run, model):
    rows = json.loads(json_run.stdout)
    # reference: fp32 on 1 thread; optimized: 2 precisions x 2 thread counts; 3 tests each
    assert len(rows) == (1 + 2 * 2) * 3
    for row in rows:
        assert set(row) == set(FIELDS)
        for field, kind in FIELDS.items():
            assert isinstance(row[field], kind) or (kind is float and isinstance(row[field], int)), field
        assert (row["runtime"], row["device"], row["cpu_mask"]) == ("needle", "local", "")
        assert row["host"] and row["cpu_info"] and row["build_commit"]
        assert row["n_cpu_cores"] == os.cpu_count()
        assert row["model_filename"] == model
        assert row["model_size"] == os.path.getsize(model)
        assert row["model_n_params"] == parameter_count(model)
        assert row["model_type"].startswith("needle d")
        if row["engine"] == "reference":
            assert (row["precision"], row["n_threads"], row["isa"]) == ("fp32", 1, "")
        else:
            assert row["engine"] == "optimized"
            assert row["precision"] in ("fp32", "int8") and row["n_threads"] in (1, 2)
            assert row["isa"] in ("scalar", "avx2", "avx512vnni", "neon", "neondot")
        expected_test = {(32, 0, 0): "pp32", (0, 8, GENERATION_DEPTH): f"tg8 @ d{GENERATION_DEPTH}",
                         (32, 8, 0): "pp32+tg8"}[(row["n_prompt"], row["n_gen"], row["n_depth"])]
        assert row["test"] == expected_test
        assert (row["repetitions"], row["warmup"]) == (REPETITIONS, 1)

        for samples in ("samples_ns", "samples_ts", "samples_ttft_ms"):
            assert len(row[samples]) == REPETITIONS and all(value > 0 for value in row[samples])
        tokens = row["n_prompt"] + row["n_gen"]
        for ns, ts in zip(row["samples_ns"], row["samples_ts"]):
            assert ts == pytest.approx(tokens / (ns / 1e9), rel=1e-9)
        assert row["avg_ts"] == pytest.approx(statistics.mean(row["samples_ts"]))
        assert row["stddev_ts"] == pytest.approx(statistics.stdev(row["samples_ts"]))
        assert row["avg_ns"] == pytest.approx(statistics.mean(row["samples_ns"]))
        assert row["stddev_ns"] == pytest.approx(statistics.stdev(row["samples_ns"]))
        assert row["avg_ttft_ms"] == pytest.approx(statistics.mean(row["samples_ttft_ms"]))
        if row["n_gen"] == 0:  # time to first token is the timed prefill plus one decode step
            assert all(ttft >= ns / 1e6 for ttft, ns in zip(row["samples_ttft_ms"], row["samples_ns"]))
        assert row["peak_rss_bytes"] > 1 << 20
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["test_time"])
        # measured only with --roofline
        assert [row[field] for field in ("work_flop", "work_bytes", "peak_flops", "peak_bytes_per_s")] == [-1] * 4


def test_stderr_notes_skipped_rows_and_progress(json_run):
    assert "the reference engine runs fp32 on 1 thread only: skipped its rows at int8 and at 2 threads" in json_run.stderr
    assert "row 15/15" in json_run.stderr and f"repetition {REPETITIONS}/{REPETITIONS}" in json_run.stderr


@pytest.mark.parametrize("output", ["md", "csv", "jsonl"])
def test_other_output_formats(needle_bench_bin, model, output):
    run = run_bench(needle_bench_bin, "-m", model, "-p", "16", "-n", "4", "-e", "optimized", "-P", "fp32", "-t", "1",
                    "-r", "1", "-o", output)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no note, no progress unless asked
    lines = run.stdout.splitlines()
    if output == "md":
        header = [cell.strip() for cell in lines[0].strip("|").split("|")]
        assert header == ["model", "size", "params", "engine", "precision", "threads", "isa", "test", "t/s",
                          "TTFT ms", "peak RSS"]
        assert [line.split("|")[8].strip() for line in lines[2:4]] == ["pp16", f"tg4 @ d{GENERATION_DEPTH}"]
        assert "±" in lines[2] and lines[5].startswith("build: ")
    elif output == "csv":
        records = list(csv.DictReader(io.StringIO(run.stdout)))
        assert len(records) == 2 and set(records[0]) == set(FIELDS)
        assert records[1]["test"] == f"tg4 @ d{GENERATION_DEPTH}" and float(records[1]["avg_ts"]) > 0
    else:
        rows = [json.loads(line) for line in lines]
        assert [row["test"] for row in rows] == ["pp16", f"tg4 @ d{GENERATION_DEPTH}"]


def test_roofline_fills_the_fields_and_the_columns(needle_bench_bin, model):
    args = ["-m", model, "-p", "16", "-n", "4", "-e", "optimized", "-P", "fp32,w8a8", "-t", "1", "-r", "1",
            "--roofline"]
    rows = json.loads(run_bench(needle_bench_bin, *args, "-o", "json").stdout)
    assert len(rows) == 4
    for row in rows:
        assert row["work_flop"] > 0 and row["work_bytes"] > 0
        assert row["peak_flops"] > 0 and row["peak_bytes_per_s"] > 0
    prompt = {row["precision"]: row for row in rows if row["n_prompt"] == 16}
    # the same arithmetic in fewer bytes, against the int8 dot-product peak instead of fp32 FMA
    assert prompt["fp32"]["work_flop"] == prompt["w8a8"]["work_flop"]
    assert prompt["fp32"]["work_bytes"] > prompt["w8a8"]["work_bytes"]
    assert prompt["fp32"]["peak_flops"] != prompt["w8a8"]["peak_flops"]

    run = run_bench(needle_bench_bin, *args, "-o", "md")
    assert run.returncode == 0, run.stderr
    header = [cell.strip() for cell in run.stdout.splitlines()[0].strip("|").split("|")]
    assert {"GFLOP/s", "% peak", "GB/s", "% BW"} <= set(header)
    assert re.search(r"^peak, 1 thread: fp32 [\d.]+ GFLOP/s .*; DRAM [\d.]+ GB/s, L3 [\d.]+ GB/s$", run.stdout, re.M)


def test_help_exits_zero(needle_bench_bin):
    run = run_bench(needle_bench_bin, "--help")
    assert run.returncode == 0 and "-pg" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["-m", "/nonexistent/model.safetensors"], "/nonexistent/model.safetensors"),
    (["-t", "1,,2"], "is not an integer"),
    (["-e", "fast"], "unknown engine \"fast\""),
    (["-P", "fp8"], "unknown precision \"fp8\""),
    (["-o", "xml"], "unknown format \"xml\""),
    (["--cpu-mask", "0xz"], "not a hex mask"),
    (["-t", "4-1"], "-t: \"4-1\" is not a range"),
    (["-p", "8-64*1"], "is not a range"),
    (["--delay", "x"], "--delay"),
    (["-oe", "xml"], "unknown format \"xml\""),
])
def test_bad_input_is_a_clear_error(needle_bench_bin, args, message):
    run = run_bench(needle_bench_bin, "-p", "8", "-n", "0", "-r", "1", *args)
    assert run.returncode == 1, run.stderr
    assert message in run.stderr and run.stdout == ""


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(needle_bench_bin, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    run = run_bench(needle_bench_bin, "-m", str(bad), "-p", "8", "-n", "0", "-r", "1", "-t", "1", "-P", "fp32")
    assert run.returncode == 1 and run.stderr.startswith(f"needle-bench: {bad}: ") and run.stdout == ""


def test_a_failing_peer_is_reported_and_the_other_rows_printed(needle_bench_bin, model):
    run = run_bench(needle_bench_bin, "-m", model, "-p", "8", "-n", "0", "-r", "1", "-t", "1", "-e", "reference",
                    "--peer", "broken=echo no runtime here >&2; exit 2", "-o", "json")
    assert run.returncode == 3, run.stderr
    rows = json.loads(run.stdout)
    assert [(row["runtime"], row["engine"]) for row in rows] == [("needle", "reference")]
    assert re.search(r"skipped row 2/2: .*peer broken.*no runtime here", run.stderr), run.stderr


# Several quick rows with a pause between them, so that the run is still going after its first row.
SLOW_RUN = ["-p", "8,16,24", "-n", "0", "-e", "optimized", "-P", "fp32", "-t", "1", "-r", "1", "--delay", "3"]


def start_bench(binary, *args):
    return subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_until(process, done):
    """Reads stdout as it comes (unbuffered) until done(text so far) or the pipe closes."""
    text = b""
    while not done(text.decode()):
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        text += chunk
    return text.decode()


def stop(process, signal_number):
    process.send_signal(signal_number)
    rest, stderr = process.communicate(timeout=120)
    return rest.decode(), stderr.decode()


def test_rows_print_as_they_finish_and_sigint_keeps_them(needle_bench_bin, model):
    bench = start_bench(needle_bench_bin, "-m", model, *SLOW_RUN, "-o", "jsonl")
    try:
        first = read_until(bench, lambda text: text.endswith("\n"))  # the first row, as soon as it is measured
        assert json.loads(first)["test"] == "pp8"
        assert bench.poll() is None  # ... while the run goes on
        rest, stderr = stop(bench, signal.SIGINT)
    finally:
        bench.kill()
    assert bench.returncode == 130, stderr
    assert rest == ""  # stopped during the delay: no other row
    assert "interrupted by SIGINT" in stderr and "the rows above are complete" in stderr


@pytest.mark.parametrize("output, signal_number, status", [("json", signal.SIGINT, 130), ("md", signal.SIGTERM, 143)])
def test_an_interrupted_run_still_ends_its_output(needle_bench_bin, model, output, signal_number, status):
    bench = start_bench(needle_bench_bin, "-m", model, *SLOW_RUN, "-o", output)
    try:
        # The first row: the JSON array's first object (closed by "  }"), the table's third line.
        first = read_until(bench, lambda text: "\n  }" in text if output == "json" else text.count("\n") >= 3)
        assert bench.poll() is None
        rest, stderr = stop(bench, signal_number)
    finally:
        bench.kill()
    assert bench.returncode == status, stderr
    text = first + rest
    if output == "json":
        rows = json.loads(text)  # the array is closed
        assert [row["test"] for row in rows] == ["pp8"]
    else:
        lines = text.splitlines()
        assert [cell.strip() for cell in lines[2].strip("|").split("|")][7] == "pp8"
        assert lines[-1].startswith("build: ")  # the footer comes after the rows so far


def test_second_output_on_stderr(needle_bench_bin, model):
    run = run_bench(needle_bench_bin, "-m", model, "-p", "8", "-n", "2", "-e", "optimized", "-P", "fp32", "-t", "1",
                    "-r", "1", "-o", "md", "-oe", "jsonl")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("| model ")
    rows = [json.loads(line) for line in run.stderr.splitlines()]
    assert [row["test"] for row in rows] == ["pp8", f"tg2 @ d{GENERATION_DEPTH}"]


def test_ranges_masks_and_verbose(needle_bench_bin, model):
    cpu = sorted(os.sched_getaffinity(0))[-1]  # a CPU this process may use
    mask = hex(1 << cpu)
    run = run_bench(needle_bench_bin, "-m", model, "-p", "8-16+8", "-n", "0", "-e", "optimized", "-P", "fp32",
                    "-t", "1", "-r", "2", "-C", mask, "-v", "-o", "jsonl")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(row["test"], row["cpu_mask"]) for row in rows] == [("pp8", mask), ("pp16", mask)]
    # -v: the estimate before the run, each run's timing
    assert re.search(r"2 rows x \(1 warm-up \+ 2 timed runs\): about \d+ (s|min).*an estimate", run.stderr), run.stderr
    assert re.search(r"row 2/2: .* repetition 2/2: [\d.]+ ms timed, [\d.]+ t/s", run.stderr), run.stderr
    table = run_bench(needle_bench_bin, "-m", model, "-p", "8", "-n", "0", "-e", "optimized", "-P", "fp32", "-t", "1",
                      "-r", "1", "-C", mask)
    header = [cell.strip() for cell in table.stdout.splitlines()[0].strip("|").split("|")]
    assert "cpu_mask" in header
    assert table.stderr == ""  # the estimate only on a terminal or with -v


def test_compare_two_runs(needle_bench_bin, model, tmp_path):
    args = ["-m", model, "-p", "8", "-n", "0", "-e", "optimized", "-P", "fp32,int8", "-t", "1", "-r", "1"]
    a, b = tmp_path / "a.json", tmp_path / "b.jsonl"
    a.write_text(run_bench(needle_bench_bin, *args, "-o", "json").stdout)
    b.write_text(run_bench(needle_bench_bin, *args[:-6], "-P", "int8", "-t", "1", "-r", "1", "-o", "jsonl").stdout)
    run = run_bench(needle_bench_bin, "compare", str(a), str(b))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"A: {a}: build ") and lines[1].startswith(f"B: {b}: build ")
    header = [cell.strip() for cell in lines[3].strip("|").split("|")]
    assert header == ["precision", "t/s A", "t/s B", "B/A"]
    cells = [cell.strip() for cell in lines[5].strip("|").split("|")]
    assert cells[0] == "int8" and float(cells[3]) > 0
    assert "only in A: precision fp32" in run.stdout
    as_json = json.loads(run_bench(needle_bench_bin, "compare", str(a), str(b), "-o", "json").stdout)
    assert [row["precision"] for row in as_json["rows"]] == ["fp32", "int8"]
    assert as_json["rows"][1]["speedup"] == pytest.approx(as_json["rows"][1]["b_avg_ts"] / as_json["rows"][1]["a_avg_ts"])
    for bad_args, message in [([str(a)], "compare takes two files"), ([str(a), str(tmp_path / "none.json")], "cannot open"),
                              ([str(a), str(b), "-o", "html"], "unknown format")]:
        bad = run_bench(needle_bench_bin, "compare", *bad_args)
        assert bad.returncode == 1 and message in bad.stderr and bad.stdout == ""
