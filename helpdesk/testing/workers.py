"""Real Celery processes for tests: workers (and beat) on the test database.

Shared by the tests that prove delivery through a real broker, so each one
states only what differs (queue, broker, pool, extra settings).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from helpdesk.testing.processes import (
    Proc,
    celery_command,
    child_pids,
    gone,
    process_kill,
    process_start,
    process_stop,
)
from helpdesk.testing.waiting import wait_until

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
    """Skip unless the test database is PostgreSQL (a worker process reaches it over the network)."""
    import pytest
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(
            f"the worker process needs the test database over the network (PostgreSQL), not {connection.vendor}"
        )


def database_url_of_test_db() -> str:
    """A DATABASE_URL for the database pytest-django created for this run
    (``test_<name>``, with or without --reuse-db)."""
    from django.db import connection

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


@dataclass
class Worker(Proc):
    """A Celery worker process and the queue it consumes."""

    queue: str = "celery"


def start_worker(*, broker_url: str, queue: str, log_path: Path, **env: str) -> Worker:
    """A solo worker on the test database consuming ``queue`` only."""
    command = celery_command("worker", *WORKER_OPTIONS, "-Q", queue, "-n", f"{queue}@%h")
    process = process_start(command, celery_env(broker_url=broker_url, **env), log_path)
    return Worker("the Celery worker", process, log_path, queue)


def start_celery_worker(
    *, broker_url: str, log_path: Path, name: str, concurrency: int = 1, **env: str
) -> Worker:
    """A prefork worker (a parent and ``concurrency`` children) on the test database,
    consuming the default queue of a broker of the test's own; returns once it is ready."""
    command = celery_command(
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
        "-n",
        f"{name}@%h",
    )
    process = process_start(command, celery_env(broker_url=broker_url, **env), log_path)
    worker = Worker(f"the Celery worker {name}", process, log_path)
    wait_until(lambda: " ready." in worker.log(), f"worker {name} starting", check=worker.assert_alive)
    return worker


def start_celery_beat(*, broker_url: str, log_path: Path, schedule: Path, **env: str) -> subprocess.Popen:
    command = celery_command("beat", "-s", str(schedule), "--max-interval=1", "--loglevel=INFO")
    return process_start(command, celery_env(broker_url=broker_url, **env), log_path)


def kill_worker(worker: Proc) -> list[int]:
    """kill -9 the worker's pool children (the processes running tasks) and then
    its parent, each by pid. Returns the pids killed."""
    parent = worker.process.pid
    children = child_pids(parent)
    for pid in children:
        process_kill(pid)
    process_kill(parent)
    worker.process.wait(timeout=10)
    for pid in children:  # reaped by init; wait until they are gone
        wait_until(lambda pid=pid: gone(pid), f"child {pid} gone", 10)
    return [*children, parent]


@dataclass
class CeleryProcesses:
    """Beat and the prefork workers a fault test starts on a broker of its own,
    each logging to ``directory``; the test kills workers, :func:`celery_processes`
    stops what is left."""

    broker_url: str
    directory: Path
    env: dict[str, str]
    beat: subprocess.Popen | None = None
    workers: list[Worker] = field(default_factory=list)

    def worker(self, name: str, *, concurrency: int = 1) -> Worker:
        """A new prefork worker, ready when returned."""
        worker = start_celery_worker(
            broker_url=self.broker_url,
            log_path=self.directory / f"{name}.log",
            name=name,
            concurrency=concurrency,
            **self.env,
        )
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            process_stop(worker.process)
        if self.beat is not None:
            process_stop(self.beat)


@contextmanager
def celery_processes(*, broker_url: str, directory: Path, **env: str) -> Iterator[CeleryProcesses]:
    """Celery beat on the test database and ``broker_url`` (schedule and log in
    ``directory``) for the block; workers started with ``.worker(name)``; all
    stopped at the end of the block."""
    processes = CeleryProcesses(broker_url, directory, env)
    processes.beat = start_celery_beat(
        broker_url=broker_url, log_path=directory / "beat.log", schedule=directory / "beat-schedule", **env
    )
    try:
        yield processes
    finally:
        processes.stop()
