from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from escalation.tests.webhook_server import WebhookServer


@pytest.fixture
def webhook_server() -> Iterator[Callable[..., WebhookServer]]:
    """`webhook_server(statuses=[500, 200], delay=0)` starts a receiver on 127.0.0.1; all stop at teardown."""
    servers: list[WebhookServer] = []

    def start(statuses: list[int] | None = None, delay: float = 0.0, **answer: object) -> WebhookServer:
        server = WebhookServer(statuses=list(statuses or [200]), delay=delay, **answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
