"""Pieces every benchmark shares: Django set up on the bench database, a
connection to the PostgreSQL server itself (to create or drop that database),
the report writer and waiting on the processes (gunicorn, Celery) a benchmark
starts with ``helpdesk.testing.processes``."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpdesk.testing.processes import Proc
from helpdesk.testing.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


def configure_django(*, database_url: str, broker: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    # Production runs without DEBUG (no query log kept in memory).
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def server_connection(url: str) -> tuple[Any, dict[str, Any]]:
    """An autocommit connection to the server's `postgres` database, and the parsed URL."""
    import dj_database_url
    import psycopg2

    cfg = dj_database_url.parse(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None,
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
    )
    conn.autocommit = True
    return conn, cfg


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def database_create(url: str, *, drop: bool) -> bool:
    """Create the bench database (dropping it first with ``drop``); True when it is new."""
    from django.db import connections

    connections.close_all()
    conn, cfg = server_connection(url)
    name = cfg["NAME"]
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"refusing odd database name {name!r}")
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
        if exists and drop:
            say(f"dropping database {name}")
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            say(f"creating database {name}")
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return not exists


def cpu_description() -> str:
    """`2 (AMD EPYC ...)`: the core count and the CPU model, as far as /proc tells."""
    model = ""
    with contextlib.suppress(OSError):
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return f"{os.cpu_count()} ({model})" if model else str(os.cpu_count())


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} (with uncommitted changes)" if dirty else rev


def load_average() -> str:
    """The load averages over 1, 5 and 15 minutes (other work on a shared machine)."""
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


# --- SQL on the bench database (Django's connection) -------------------------------------------


def sql_execute(*statements: str, params: list | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)


def sql_rows(sql: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def sql_scalar(sql: str, params: list | None = None) -> Any:
    return sql_rows(sql, params)[0][0]


# --- the report: a section of docs/PERFORMANCE.md per benchmark ---------------------------------

PERFORMANCE_DOC = ROOT / "docs" / "PERFORMANCE.md"


def doc_section_write(section: str, *, start: str, end: str) -> None:
    """Replace a benchmark's section of docs/PERFORMANCE.md (``section`` holds its
    own ``start``/``end`` markers) or append it; the rest of the file is kept."""
    PERFORMANCE_DOC.parent.mkdir(parents=True, exist_ok=True)
    text = (
        PERFORMANCE_DOC.read_text()
        if PERFORMANCE_DOC.exists()
        else "# Performance\n\nBenchmarks live in `bench/`; each writes its own section below.\n\n"
    )
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    PERFORMANCE_DOC.write_text(text)


# --- processes (gunicorn, Celery): started and stopped by helpdesk.testing.processes ----------


def wait_for(what: str, condition: Callable[[], object], procs: list[Proc], seconds: float) -> None:
    """Wait until ``condition`` holds while every process in ``procs`` lives; exit
    with the processes' logs when one dies or the time is up."""
    try:
        wait_until(
            condition,
            what,
            seconds,
            check=lambda: [proc.assert_alive() for proc in procs],
            every=0.2,
            details=lambda: "\n".join(proc.log()[-2000:] for proc in procs),
        )
    except AssertionError as exc:  # ProcessExited, WaitTimeout: the benchmark cannot go on
        raise SystemExit(str(exc)) from None
