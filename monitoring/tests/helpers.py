"""Shared test helpers for the monitoring tests: a frozen clock and a json source."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

from helpdesk.testing.network import HTTPTestServer, QuietHandler

# A Monday, 10:00 UTC.
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


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

        class Handler(QuietHandler):
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

        self._server = HTTPTestServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url("/metrics")

    def set(self, **body: object) -> None:
        with self._lock:
            self.body = body

    def stop(self) -> None:
        self._server.stop()
