"""The mail benchmark runs (tiny): it cannot rot between the runs of ``make bench-mail``.

``python -m bench.mail`` at 20 messages and 20 outbound mails, in a process of
its own with a database of its own (dropped at the end), a Redis of the test's
own, Dovecot, the SMTP receiver and a real worker: every message becomes a ticket
or a comment, the rerun takes nothing twice, every customer mail arrives.
"""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import quote

import pytest
from django.conf import settings

from bench.common import ROOT, server_connection
from helpdesk.testing.dovecot import require_dovecot

pytestmark = [pytest.mark.slow]


def _bench_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the benchmark needs PostgreSQL")
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    name = f"{db['NAME']}_bench_mail_test".removeprefix("test_")[:60]
    return f"postgres://{auth}{db.get('HOST') or ''}{port}/{name}"


def _drop(url: str) -> None:
    conn, cfg = server_connection(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}" WITH (FORCE)')
    finally:
        conn.close()


def test_the_mail_benchmark_runs_at_a_tiny_size(private_redis, tmp_path):
    require_dovecot()
    url = _bench_database_url()
    command = [
        sys.executable,
        "-m",
        "bench.mail",
        "--messages",
        "20",
        "--outbound",
        "20",
        "--sample",
        "4",
        "--no-doc",
        "--no-goals",
        "--database-url",
        url,
        "--broker",
        private_redis.url,
        "--log-dir",
        str(tmp_path / "bench"),
    ]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        _drop(url)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert "round *new*: 10 messages (2 with attachment" in done.stdout
    assert "round *replies*: 10 messages (2 with attachment" in done.stdout
    assert "no duplicate after the rerun" in done.stdout
    assert "tickets 10 -> 10, comments" in done.stdout
    assert "Message-IDs taken twice 0" in done.stdout
    assert "rows sent 20" in done.stderr and "receiver got 20" in done.stderr
