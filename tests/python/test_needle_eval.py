"""needle-eval end to end: BFCL files in, reports out, the HTML page rendered by headless Chromium."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import built_next_to

BFCL_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "datasets", "bfcl"))
BFCL_FILES = ["BFCL_v4_simple_python.json", "BFCL_v4_multiple.json", "BFCL_v4_irrelevance.json"]
LIMIT = 25  # items per dataset: the full sets are for real runs, not for every commit


@pytest.fixture(scope="module")
def needle_eval_bin(needle_bin):
    return built_next_to(needle_bin, "needle-eval")


@pytest.fixture(scope="module")
def bfcl_run(needle_eval_bin, tmp_path_factory):
    if not all(os.path.isfile(os.path.join(BFCL_DIR, name)) for name in BFCL_FILES):
        pytest.skip(f"BFCL data not found in {BFCL_DIR}")
    out = tmp_path_factory.mktemp("bfcl_report")
    command = [needle_eval_bin, "--system", "needle:reference", "--system", "keyword", "--limit", str(LIMIT), "--max_new_tokens", "100",
               "--parallel", "2", "--out", str(out)]
    for name in BFCL_FILES:
        command += ["--dataset", "bfcl:" + os.path.join(BFCL_DIR, name)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    return out, run


def test_reports_cover_every_system_and_dataset(bfcl_run):
    out, run = bfcl_run
    report = json.loads((out / "report.json").read_text())
    assert report["systems"] == ["needle-reference", "keyword"]
    assert [d["name"] for d in report["datasets"]] == ["bfcl_simple_python", "bfcl_multiple", "bfcl_irrelevance"]
    assert all(d["bad_records"] == 0 and d["items"] == LIMIT for d in report["datasets"])
    assert len(report["results"]) == 6
    for row in report["results"]:
        overall = row["overall"]
        assert overall["items"] == LIMIT
        accuracy = overall["bfcl_accuracy"]
        assert 0 <= accuracy["ci95"][0] <= accuracy["value"] <= accuracy["ci95"][1] <= 1
        assert row["latency_ms"]["requests"] == LIMIT and row["latency_ms"]["failed_requests"] == 0
        assert row["latency_ms"]["p50"] <= row["latency_ms"]["p95"]
    # The Needle engine streams tokens, so it reports time to first token.
    needle_rows = [r for r in report["results"] if r["system"] == "needle-reference"]
    assert all(r["latency_ms"]["ttft_p50"] is not None for r in needle_rows)
    assert len(report["comparisons"]) == 6  # one pair, two metrics, three datasets

    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 2 * 3 * LIMIT
    records = [json.loads(line) for line in lines]
    assert {r["system"] for r in records} == {"needle-reference", "keyword"}
    for record in records:
        assert record["parsed"] or record["parse_error"]
    # The summary on stdout is the Markdown report.
    assert run.stdout == (out / "report.md").read_text()
    assert "| needle-reference | bfcl_simple_python | 25 |" in run.stdout


def test_irrelevance_counts_only_outputs_without_calls(bfcl_run):
    out, _ = bfcl_run
    for line in (out / "predictions.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["dataset"] == "bfcl_irrelevance":
            assert record["bfcl_valid"] == (not record["calls"]), record


def _png_pixels(path):
    import matplotlib.image
    image = matplotlib.image.imread(str(path))
    return (image[..., :3] * 255).round().astype(int)


def test_html_report_renders_its_charts_in_chromium(bfcl_run, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed (scripts/install-deps.sh installs it)")
    out, _ = bfcl_run
    page = "file://" + str(out / "report.html")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,1600"]

    dom = subprocess.run(flags + ["--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr
    # The browser parsed the inline SVG: one scatter, and per dataset one bar chart, since each of these
    # BFCL files is one category, one call type and one tool-count group (three charts of the same bars
    # would say nothing more). Irrelevance items pass on unreadable output: their bars name the parse rate.
    assert dom.stdout.count('<svg class="chart bar-chart"') == 3
    assert dom.stdout.count(", parse rate ") == 2  # a bar per system on bfcl_irrelevance
    assert dom.stdout.count('<svg class="chart scatter-chart"') == 1
    assert dom.stdout.count('<circle class="point"') == 6

    shot = tmp_path / "report.png"
    render = subprocess.run(flags + [f"--screenshot={shot}", page], capture_output=True, text=True, timeout=120)
    assert render.returncode == 0 and shot.is_file(), render.stderr
    pixels = _png_pixels(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    # The first two series colours (needle's blue, keyword's orange) must be
    # painted: the scatter chart sits in the first screen of the page.
    for colour in ((0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00)):
        painted = (abs(pixels - colour).sum(axis=2) <= 6).sum()
        assert painted > 50, f"colour {colour} covers only {painted} pixels"


def test_bad_records_are_skipped_and_counted(needle_eval_bin, tmp_path):
    data = tmp_path / "mixed.jsonl"
    good = {"query": "ping the router", "tools": [{"name": "ping", "description": "Ping a host", "parameters": {}}],
            "answers": [{"name": "ping", "arguments": {}}]}
    data.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"query": 5}) + "\n" + json.dumps(good) + "\n")
    out = tmp_path / "out"
    run = subprocess.run([needle_eval_bin, "--system", "keyword", "--dataset", "generic:" + str(data), "--out",
                          str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"{data}:2:" in run.stderr and f"{data}:3:" in run.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["datasets"][0]["items"] == 2 and report["datasets"][0]["bad_records"] == 2


@pytest.mark.parametrize("args, message", [
    (["--system", "keyword", "--dataset", "/nonexistent/data.jsonl"], "/nonexistent/data.jsonl"),
    (["--system", "telepathy", "--dataset", "{data}"], "telepathy"),
    (["--system", "keyword"], "--dataset"),
])
def test_unusable_arguments_fail_with_a_message(needle_eval_bin, tmp_path, args, message):
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps({"query": "hi", "tools": [], "answers": []}) + "\n")
    args = [arg.replace("{data}", str(data)) for arg in args]
    run = subprocess.run([needle_eval_bin] + args, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert message in run.stderr


def test_every_kind_of_system_runs_through_the_cli(needle_eval_bin, repo_root, tmp_path):
    """needle in process, the same model behind needle-serve over HTTP, a subprocess and the floor."""
    serve_bin = os.path.join(os.path.dirname(needle_eval_bin), "needle-serve")
    server = subprocess.Popen([serve_bin, "--port", "0", "--max_new_tokens", "40"], stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        assert "listening on http://" in line, line
        url = line.split("listening on ")[1].strip()
        data = tmp_path / "items.jsonl"
        tools = json.loads(open(os.path.join(repo_root, "models", "examples", "weather_tools.json")).read())
        queries = ["weather in Paris", "set a timer for 10 minutes", "text Ana that I'm late", "tell me a joke"]
        with open(data, "w") as f:
            for query in queries:
                f.write(json.dumps({"query": query, "tools": tools, "answers": []}) + "\n")
        script = os.path.join(repo_root, "tests", "data", "evals", "command", "echo_system.py")
        out = tmp_path / "out"
        run = subprocess.run([needle_eval_bin, "--system", "needle", "--system", f"served=openai:{url}",
                              "--system", f"command:/usr/bin/python3 {script}", "--system", "keyword",
                              "--max_new_tokens", "40", "--processes", "2", "--dataset", str(data),
                              "--out", str(out)], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    records = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    by_system = {}
    for record in records:
        assert record["request_error"] is None, record
        by_system.setdefault(record["system"], []).append(record)
    assert sorted(by_system) == ["command-python3", "keyword", "needle-optimized", "served"]
    # The same model over HTTP reads back as the same calls as in process.
    for local, served in zip(by_system["needle-optimized"], by_system["served"]):
        assert (local["parsed"], local["calls"]) == (served["parsed"], served["calls"]), (local, served)
    # The subprocess answered each request with its own query.
    for record in by_system["command-python3"]:
        assert record["calls"][0]["arguments"]["query"] == record["query"]
        assert record["ttft_ms"] == 1.5


SLOW_SYSTEM = """
import json, sys, time
for line in sys.stdin:
    time.sleep(0.2)
    print(json.dumps({"id": json.loads(line)["id"], "output": "[]"}), flush=True)
"""


def sixty_items(tmp_path):
    data = tmp_path / "sixty.jsonl"
    item = {"query": "ping the router", "tools": [{"name": "ping", "description": "Ping a host", "parameters": {}}],
            "answers": []}
    data.write_text("".join(json.dumps(item) + "\n" for _ in range(60)))
    return data


def with_default_sigint():
    # A suite started in the background of a script (`cmd &`, nohup) runs with SIGINT ignored, and an
    # ignored signal stays ignored across exec; these tests play a user's Ctrl-C, which has the default
    # action.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_run_keeps_the_items_it_finished(needle_eval_bin, tmp_path):
    # needle-eval used to write only at the end: Ctrl-C after 21 of 60 items left nothing.
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SYSTEM)
    out = tmp_path / "out"
    run = subprocess.Popen([needle_eval_bin, "--system", f"command:python3 {script}", "--parallel", "1",
                            "--dataset", "generic:" + str(sixty_items(tmp_path)), "--out", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=with_default_sigint)
    predictions = out / "predictions.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not predictions.exists() or predictions.read_text().count("\n") < 5):
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=60)
    lines = predictions.read_text().splitlines()
    assert 5 <= len(lines) < 60
    assert all(json.loads(line)["system"] == "command-python3" for line in lines)


def test_unwritable_out_fails_before_the_run(needle_eval_bin, tmp_path):
    out = tmp_path / "out"
    (out / "predictions.jsonl").mkdir(parents=True)  # a directory where the file must go
    start = time.monotonic()
    run = subprocess.run([needle_eval_bin, "--system", "needle:reference", "--dataset",
                          "generic:" + str(sixty_items(tmp_path)), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert f"cannot write {out}/predictions.jsonl" in run.stderr
    assert "[1/" not in run.stderr  # no request was made
    assert time.monotonic() - start < 30


def test_stdout_that_cannot_be_written_is_a_failure(needle_eval_bin, needle_bin, tmp_path):
    with open("/dev/full", "w") as full:
        run = subprocess.run([needle_eval_bin, "--system", "keyword", "--dataset",
                              "generic:" + str(sixty_items(tmp_path))], stdout=full, stderr=subprocess.PIPE,
                             text=True, timeout=120)
        assert run.returncode == 1
        assert "cannot write the report to stdout" in run.stderr
        run = subprocess.run([needle_bin, "run", "--query", "weather in Paris", "--max_new_tokens", "4"],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        assert run.returncode == 1
        assert "cannot write to stdout" in run.stderr


# Answers by the item's line: calls `ping` on even lines, no call on odd ones, so the scores depend on
# which item got which answer.
PARITY_SYSTEM = """
import json, sys, time
for line in sys.stdin:
    time.sleep(0.1)
    item_id = json.loads(line)["id"]
    output = "[]" if int(item_id.rsplit("_", 1)[1]) % 2 else '[{"name":"ping","arguments":{}}]'
    print(json.dumps({"id": item_id, "output": output}), flush=True)
"""


def without_timings(value):
    """A report or prediction without what differs between two runs of the same predictions."""
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items()
                if key not in ("latency_ms", "ttft_ms", "created_utc", "build_commit")}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def test_resumed_run_reports_as_an_uninterrupted_one(needle_eval_bin, tmp_path):
    script = tmp_path / "parity.py"
    script.write_text(PARITY_SYSTEM)
    data = "generic:" + str(sixty_items(tmp_path))
    command = [needle_eval_bin, "--system", f"command:python3 {script}", "--system", "keyword", "--parallel", "1",
               "--dataset", data]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    subprocess.run(command + ["--out", str(whole)], capture_output=True, text=True, timeout=300, check=True)

    # Interrupted: Ctrl-C once some items are in.
    run = subprocess.Popen(command + ["--out", str(resumed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, preexec_fn=with_default_sigint)
    predictions = resumed / "predictions.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not predictions.exists() or predictions.read_text().count("\n") < 10):
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=60)
    kept = predictions.read_text().count("\n")
    assert 10 <= kept < 120
    # A line cut short by the interruption is left out on resuming.
    with open(predictions, "a", encoding="utf-8") as f:
        f.write('{"system":"command-python3","dataset":"six')

    again = subprocess.run(command + ["--out", str(resumed), "--resume"], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{kept} predictions read, 1 unreadable lines left out" in again.stderr
    assert f"[{120 - kept}/{120 - kept}]" in again.stderr  # only the missing items were asked for

    read = lambda directory, name: (directory / name).read_text()
    assert without_timings(json.loads(read(resumed, "report.json"))) == \
        without_timings(json.loads(read(whole, "report.json")))
    assert [without_timings(json.loads(line)) for line in read(resumed, "predictions.jsonl").splitlines()] == \
        [without_timings(json.loads(line)) for line in read(whole, "predictions.jsonl").splitlines()]


def test_score_rescores_saved_predictions(needle_eval_bin, tmp_path):
    data = "generic:" + str(sixty_items(tmp_path))
    first, rescored = tmp_path / "first", tmp_path / "rescored"
    subprocess.run([needle_eval_bin, "--system", "keyword", "--dataset", data, "--limit", "0.25", "--out", str(first)],
                   capture_output=True, text=True, timeout=300, check=True)
    lines = (first / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 15  # a quarter of 60
    record = json.loads(lines[0])
    assert record["expected"] == [] and record["tools"][0]["name"] == "ping"

    score = subprocess.run([needle_eval_bin, "score", "--predictions", str(first / "predictions.jsonl"),
                            "--dataset", data, "--limit", "0.25", "--out", str(rescored)],
                           capture_output=True, text=True, timeout=300)
    assert score.returncode == 0, score.stderr
    assert json.loads((rescored / "report.json").read_text())["results"] == \
        json.loads((first / "report.json").read_text())["results"]

    # Items the predictions do not hold are named, not guessed.
    missing = subprocess.run([needle_eval_bin, "score", "--predictions", str(first / "predictions.jsonl"),
                              "--dataset", data], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 1
    assert "no prediction of keyword for sixty item sixty_16" in missing.stderr


def test_limit_takes_a_fraction_and_refuses_a_broken_count(needle_eval_bin, tmp_path):
    data = "generic:" + str(sixty_items(tmp_path))
    run = subprocess.run([needle_eval_bin, "--system", "keyword", "--dataset", data, "--limit", "1.5"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "--limit must be 0, a fraction in (0, 1) or a whole count, got 1.5" in run.stderr


def test_list_names_datasets_categories_and_systems(needle_eval_bin):
    run = subprocess.run([needle_eval_bin, "list"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "needle[:ENGINE[:PRECISION]]" in run.stdout and "openai:URL" in run.stdout
    assert "test (needle format, 2100 items)" in run.stdout
    assert "smart_home" in run.stdout
