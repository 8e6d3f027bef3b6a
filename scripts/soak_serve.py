#!/usr/bin/env python3
"""Soak test of needle-serve: normal requests while other clients trickle, drop and flood.

Starts needle-serve on loopback, measures a normal client alone (baseline), then again while
hostile clients run for --seconds, and samples the server's resident memory throughout:

  trickle  connections that send a request a byte a second
  drop     connections that send half a request, or a whole one, and hang up
  flood    bursts of idle connections past the per-client cap, and oversized Content-Lengths

The normal client sends from 127.0.0.2, the hostile ones from 127.0.0.1, so the per-client cap
applies to the attackers only. Prints a Markdown summary (the table in docs/hardening.md) and
exits 1 if a normal request failed, its median latency under attack exceeded 3x the baseline
(plus 0.5 s), or memory grew more than --max_rss_growth_mb from the warm server to the end.

  scripts/soak_serve.py --serve build/release/needle-serve --seconds 120
"""

import argparse
import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

NORMAL_BODY = json.dumps({"messages": [{"role": "user", "content": "what is the weather in Paris"}],
                          "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
                              "type": "object", "properties": {"city": {"type": "string"}}}}}]}).encode()
REQUEST = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: " + str(len(NORMAL_BODY)).encode() + b"\r\n\r\n" + NORMAL_BODY)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1)) / 1024


def normal_request(address):
    """One request from 127.0.0.2 on a new connection: (seconds, ok)."""
    start = time.monotonic()
    try:
        with socket.create_connection(address, timeout=60, source_address=("127.0.0.2", 0)) as sock:
            sock.sendall(REQUEST)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return time.monotonic() - start, False
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return time.monotonic() - start, False
                body += chunk
            return time.monotonic() - start, head.split()[1] == b"200"
    except OSError:
        return time.monotonic() - start, False


def hostile_connect(address):
    return socket.create_connection(address, timeout=30, source_address=("127.0.0.1", 0))


def trickle(address, stop):
    while not stop.is_set():
        try:
            with hostile_connect(address) as sock:
                for byte in REQUEST:
                    if stop.is_set():
                        return
                    sock.send(bytes([byte]))
                    time.sleep(1)
        except OSError:
            time.sleep(0.2)  # refused or timed out by the server, as it should be


def drop(address, stop):
    while not stop.is_set():
        try:
            with hostile_connect(address) as sock:
                sock.sendall(REQUEST[: len(REQUEST) // 2] if time.monotonic() % 2 < 1 else REQUEST)
        except OSError:
            pass
        time.sleep(0.05)


def flood(address, stop):
    while not stop.is_set():
        sockets = []
        try:
            for _ in range(64):
                sockets.append(hostile_connect(address))
            with hostile_connect(address) as sock:
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n")
                sock.recv(4096)
        except OSError:
            pass
        time.sleep(2)
        for sock in sockets:
            sock.close()


def latencies(address, seconds):
    results = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        results.append(normal_request(address))
    return results


def summary(results):
    seconds = sorted(s for s, _ in results)
    return {"requests": len(results), "failed": sum(1 for _, ok in results if not ok),
            "p50_s": statistics.median(seconds), "p95_s": seconds[int(0.95 * (len(seconds) - 1))],
            "max_s": seconds[-1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", default="build/release/needle-serve")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--baseline_seconds", type=float, default=20)
    parser.add_argument("--tricklers", type=int, default=8)
    parser.add_argument("--droppers", type=int, default=4)
    parser.add_argument("--flooders", type=int, default=2)
    parser.add_argument("--max_rss_growth_mb", type=float, default=32)
    parser.add_argument("serve_flags", nargs="*", help="more needle-serve flags, after --")
    args = parser.parse_args()

    server = subprocess.Popen([args.serve, "--port", "0", "--max_new_tokens", "16", *args.serve_flags],
                              stderr=subprocess.PIPE, text=True)
    try:
        match = re.search(r"listening on http://([\d.]+):(\d+)", server.stderr.readline())
        if not match:
            sys.exit("needle-serve did not start")
        address = (match.group(1), int(match.group(2)))
        threading.Thread(target=lambda: server.stderr.read(), daemon=True).start()  # never block its stderr

        latencies(address, 3)  # warm-up
        baseline = summary(latencies(address, args.baseline_seconds))
        rss_warm = rss_mb(server.pid)

        stop = threading.Event()
        rss = [rss_warm]
        workers = ([threading.Thread(target=trickle, args=(address, stop)) for _ in range(args.tricklers)] +
                   [threading.Thread(target=drop, args=(address, stop)) for _ in range(args.droppers)] +
                   [threading.Thread(target=flood, args=(address, stop)) for _ in range(args.flooders)])

        def sample_memory():
            while not stop.is_set():
                rss.append(rss_mb(server.pid))
                time.sleep(1)

        sampler = threading.Thread(target=sample_memory)
        for thread in workers + [sampler]:
            thread.start()
        attacked = summary(latencies(address, args.seconds))
        stop.set()
        for thread in workers + [sampler]:
            thread.join()
        time.sleep(args.baseline_seconds / 2)
        after = summary(latencies(address, args.baseline_seconds / 2))
        rss_end = rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    print(f"| phase | normal requests | failed | p50 s | p95 s | max s |\n|---|---|---|---|---|---|")
    for name, row in [("alone", baseline), (f"under attack, {args.seconds:.0f} s", attacked), ("after", after)]:
        print(f"| {name} | {row['requests']} | {row['failed']} | {row['p50_s']:.3f} | {row['p95_s']:.3f} | "
              f"{row['max_s']:.3f} |")
    print(f"\nserver RSS: {rss_warm:.1f} MiB warm, {max(rss):.1f} MiB peak under attack, {rss_end:.1f} MiB at the end")
    failures = []
    if attacked["failed"] or after["failed"]:
        failures.append("normal requests failed")
    if attacked["p50_s"] > 3 * baseline["p50_s"] + 0.5:
        failures.append("median latency under attack exceeds 3x the baseline + 0.5 s")
    if rss_end - rss_warm > args.max_rss_growth_mb:
        failures.append(f"memory grew {rss_end - rss_warm:.1f} MiB")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
