"""The bench's HTTP JSON source: a process of its own (no Django) that answers
every GET and logs when each request arrived."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpdesk.testing.network import QuietHandler, QuietHTTPServer
from helpdesk.testing.processes import ROOT, process_stop

# The value the source answers; the thresholds are far above it.
SOURCE_VALUE = 42.0


def serve_http(log_path: str) -> None:
    """A threaded HTTP server on 127.0.0.1:<free port> answering every GET with a
    small JSON document. Prints ``PORT <n>``; appends ``<arrival epoch> <path>``
    per request to ``log_path`` (flushed every half second and on SIGTERM)."""
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()
    hits = [0]

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            arrived = time.time()
            with lock:
                arrivals.append((arrived, self.path))
                hits[0] += 1
                count = hits[0]
            payload = json.dumps(
                {"value": SOURCE_VALUE + (count % 7), "metrics": {"requests": count}, "at": arrived}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    class Server(QuietHTTPServer):
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    out = open(log_path, "a", buffering=1)  # noqa: SIM115 (closed on exit)

    def flush() -> None:
        with lock:
            batch = arrivals[:]
            arrivals.clear()
        if batch:
            out.write("".join(f"{t:.6f} {p}\n" for t, p in batch))
            out.flush()

    stop = threading.Event()

    def flusher() -> None:
        while not stop.wait(0.5):
            flush()

    def on_term(signum, frame) -> None:
        stop.set()
        flush()
        out.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    threading.Thread(target=flusher, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.5)


def http_source_start(log_path: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.polling.source", str(log_path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = process.stdout.readline().strip()
    if not line.startswith("PORT "):
        process_stop(process)
        raise SystemExit(f"the HTTP source did not start: {line!r}")
    return process, int(line.split()[1])


if __name__ == "__main__":
    serve_http(sys.argv[1])
