"""A small local HTTP server that receives webhooks: records every request and
answers with a scripted sequence of status codes, optionally after a delay."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from helpdesk.testing.network import HTTPTestServer, QuietHandler


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookServer:
    # Answers in order; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    # The reason phrase and body of every answer (None: the standard phrase).
    reason: str | None = None
    body: bytes = b"ok"
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        owner = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner._lock:
                    owner.requests.append(Received(self.path, dict(self.headers.items()), body))
                    index = min(len(owner.requests), len(owner.statuses)) - 1
                    status = owner.statuses[index]
                if owner.delay:
                    time.sleep(owner.delay)
                self.send_response(status, owner.reason)
                if 300 <= status < 400:
                    self.send_header("Location", "/redirected")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

        self._server = HTTPTestServer(Handler)

    @property
    def url(self) -> str:
        return self._server.url("/hook")

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        self._server.stop()
