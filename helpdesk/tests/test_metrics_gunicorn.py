"""/metrics as production serves it: gunicorn with 2 workers in prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, docs/DEPLOYMENT.md), production settings,
a scrape token. Invented methods and paths add no series (neither to the scrape nor
to the workers' files), only the token's holder reads the figures, and a real
Prometheus with the scrape config of docs/DEPLOYMENT.md scrapes them."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import string
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpdesk.testing.network import answers, free_port
from helpdesk.testing.processes import Proc
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import celery_env, require_postgresql

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
    server = Proc.start("gunicorn", [gunicorn, "helpdesk.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"], env, log_path)
    try:
        wait_until(
            lambda: answers(f"http://127.0.0.1:{port}/healthz"), "gunicorn answering", 60, server.assert_alive, every=0.2
        )

        # Without the token: nothing, even from loopback.
        status, body = call(port, "GET", "/metrics")
        assert status == 401 and b"helpdesk_" not in body
        assert call(port, "GET", "/metrics", {"Authorization": "Bearer wrong"})[0] == 401

        # Let both workers count an odd request once (the folded series exist from then on):
        # which worker answers is the kernel's choice, so ask often enough that both have.
        for _ in range(40):
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

        prometheus_scrapes_with_the_documented_config(port, tmp_path)
    finally:
        server.stop()


def prometheus_scrapes_with_the_documented_config(port: int, tmp_path: Path) -> None:
    """A real Prometheus with docs/DEPLOYMENT.md's scrape config (token from a file)
    scrapes; the same target without the token is refused with 401."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.access(binary, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("needs Prometheus at /usr/bin/prometheus (apt-get install prometheus)")
        return  # the label and access checks above still ran
    (tmp_path / "metrics.token").write_text(TOKEN + "\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: helpdesk\n"
        "    metrics_path: /metrics\n"
        "    scheme: http\n"
        "    authorization:\n"
        "      type: Bearer\n"
        f"      credentials_file: {tmp_path / 'metrics.token'}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        "  - job_name: anonymous\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    web = free_port()
    log_path = tmp_path / "prometheus.log"
    prometheus = Proc.start(
        "Prometheus",
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web}",
            "--log.level=warn",
        ],
        None,
        log_path,
    )
    health: dict[str, tuple[str, str]] = {}

    def scraped() -> bool:
        """The token's job is up, the anonymous one down (refused)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/targets", timeout=2) as response:
                targets = json.load(response)["data"]["activeTargets"]
        except OSError:
            return False
        health.update({t["labels"]["job"]: (t["health"], t["lastError"]) for t in targets})
        return health.get("helpdesk", ("unknown",))[0] == "up" and health.get("anonymous", ("unknown",))[0] == "down"

    try:
        wait_until(scraped, "both jobs scraped", 30, prometheus.assert_alive, every=0.3, details=lambda: str(health))
        assert "401" in health["anonymous"][1]
        query = urllib.parse.quote('helpdesk_http_requests_total{view="healthz"}')
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?query={query}", timeout=5) as response:
            assert json.load(response)["data"]["result"], "the scrape holds the request counter"
    finally:
        prometheus.stop()
