"""A free port and a small threaded HTTP server on 127.0.0.1 for tests and benchmarks."""

from __future__ import annotations

import socket
import ssl
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago (also a port
    that refuses connections, as long as nobody takes it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str, *, headers: dict[str, str] | None = None) -> bool:
    """True when a GET of ``url`` answers 200 (a server that is up), False while
    it refuses, times out or answers anything else."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log every request to stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        pass


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded server whose request threads do not keep the process alive and
    which says nothing when a client hangs up (a client that timed out leaves a
    broken pipe behind)."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass


class HTTPTestServer:
    """``handler`` served on 127.0.0.1 at a free port from a background thread
    until :meth:`stop`; with ``tls`` the socket speaks HTTPS."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None) -> None:
        self.server = QuietHTTPServer(("127.0.0.1", 0), handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
