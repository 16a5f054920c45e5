"""Real Celery processes for tests: a worker (and beat) on the test database.

Shared by the tests that prove delivery through a real broker, so each one
states only what differs (queue, broker, extra settings).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from bench.common import proc_stop as stop  # noqa: F401 -- the one way to stop a process group

# One task at a time, no cluster chatter: a quiet, predictable worker for tests.
WORKER_OPTIONS = (
    "--pool=solo",
    "--concurrency=1",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
    "--loglevel=INFO",
)


# What tests that poll or post to servers of their own on 127.0.0.1 put in
# HELPDESK_OUTBOUND_ALLOW (the outbound policy refuses loopback, docs/RELIABILITY.md "Outbound requests"): in the
# test process (the ``outbound_allow_loopback`` fixture) and in the environment
# of the workers they start. Never allowed for the whole suite.
OUTBOUND_ALLOW_LOOPBACK = "127.0.0.0/8,::1"


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            f"the worker process needs the test database over the network (PostgreSQL), not {connection.vendor}"
        )


def database_url_of_test_db() -> str:
    """A DATABASE_URL for the database pytest-django created for this run
    (``test_<name>``, with or without --reuse-db)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(db.get("HOST") or "", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"


def celery_env(*, broker_url: str, **extra: str) -> dict[str, str]:
    """This process's environment for a Celery subprocess on the test database and ``broker_url``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "PYTEST_", "PROMETHEUS_MULTIPROC")) and key != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=database_url_of_test_db(),
        CELERY_BROKER_URL=broker_url,
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        **extra,
    )
    return env


def celery_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("celery")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "celery"]
    return [*base, "-A", "helpdesk", *args]


def start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``command`` in its own process group (so it is killed as a whole), logging to ``log_path``."""
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path
    queue: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"the Celery worker exited with {self.process.returncode}:\n{self.log()[-4000:]}")


def start_worker(*, broker_url: str, queue: str, log_path: Path, **env: str) -> Worker:
    """A worker on the test database consuming ``queue`` only."""
    command = celery_command("worker", *WORKER_OPTIONS, "-Q", queue, "-n", f"{queue}@%h")
    return Worker(start(command, celery_env(broker_url=broker_url, **env), log_path), log_path, queue)
