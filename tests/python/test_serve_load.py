"""Load test of needle-serve on loopback: needle-load's concurrent clients against a real server.

Bounded in count (400 requests from 16 clients over 40 needle15 test items) and in time (needle-load's
--max_seconds and the subprocess timeouts). Every answer must equal the answer the same item got when
sent alone, no request may fail, and the server's memory must stay flat after warm-up. The figures
are printed (pytest -s shows them) and kept in the JSON report.
"""

import json
import os
import re
import signal
import subprocess

import pytest

from conftest import built_next_to

REQUESTS = 400
CLIENTS = 16
# Resident memory may grow this much between the warm server and the end of the run: room for
# allocator arenas of the worker threads, far below what a per-request leak would add up to.
MAX_RSS_GROWTH_BYTES = 16 << 20


@pytest.fixture()
def needle_serve(needle_bin):
    process = subprocess.Popen([built_next_to(needle_bin, "needle-serve"), "--port", "0", "--parallel", "4",
                                "--engine", "optimized", "--threads", "1"],
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        match = re.search(r"listening on (http://\S+)", line)
        assert match, f"needle-serve did not start: {line!r}"
        yield process.pid, match.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def test_listen_backlog_holds_a_burst_of_every_client(needle_serve):
    # A backlog shorter than a burst of new connections sends the kernel into SYN cookies, and a
    # connection whose cookie fails is reset (httplib alone listens with a backlog of 5).
    _, url = needle_serve
    port = url.rsplit(":", 1)[1]
    listing = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True)
    rows = [line.split() for line in listing.stdout.splitlines() if line.strip()]
    assert len(rows) == 1, listing.stdout
    backlog = int(rows[0][2])  # Send-Q of a listening socket is its backlog
    assert backlog >= 4 * CLIENTS, rows[0]


def test_concurrent_clients_get_the_sequential_answers(needle_bin, needle_serve, repo_root, tmp_path):
    pid, url = needle_serve
    report_path = tmp_path / "load.json"
    command = [built_next_to(needle_bin, "needle-load"), "--url", url,
               "--dataset", "needle:" + os.path.join(repo_root, "datasets", "needle15", "test.jsonl"),
               "--items", "40", "--clients", str(CLIENTS), "--requests", str(REQUESTS), "--max_seconds", "240",
               "--server_pid", str(pid), "--json", str(report_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=420)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["requests"] == REQUESTS, "stopped by --max_seconds before sending every request"
    assert report["failed"] == 0 and report["wrong"] == 0, report["errors"]
    assert report["latency_ms"]["p50"] > 0 and report["latency_ms"]["p99"] >= report["latency_ms"]["p50"]
    assert report["ttft_ms"]["p50"] > 0
    rss = report["server_rss_bytes"]
    assert 0 < rss["warm"] <= rss["peak"]
    assert rss["end"] - rss["warm"] < MAX_RSS_GROWTH_BYTES, rss
