"""needle-serve against slow, idle, flooding and malformed clients, on loopback.

Each test starts the real server with small limits, opens raw sockets the way a careless or hostile
client would, and checks that a normal request from another address keeps being answered quickly
and that the bad connection gets the error its limit promises. Every wait is bounded.
"""

import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import built_next_to

# A normal request from 127.0.0.2, so that the per-client limit on 127.0.0.1 does not apply to it.
NORMAL_CLIENT = "127.0.0.2"
NORMAL_BODY = json.dumps({"messages": [{"role": "user", "content": "weather in Paris"}],
                          "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
                              "type": "object", "properties": {"city": {"type": "string"}}}}}]})
# What a normal request may take on a loaded 2-core machine with the untrained model capped at 8 tokens.
NORMAL_SECONDS = 10


@pytest.fixture()
def serve(needle_bin):
    """Starts needle-serve with the given flags; yields (host, port)."""
    processes = []

    def start(*flags):
        process = subprocess.Popen([built_next_to(needle_bin, "needle-serve"), "--port", "0", "--parallel", "2",
                                    "--max_new_tokens", "8", *flags], stderr=subprocess.PIPE, text=True)
        processes.append(process)
        line = process.stderr.readline()
        match = re.search(r"listening on http://([\d.]+):(\d+)", line)
        assert match, f"needle-serve did not start: {line!r}"
        return match.group(1), int(match.group(2))

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def connect(address, source="127.0.0.1"):
    sock = socket.create_connection(address, timeout=30, source_address=(source, 0))
    return sock


def request_bytes(body, content_type="application/json", extra=""):
    data = body.encode() if isinstance(body, str) else body
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n{extra}\r\n").encode() + data


def read_response(sock):
    """One HTTP response: (status, parsed JSON body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a response body"
        rest += chunk
    return status, json.loads(rest[:length]), rest[length:]


def normal_request(address, seconds=NORMAL_SECONDS):
    """Sends the normal request from another address; returns its latency in seconds."""
    start = time.monotonic()
    with connect(address, NORMAL_CLIENT) as sock:
        sock.settimeout(seconds)
        sock.sendall(request_bytes(NORMAL_BODY))
        status, body, _ = read_response(sock)
    assert status == 200, body
    return time.monotonic() - start


def test_trickling_clients_hold_no_worker_and_are_cut_at_the_deadline(serve):
    address = serve("--request_timeout_seconds", "4")
    header = request_bytes(NORMAL_BODY)
    # More tricklers than workers, each sending a byte every 0.5 s: every read is on time, but
    # the request as a whole is not.
    tricklers = [connect(address) for _ in range(6)]
    stop = threading.Event()

    def trickle(sock):
        for i in range(len(header)):
            if stop.wait(0.5):
                return
            try:
                sock.send(header[i:i + 1])
            except OSError:
                return  # cut off by the server

    threads = [threading.Thread(target=trickle, args=(sock,)) for sock in tricklers]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        for _ in range(2):
            assert normal_request(address) < NORMAL_SECONDS
        for sock in tricklers:
            sock.settimeout(15)
            status, body, _ = read_response(sock)
            assert status == 408
            assert "--request_timeout_seconds" in body["error"]["message"]
        # 4 s from the first byte, with room for a loaded machine; without an overall deadline a
        # byte every 0.5 s would hold the connection for the whole header (~100 s).
        assert time.monotonic() - start < 12
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sock in tricklers:
            sock.close()


def expect_refused(address, want_status, flag):
    """A new connection is answered at once with want_status, naming the flag of the limit."""
    with connect(address) as sock:
        sock.settimeout(5)
        status, body, _ = read_response(sock)
    assert status == want_status
    assert flag in body["error"]["message"]


def test_idle_connections_neither_delay_others_nor_pile_up(serve):
    address = serve("--max_connections_per_client", "8")
    idle = [connect(address) for _ in range(8)]
    assert normal_request(address) < NORMAL_SECONDS
    time.sleep(0.3)  # every idle connection is counted before the next one arrives
    # The ninth from the same address is refused at once.
    expect_refused(address, 429, "--max_connections_per_client")
    for sock in idle:
        sock.close()


def test_connections_past_the_server_limit_get_503(serve):
    address = serve("--max_connections", "4", "--max_connections_per_client", "100")
    idle = [connect(address) for _ in range(4)]
    time.sleep(0.2)  # let the intake threads take them
    expect_refused(address, 503, "--max_connections")
    for sock in idle:
        sock.close()
    time.sleep(0.5)
    assert normal_request(address) < NORMAL_SECONDS


def test_declared_oversized_body_is_refused_before_it_is_sent(serve):
    address = serve("--max_body_bytes", "1000")
    with connect(address) as sock:
        sock.settimeout(5)
        start = time.monotonic()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        status, body, _ = read_response(sock)
        assert status == 413
        assert time.monotonic() - start < 2
        assert body["error"]["code"] == "request_too_large"
        assert "1000 bytes (needle-serve --max_body_bytes)" in body["error"]["message"]


def test_form_urlencoded_body_past_8_kib_is_read_as_json(serve):
    # curl -d sends this content type; httplib alone refuses such bodies past 8 KiB with a 413.
    address = serve()
    body = json.dumps({"messages": [{"role": "user", "content": "x" * 20000}]})
    with connect(address) as sock:
        sock.sendall(request_bytes(body, "application/x-www-form-urlencoded"))
        status, response, _ = read_response(sock)
    assert status == 200, response


def test_pipelined_requests_are_all_answered(serve):
    address = serve()
    with connect(address) as sock:
        sock.sendall(request_bytes(NORMAL_BODY) * 3 +
                     b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = b""
        statuses = []
        for _ in range(4):
            status, body, rest = read_response_with(sock, rest)
            statuses.append(status)
        assert statuses == [200, 200, 200, 200]
        assert body == {"status": "ok"}


def read_response_with(sock, pending):
    """read_response for a connection whose earlier read already took some of this response."""
    class Replay:
        def __init__(self):
            self.pending = pending

        def recv(self, size):
            if self.pending:
                data, self.pending = self.pending, b""
                return data
            return sock.recv(size)
    return read_response(Replay())


def test_chunked_and_malformed_framing_get_clear_errors(serve):
    address = serve()
    cases = [
        (b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "Content-Length"),
        (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"),
        (b"GET /health HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431, "header"),
    ]
    for data, want_status, word in cases:
        with connect(address) as sock:
            sock.settimeout(5)
            sock.sendall(data)
            status, body, _ = read_response(sock)
            assert status == want_status, data[:60]
            assert word in body["error"]["message"]
    assert normal_request(address) < NORMAL_SECONDS


def test_deeply_nested_body_is_a_400_and_the_server_lives(serve):
    address = serve()
    deep = "[" * 200000 + "]" * 200000
    with connect(address) as sock:
        sock.sendall(request_bytes('{"x":' + deep + ',"messages":[{"role":"user","content":"q"}]}'))
        status, body, _ = read_response(sock)
    assert status == 400
    assert "nested deeper than 128 levels" in body["error"]["message"]
    assert normal_request(address) < NORMAL_SECONDS
