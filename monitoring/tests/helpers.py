"""Shared test helpers for the monitoring tests: a frozen clock and threads with their own connections."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connection

# A Monday, 10:00 UTC.
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
THREAD_TIMEOUT = 60  # seconds; a thread still alive after this means a hang


class Clock:
    """Frozen time (time_machine, tick=False) moved forward explicitly: every
    reading has its own later instant and ``timezone.now()`` agrees with it."""

    def __init__(self, time_machine, start: datetime = T0) -> None:
        self._tm = time_machine
        self.now = start
        time_machine.move_to(start, tick=False)

    def tick(self, seconds: float = 60) -> datetime:
        self.now += timedelta(seconds=seconds)
        self._tm.move_to(self.now, tick=False)
        return self.now


def run_in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    """Start ``count`` threads together on ``work(i)``, each with its own database
    connection; return the results in index order, re-raise the first failure."""
    barrier = threading.Barrier(count, timeout=THREAD_TIMEOUT)
    errors: list[BaseException] = []
    results: list[object] = [None] * count

    def body(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


class JsonServer:
    """A local HTTP server for json sources: every GET answers ``body`` as JSON with
    ``status``, after ``delay`` seconds; the test changes them at will."""

    def __init__(self, body: object = None, status: int = 200, delay: float = 0.0) -> None:
        self.body = {"value": 1} if body is None else body
        self.status = status
        self.delay = delay
        self.hits = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.hits += 1
                    status, payload, delay = owner.status, json.dumps(owner.body).encode(), owner.delay
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that timed out leaves a broken pipe behind

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/metrics"

    def set(self, **body: object) -> None:
        with self._lock:
            self.body = body

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
