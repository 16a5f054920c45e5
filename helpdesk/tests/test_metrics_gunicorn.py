"""/metrics as production serves it: gunicorn with 2 workers in prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, docs/DEPLOYMENT.md), production settings,
a scrape token. Invented methods and paths add no series (neither to the scrape nor
to the workers' files), and only the token's holder reads the figures."""

from __future__ import annotations

import http.client
import random
import string
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpdesk.tests.faults import free_port
from helpdesk.tests.processes import celery_env, require_postgresql, start, stop

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

TOKEN = "scrape-token-for-the-gunicorn-test"


def call(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def scrape(port: int) -> tuple[int, int]:
    """(samples, bytes) of a scrape with the token. Each scrape is served by either
    worker; the multiprocess collector sums both from the shared directory."""
    status, body = call(port, "GET", "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body[:500]
    text = body.decode()
    return sum(len(family.samples) for family in text_string_to_metric_families(text)), len(text)


def files_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.iterdir())


def test_gunicorn_workers_keep_a_bounded_label_set_and_a_private_scrape(tmp_path):
    require_postgresql()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    port = free_port()
    env = celery_env(
        broker_url="redis://127.0.0.1:1/0",  # not used by these requests
        HELPDESK_ENV="production",
        SECURE_SSL_REDIRECT="false",  # loopback, no TLS terminator in front
        SECRET_KEY="metrics-test-not-a-secret-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        HELPDESK_VAR_DIR=str(tmp_path),
        HELPDESK_METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        DEBUG="false",
    )
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    log_path = tmp_path / "gunicorn.log"
    server = start([gunicorn, "helpdesk.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"], env, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                if call(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)

        # Without the token: nothing, even from loopback.
        status, body = call(port, "GET", "/metrics")
        assert status == 401 and b"helpdesk_" not in body
        assert call(port, "GET", "/metrics", {"Authorization": "Bearer wrong"})[0] == 401

        # Let both workers count an odd request once (the folded series exist from then on).
        for _ in range(10):
            call(port, "WARMUP", "/no/such/page")
            call(port, "WARMUP", "/healthz")
            call(port, "GET", "/no/such/page")
            scrape(port)  # a scrape is counted after it is served: count one before comparing
        samples_before, bytes_before = scrape(port)
        files_before = files_size(multiproc)

        rng = random.Random(11)
        for i in range(400):
            method = f"FOOBAR{i}" if i % 2 else "".join(rng.choices(string.ascii_uppercase, k=10))
            path = (
                "/healthz"
                if i % 4 == 0
                else f"/{rng.randrange(10**9)}/{''.join(rng.choices(string.ascii_lowercase, k=6))}"
            )
            status, _ = call(port, method, path)
            assert status in (403, 404, 405), (method, path, status)  # 403: CSRF refuses unsafe methods

        samples_after, bytes_after = scrape(port)
        assert samples_after == samples_before
        assert bytes_after < bytes_before + 200
        assert files_size(multiproc) == files_before  # no new series in the workers' mmap files
        # /readyz still answers anonymously, naming the failing part only (the broker here).
        status, body = call(port, "GET", "/readyz")
        assert status == 503 and b'"failing": ["broker"]' in body
        assert b"127.0.0.1" not in body and b"Error" not in body
    finally:
        stop(server)
