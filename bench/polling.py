"""Polling benchmark: N json monitors at one interval, held by one real Celery worker.

    python -m bench.polling --monitors 2000 --interval 60 --duration 180

Goal (issue): 2,000 monitors at 60 s held by one worker, dispatch lag p95 < 5 s.

What it does, bounded in time (it stops by itself):

1. creates and migrates a dedicated database (``helpdesk_bench_polling`` on the
   PostgreSQL of ``BENCH_POLLING_DATABASE_URL``) and empties its monitoring
   tables (``--fresh`` drops and recreates it);
2. starts a local HTTP JSON source in a process of its own (a threaded
   ``http.server`` on 127.0.0.1, port 0) that answers ``{"value": ...}`` and logs
   the arrival time of every request;
3. creates one application, one json source on that server and N monitors on
   it through ``monitoring.services.config`` (static thresholds the value never
   reaches: no alert, no incident);
4. starts a real ``celery worker`` (one worker; prefork pool, concurrency 2 by
   default) and a real ``celery beat`` (``HELPDESK_POLL_DISPATCH_SECONDS=1``) as
   subprocesses, with the production settings (``HELPDESK_ENV=production``: no
   DEBUG, persistent database connections), on the bench database and a Redis
   database of their own (``BENCH_POLLING_BROKER_URL``, default db 11);
5. once both are up, puts every monitor on its own slot of the grid from a
   common start instant T (as a deployment that has been running for a while),
   measures for ``--duration`` seconds, waits for the last slots to be stored,
   stops beat and the worker.

Measured from the database, with two row triggers this benchmark adds to its
own database only (the models are untouched): every INSERT into
``monitoring_sample`` logs (monitor, scheduled instant, clock_timestamp()) and
every change of ``monitoring_monitor.next_poll_at`` logs (monitor, slot it
left, clock_timestamp()). Hence per slot:

* *poll lag*: sample stored - scheduled slot (dispatch + queue + HTTP + evaluation),
* *dispatch lag*: the dispatcher claimed the monitor - scheduled slot,

plus missed slots (a slot of the window with no sample), coverage (every monitor
polled within interval + 5 s all through the window), polls per second, and CPU
seconds of the worker (main process and pool children), beat, the PostgreSQL
backends of the bench database and the HTTP source, read from ``/proc/<pid>/stat``
at T and T + duration (sampled every second in between for processes that come
and go). Writes the section ``## Monitoring polling`` of ``docs/PERFORMANCE.md``
(``--no-doc`` to skip). Exit status 1 when p95 >= 5 s or a slot is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    PERFORMANCE_DOC,
    configure_django,
    cpu_description,
    database_create,
    doc_section_write,
    git_revision,
    say,
    wait_for,
)
from helpdesk.testing.network import QuietHandler, QuietHTTPServer
from helpdesk.testing.processes import Proc, celery_command, process_stop

ROOT = Path(__file__).resolve().parent.parent
DOC = PERFORMANCE_DOC
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_polling"
DEFAULT_BROKER = "redis://127.0.0.1:6379/11"
# The bench's JSON source listens on 127.0.0.1, which the outbound policy (SPEC 7)
# refuses unless allowed: here (the source is created through the services) and
# in the worker's environment.
OUTBOUND_ALLOW = "127.0.0.0/8"
TARGET_P95_SECONDS = 5.0
COVERAGE_SLACK_SECONDS = 5
SECTION_START = "<!-- bench:monitoring-polling:start -->"
SECTION_END = "<!-- bench:monitoring-polling:end -->"
APP_SLUG = "bench-polling"
# The value the source answers; the thresholds are far above it.
SOURCE_VALUE = 42.0
WARNING, CRITICAL = 10_000.0, 20_000.0
# Kombu's keys for the default queue on a Redis broker.
QUEUE_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex", "_kombu.binding.celery")
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


# --- the HTTP source (its own process; no Django) -------------------------------------------


def serve_http(log_path: str) -> None:
    """A threaded HTTP server on 127.0.0.1:<free port> answering every GET with a
    small JSON document. Prints ``PORT <n>``; appends ``<arrival epoch> <path>``
    per request to ``log_path`` (flushed every half second and on SIGTERM)."""
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()
    hits = [0]

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            arrived = time.time()
            with lock:
                arrivals.append((arrived, self.path))
                hits[0] += 1
                count = hits[0]
            payload = json.dumps(
                {"value": SOURCE_VALUE + (count % 7), "metrics": {"requests": count}, "at": arrived}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    class Server(QuietHTTPServer):
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    out = open(log_path, "a", buffering=1)  # noqa: SIM115 (closed on exit)

    def flush() -> None:
        with lock:
            batch = arrivals[:]
            arrivals.clear()
        if batch:
            out.write("".join(f"{t:.6f} {p}\n" for t, p in batch))
            out.flush()

    stop = threading.Event()

    def flusher() -> None:
        while not stop.wait(0.5):
            flush()

    def on_term(signum, frame) -> None:
        stop.set()
        flush()
        out.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    threading.Thread(target=flusher, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.5)


# --- processes ----------------------------------------------------------------------------


def http_source_start(log_path: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.polling", "--serve-http", str(log_path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = process.stdout.readline().strip()
    if not line.startswith("PORT "):
        process_stop(process)
        raise SystemExit(f"the HTTP source did not start: {line!r}")
    return process, int(line.split()[1])


def celery_env(args: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "PYTEST_", "PROMETHEUS_MULTIPROC", "DJANGO_"))
        and key not in ("DATABASE_URL", "DEBUG", "DATABASE_CONN_MAX_AGE")
    }
    env.update(
        DATABASE_URL=args.database_url,
        CELERY_BROKER_URL=args.broker,
        DJANGO_SETTINGS_MODULE=args.settings,
        # As deployed: no DEBUG (no query log), persistent database connections.
        HELPDESK_ENV="production",
        SECRET_KEY="bench-polling-not-a-secret-" + "x" * 32,
        ALLOWED_HOSTS="localhost",
        HELPDESK_POLL_DISPATCH_SECONDS=str(args.dispatch_seconds),
        HELPDESK_VAR_DIR=str(var_dir),
        HELPDESK_OUTBOUND_ALLOW=OUTBOUND_ALLOW,
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
    )
    return env


def worker_command(args: argparse.Namespace) -> list[str]:
    return celery_command(
        "worker",
        f"--pool={args.pool}",
        f"--concurrency={args.concurrency}",
        "--loglevel=INFO",
        "-n",
        f"bench-polling-{os.getpid()}@%h",
    )


def beat_command(var_dir: Path) -> list[str]:
    return celery_command("beat", "-s", str(var_dir / "celerybeat-schedule"), "--loglevel=INFO")


def broker_clear(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(QUEUE_KEYS) + [k.decode() for k in client.scan_iter("_kombu.*")]
        client.delete(*keys)
    finally:
        client.close()


# --- database -----------------------------------------------------------------------------


def _configure(args: argparse.Namespace) -> None:
    os.environ["HELPDESK_OUTBOUND_ALLOW"] = OUTBOUND_ALLOW
    configure_django(database_url=args.database_url, broker=args.broker)


def database_prepare(url: str, *, drop: bool) -> None:
    from django.core.management import call_command

    database_create(url, drop=drop)
    call_command("migrate", interactive=False, verbosity=0)


def _execute(*statements: str, params: list | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def data_reset() -> None:
    """Empty what a previous run left: monitoring rows and the bench's own logs."""
    _execute(
        "DROP TRIGGER IF EXISTS bench_sample_stored ON monitoring_sample",
        "DROP TRIGGER IF EXISTS bench_monitor_dispatched ON monitoring_monitor",
        # The cascade reaches the audit trail (incident tickets of the applications),
        # which refuses TRUNCATE unless the session asks (tickets migration 0011).
        "SET helpdesk.allow_audit_truncate = 'on'",
        "TRUNCATE monitoring_sample, monitoring_alert, monitoring_silence, monitoring_monitor, "
        "monitoring_metricsource, monitoring_application CASCADE",
        "RESET helpdesk.allow_audit_truncate",
        "CREATE UNLOGGED TABLE IF NOT EXISTS bench_poll_stored "
        "(monitor_id bigint NOT NULL, at timestamptz NOT NULL, stored_at timestamptz NOT NULL)",
        "CREATE UNLOGGED TABLE IF NOT EXISTS bench_poll_dispatched "
        "(monitor_id bigint NOT NULL, slot timestamptz, dispatched_at timestamptz NOT NULL)",
        "TRUNCATE bench_poll_stored, bench_poll_dispatched",
    )


def triggers_install() -> None:
    """Row triggers on this bench database only: when each sample was stored and
    when the dispatcher moved each monitor off its slot (clock_timestamp())."""
    _execute(
        """
        CREATE OR REPLACE FUNCTION bench_log_sample() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO bench_poll_stored VALUES (NEW.monitor_id, NEW.at, clock_timestamp());
            RETURN NULL;
        END $$
        """,
        """
        CREATE OR REPLACE FUNCTION bench_log_dispatch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO bench_poll_dispatched VALUES (NEW.id, OLD.next_poll_at, clock_timestamp());
            RETURN NULL;
        END $$
        """,
        "CREATE TRIGGER bench_sample_stored AFTER INSERT ON monitoring_sample "
        "FOR EACH ROW EXECUTE FUNCTION bench_log_sample()",
        "CREATE TRIGGER bench_monitor_dispatched AFTER UPDATE OF next_poll_at ON monitoring_monitor "
        "FOR EACH ROW WHEN (OLD.next_poll_at IS DISTINCT FROM NEW.next_poll_at) "
        "EXECUTE FUNCTION bench_log_dispatch()",
    )


def monitors_create(count: int, interval: int, url: str) -> list[int]:
    """One application, one json source on the local server, ``count`` monitors
    through the configuration services, parked (next poll far in the future)
    until the worker and beat are up."""
    from monitoring.models import Application, Monitor
    from monitoring.services import config

    app = Application.objects.create(name="Bench polling", slug=APP_SLUG, criticality="low", owner_tier=1)
    source, _ = config.source_create(
        actor=None,
        name="Bench JSON source",
        kind="json",
        base_url=url,
        options={},
        poll_interval_seconds=interval,
        timeout_seconds=5,
    )
    for i in range(count):
        config.monitor_create(
            actor=None,
            application=app,
            source=source,
            name=f"bench monitor {i:05d}",
            query="value",
            unit="ms",
            direction="above",
            baseline_kind="static",
            warning=WARNING,
            critical=CRITICAL,
        )
    Monitor.objects.filter(source=source).update(next_poll_at=FAR_FUTURE)
    return list(Monitor.objects.filter(source=source).order_by("id").values_list("id", flat=True))


def monitors_schedule(ids: list[int], interval: int, start: datetime) -> dict[int, datetime]:
    """Every monitor on its slot of the interval grid, first slot after ``start``."""
    from monitoring.services.polling import next_slot

    slots = {pk: next_slot(pk, interval, start) for pk in ids}
    _execute(
        "UPDATE monitoring_monitor AS m SET next_poll_at = s.slot "
        "FROM UNNEST(%s::bigint[], %s::timestamptz[]) AS s(id, slot) WHERE m.id = s.id",
        params=[list(slots), list(slots.values())],
    )
    return slots


# --- CPU from /proc --------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cpu_of(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _cpu_with_children(fields: list[str]) -> float:
    """Own CPU plus that of reaped children (cutime, cstime)."""
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLOCK_TICKS


def proc_scan(sessions: dict[int, str], postmaster: int | None) -> tuple[dict[int, tuple[str, float]], float]:
    """pid -> (group, CPU seconds) for every process in the given sessions, and
    the CPU of the whole PostgreSQL server: the postmaster with its reaped
    children plus its live children. Backends that connect for one task and exit
    are in the latter, however short they live."""
    found: dict[int, tuple[str, float]] = {}
    server = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat(pid)
        if fields is None:
            continue
        group = sessions.get(int(fields[3]))
        if group is not None:
            found[pid] = (group, _cpu_of(fields))
        if postmaster is not None:
            if pid == postmaster:
                server += _cpu_with_children(fields)
            elif int(fields[1]) == postmaster:
                server += _cpu_of(fields)
    return found, server


class CpuMeter:
    """CPU seconds per group between ``begin()`` and ``end()``; a sampler thread
    (every second) sees processes that start and exit in between (pool children,
    database backends).

    Groups: the sessions given (worker, beat, http); ``pg_bench``: backends of
    the bench database alive at a sample (a lower bound when they reconnect
    often); ``pg_other``: backends of other databases alive at a sample (other
    work on a shared server); and ``pg_server``: the whole PostgreSQL server
    (exact, all databases)."""

    def __init__(self, sessions: dict[int, str], pg_url: str, db_name: str) -> None:
        self.sessions = sessions
        self.db_name = db_name
        self.pg_url = pg_url
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.server_first = self.server_last = 0.0
        self.pids_seen: Counter = Counter()
        self.other_active: list[int] = []
        self._stop = threading.Event()
        self._active = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._pg = None
        self.postmaster: int | None = None
        self.backend_error = ""

    def _backends(self) -> dict[int, tuple[str, float]]:
        import psycopg2

        if self._pg is None:
            self._pg = psycopg2.connect(self.pg_url)
            self._pg.autocommit = True
        with self._pg.cursor() as cursor:
            cursor.execute(
                "SELECT pid, datname = %s, state = 'active' FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                [self.db_name],
            )
            rows = cursor.fetchall()
            if self.postmaster is None:
                cursor.execute("SELECT pg_backend_pid()")
                own = _stat(cursor.fetchone()[0])
                self.postmaster = int(own[1]) if own else None
        found = {}
        for pid, ours, _ in rows:
            fields = _stat(pid)
            if fields is not None:
                found[pid] = ("pg_bench" if ours else "pg_other", _cpu_of(fields))
        self.other_active.append(sum(1 for _, ours, active in rows if active and not ours))
        return found

    def snapshot(self) -> tuple[dict[int, tuple[str, float]], float]:
        backends = {}
        try:
            backends = self._backends()
        except Exception as exc:  # reported: the PostgreSQL figures are then missing
            if not self.backend_error:
                say(f"cannot read the database backends: {exc!r}")
            self.backend_error = repr(exc)
            self._pg = None
        found, server = proc_scan(self.sessions, self.postmaster)
        found.update(backends)
        return found, server

    def begin(self) -> None:
        self.snapshot()  # finds the postmaster
        snap, server = self.snapshot()
        with self._lock:
            self.first = {pid: cpu for pid, (_, cpu) in snap.items()}
            self.last = dict(snap)
            self.server_first = self.server_last = server
            self.other_active.clear()
            self._active = True
        self._thread.start()

    def _merge(self, snap: dict[int, tuple[str, float]], server: float) -> None:
        for pid, value in snap.items():
            self.first.setdefault(pid, 0.0)  # born inside the window
            self.last[pid] = value
        self.server_last = server

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            snap, server = self.snapshot()
            with self._lock:
                if not self._active:
                    return
                self._merge(snap, server)

    def end(self) -> dict[str, float]:
        snap, server = self.snapshot()
        with self._lock:
            self._merge(snap, server)
            self._active = False
        self._stop.set()
        self._thread.join(timeout=5)
        if self._pg is not None:
            self._pg.close()
        totals: Counter = Counter()
        counts: Counter = Counter()
        for pid, (group, cpu) in self.last.items():
            totals[group] += max(cpu - self.first.get(pid, 0.0), 0.0)
            counts[group] += 1
        if self.postmaster is not None:
            totals["pg_server"] = self.server_last - self.server_first
        self.pids_seen = counts
        return dict(totals)


# --- analysis ------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]


@dataclass
class Result:
    expected_slots: int = 0
    stored: int = 0
    missed: int = 0
    duplicates: int = 0
    lag: dict[str, float] = field(default_factory=dict)
    dispatch_lag: dict[str, float] = field(default_factory=dict)
    lag_buckets: list[tuple[str, int]] = field(default_factory=list)
    uncovered_monitors: int = 0
    worst_gap: float = 0.0
    polls_in_window: int = 0
    polls_per_second: float = 0.0
    http_requests: int = 0
    http_peak_per_second: int = 0
    http_per_second_p50: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    poll_task_ms: dict[str, float] = field(default_factory=dict)
    dispatch_task_ms: dict[str, float] = field(default_factory=dict)
    dispatch_runs: int = 0
    dispatch_per_run: dict[str, float] = field(default_factory=dict)
    expired: int = 0
    retries: int = 0
    errors: int = 0
    load_before: str = ""
    db: dict[str, float] = field(default_factory=dict)
    other_active_mean: float = 0.0
    load_after: str = ""

    @property
    def passed(self) -> bool:
        return self.lag.get("p95", math.inf) < TARGET_P95_SECONDS and self.missed == 0


def _stats(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    return {
        "n": len(values),
        "min": values[0],
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": values[-1],
        "mean": sum(values) / len(values),
    }


TASK_DONE = re.compile(r"Task (monitoring\.\w+)\[[0-9a-f-]+\] succeeded in ([0-9.e-]+)s: (.*)$", re.M)
TASK_RETRY = re.compile(r"Task monitoring\.poll_monitor\[[0-9a-f-]+\] retry", re.M)
TASK_ERROR = re.compile(r"Task monitoring\.\w+\[[0-9a-f-]+\] raised unexpected", re.M)
EXPIRED = re.compile(r"(?i)expired|Discarding revoked task", re.M)


def analyse(
    *,
    slots: dict[int, datetime],
    interval: int,
    start: datetime,
    end: datetime,
    http_log: Path,
    worker_log: str,
) -> Result:
    result = Result()
    stored = _rows(
        "SELECT monitor_id, at, stored_at FROM bench_poll_stored WHERE at > %s AND at <= %s ORDER BY stored_at",
        [start, end],
    )
    dispatched = _rows(
        "SELECT monitor_id, slot, dispatched_at FROM bench_poll_dispatched WHERE slot > %s AND slot <= %s",
        [start, end],
    )
    expected = set()
    for pk, first in slots.items():
        slot = first
        while slot <= end:
            expected.add((pk, slot))
            slot += timedelta(seconds=interval)
    got = Counter((pk, at) for pk, at, _ in stored)
    result.expected_slots = len(expected)
    result.stored = len(stored)
    result.duplicates = sum(n - 1 for n in got.values() if n > 1)
    result.missed = len(expected - set(got))
    lags = [(stored_at - at).total_seconds() for _, at, stored_at in stored]
    result.lag = _stats(lags)
    result.dispatch_lag = _stats([(d - s).total_seconds() for _, s, d in dispatched])
    edges = [0.5, 1, 2, 3, 5, 10, 30, 60]
    lower = 0.0
    for edge in edges:
        result.lag_buckets.append((f"{lower:g}-{edge:g} s", sum(1 for x in lags if lower <= x < edge)))
        lower = edge
    result.lag_buckets.append((f">= {lower:g} s", sum(1 for x in lags if x >= lower)))

    # Coverage: every monitor polled within interval + slack all through the window.
    limit = interval + COVERAGE_SLACK_SECONDS
    per_monitor: dict[int, list[datetime]] = {}
    for pk, _, stored_at in stored:
        per_monitor.setdefault(pk, []).append(stored_at)
    worst = 0.0
    uncovered = 0
    for pk in slots:
        times = [start, *sorted(per_monitor.get(pk, [])), end]
        gap = max((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False))
        worst = max(worst, gap)
        uncovered += gap > limit
    result.worst_gap, result.uncovered_monitors = worst, uncovered

    # Throughput inside the window (stored, not scheduled).
    window = (end - start).total_seconds()
    result.polls_in_window = sum(1 for _, _, stored_at in stored if start < stored_at <= end)
    result.polls_per_second = result.polls_in_window / window

    arrivals = []
    with contextlib.suppress(OSError):
        for line in http_log.read_text().splitlines():
            with contextlib.suppress(ValueError, IndexError):
                arrivals.append(float(line.split()[0]))
    t0, t1 = start.timestamp(), end.timestamp()
    inside = [t for t in arrivals if t0 < t <= t1]
    result.http_requests = len(inside)
    per_second = Counter(int(t - t0) for t in inside)
    seconds = [per_second.get(i, 0) for i in range(int(window))]
    result.http_peak_per_second = max(seconds, default=0)
    result.http_per_second_p50 = percentile(sorted(seconds), 50) if seconds else 0

    polls_ms, dispatch_ms, per_run = [], [], []
    for task, seconds_text, value in TASK_DONE.findall(worker_log):
        if task == "monitoring.poll_monitor":
            polls_ms.append(float(seconds_text) * 1000)
            result.outcomes[value.strip().strip("'\"")] += 1
        elif task == "monitoring.dispatch_due_monitors":
            dispatch_ms.append(float(seconds_text) * 1000)
            with contextlib.suppress(ValueError):
                per_run.append(float(value))
    result.poll_task_ms = _stats(polls_ms)
    result.dispatch_task_ms = _stats(dispatch_ms)
    result.dispatch_runs = len(dispatch_ms)
    result.dispatch_per_run = _stats(per_run)
    result.retries = len(TASK_RETRY.findall(worker_log))
    result.errors = len(TASK_ERROR.findall(worker_log))
    result.expired = len(EXPIRED.findall(worker_log))
    return result


# --- reporting -------------------------------------------------------------------------------


def _scalar(sql: str) -> Any:
    return _rows(sql)[0][0]


def machine() -> dict[str, str]:
    import celery
    import django
    import kombu

    redis_version = ""
    with contextlib.suppress(Exception):
        import redis

        redis_version = redis.Redis.from_url(DEFAULT_BROKER).info("server")["redis_version"]
    return {
        "cpus": cpu_description(),
        "postgresql": str(_scalar("SHOW server_version")),
        "redis": redis_version or "?",
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery / kombu": f"{celery.__version__} / {kombu.__version__}",
    }


def _load() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def _s(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def render(args: argparse.Namespace, result: Result, info: dict[str, str], measured_at: datetime) -> str:
    r = result
    polls = max(r.polls_in_window, 1)
    cpu = r.cpu
    worker_cpu = cpu.get("worker", 0.0)
    verdict = "meets the goal" if r.passed else "misses the goal"
    lines = [
        SECTION_START,
        "## Monitoring polling",
        "",
        f"{args.monitors:,} json monitors at {args.interval} s on one local HTTP source, held by one Celery worker "
        f"(`--pool={args.pool} --concurrency={args.concurrency}`) with beat dispatching every "
        f"{args.dispatch_seconds} s, for {args.duration} s. Goal: dispatch lag p95 < {TARGET_P95_SECONDS:g} s, "
        f"every monitor polled within interval + {COVERAGE_SLACK_SECONDS} s.",
        "",
        f"**Result: lag from scheduled slot to sample stored p50 {_s(r.lag.get('p50'))} s, "
        f"p95 {_s(r.lag.get('p95'))} s, "
        f"max {_s(r.lag.get('max'))} s; {r.missed} missed slots of {r.expected_slots:,}; "
        f"{r.polls_per_second:.1f} polls/s; worker CPU {worker_cpu / polls * 1000:.1f} ms per poll: {verdict}.**",
        "",
        f"Measured {measured_at:%Y-%m-%d %H:%M} UTC at revision {git_revision()}; "
        f"load average {r.load_before} before, {r.load_after} after (shared machine).",
        "",
        "### Configuration",
        "",
        f"- machine: {info['cpus']}; PostgreSQL {info['postgresql']}, Redis {info['redis']}, "
        f"Python {info['python']}, Django {info['django']}, Celery/Kombu {info['celery / kombu']}",
        f"- database `{args.database_url.rsplit('/', 1)[-1]}` (created and migrated by the benchmark), "
        f"broker `{args.broker}` (a Redis database of its own)",
        f"- worker: `celery -A helpdesk worker --pool={args.pool} --concurrency={args.concurrency} --loglevel=INFO`; "
        f"beat: `celery -A helpdesk beat` with `HELPDESK_POLL_DISPATCH_SECONDS={args.dispatch_seconds}`; both with "
        f"`HELPDESK_ENV=production` and `DJANGO_SETTINGS_MODULE={args.settings}` (no DEBUG; `CONN_MAX_AGE` 60, "
        "which the worker does not use: Celery's Django fixup closes the database connections before and after "
        "every task unless `CELERY_DB_REUSE_MAX` is set)",
        f"- source: `http.server.ThreadingHTTPServer` on 127.0.0.1 in a process of its own, answering "
        f'`{{"value": {SOURCE_VALUE:g}..{SOURCE_VALUE + 6:g}, ...}}` (about 80 bytes); source timeout 5 s',
        f"- monitors: one application, one json source, query `value`, static thresholds warning "
        f"{WARNING:g} / critical {CRITICAL:g} (never reached: no alert, no incident)",
        f"- start: every monitor on its own slot of the {args.interval} s grid from the instant T the "
        "worker and beat are up (the steady state of a running deployment, not the burst of 2,000 "
        "never-polled monitors); the window is the slots in (T, T + duration]",
        "",
        "### Figures",
        "",
        "| lag (s) | n | p50 | p95 | p99 | max | mean |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, stats in (
        ("slot -> sample stored (poll lag)", r.lag),
        ("slot -> claimed by the dispatcher", r.dispatch_lag),
    ):
        lines.append(
            f"| {label} | {stats.get('n', 0):,} | {_s(stats.get('p50'))} | {_s(stats.get('p95'))} | "
            f"{_s(stats.get('p99'))} | {_s(stats.get('max'))} | {_s(stats.get('mean'))} |"
        )
    lines += [
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| slots scheduled in the window | {r.expected_slots:,} |",
        f"| samples stored for them | {r.stored:,} |",
        f"| missed slots | {r.missed:,} |",
        f"| monitors not polled within {args.interval + COVERAGE_SLACK_SECONDS} s at some point | "
        f"{r.uncovered_monitors:,} (longest gap {r.worst_gap:.1f} s) |",
        f"| polls stored per second (window) | {r.polls_per_second:.1f} |",
        f"| HTTP requests per second at the source: median / peak second | "
        f"{r.http_per_second_p50:g} / {r.http_peak_per_second} |",
        f"| poll outcomes | {', '.join(f'{k} {v:,}' for k, v in r.outcomes.most_common()) or 'n/a'} |",
        f"| retries / task errors / expired or revoked tasks | {r.retries} / {r.errors} / {r.expired} |",
        f"| poll task wall time, ms: p50 / p95 / max | {_s(r.poll_task_ms.get('p50'), 1)} / "
        f"{_s(r.poll_task_ms.get('p95'), 1)} / {_s(r.poll_task_ms.get('max'), 1)} |",
        f"| dispatcher runs; monitors per run p50 / max; wall ms p50 / max | {r.dispatch_runs}; "
        f"{_s(r.dispatch_per_run.get('p50'), 0)} / {_s(r.dispatch_per_run.get('max'), 0)}; "
        f"{_s(r.dispatch_task_ms.get('p50'), 1)} / {_s(r.dispatch_task_ms.get('max'), 1)} |",
        "",
        f"CPU over the {args.duration} s window ({r.polls_in_window:,} polls stored in it):",
        "",
        "| process | CPU s | ms per poll | share of one core |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, value in cpu_rows(args, r):
        lines.append(f"| {label} | {value:.1f} | {value / polls * 1000:.2f} | {value / args.duration * 100:.0f} % |")
    db = r.db
    lines += [
        "",
        f"The bench database in the window (`pg_stat_database`): {db.get('sessions', 0):,.0f} sessions opened "
        f"({db.get('sessions', 0) / polls:.2f} per poll), {db.get('xact_commit', 0):,.0f} commits "
        f"({db.get('xact_commit', 0) / polls:.1f} per poll), {db.get('active_time', 0) / 1000:.1f} s executing "
        f"statements ({db.get('active_time', 0) / polls:.2f} ms per poll). Other databases on the server had "
        f"{r.other_active_mean:.1f} statements running on average during the window.",
        "",
        "Lag buckets (slot -> sample stored):",
        "",
        "| lag | samples |",
        "| --- | ---: |",
        *[f"| {label} | {count:,} |" for label, count in r.lag_buckets],
        "",
        "*Poll lag* is measured in PostgreSQL: a row trigger the benchmark adds to its own database logs "
        "`clock_timestamp()` for every sample inserted (inside the evaluation's transaction, just before its "
        "commit) next to the sample's scheduled instant; a second trigger logs when the dispatcher moved each "
        "monitor off its slot. The dispatcher runs every second and claims what is due, so up to 1 s of the lag is "
        "the dispatch period itself. *CPU* is user + system time from `/proc/<pid>/stat`, taken at T and "
        "T + duration and sampled every second in between for processes that come and go. The PostgreSQL server "
        "figure covers every database on it (other work on this machine included); the bench's share is at most "
        "that minus the other databases' backends seen.",
        *notes(args, r),
        "",
        "### Rerun",
        "",
        "```sh",
        "make bench-polling     # = python -m bench.polling --monitors 2000 --interval 60 --duration 180",
        "```",
        "",
        "`BENCH_POLLING_DATABASE_URL` / `--database-url` and `BENCH_POLLING_BROKER_URL` / `--broker` select "
        "the database (its name must contain `bench`) and the Redis database; `--pool`, `--concurrency` "
        "and `--dispatch-seconds` the worker and dispatcher settings; `--fresh` recreates the database; "
        "`--settings` gives worker and beat another settings module (say one that imports `helpdesk.settings` "
        "and sets `CELERY_DB_REUSE_MAX`, on `PYTHONPATH`) to measure a change before making it; "
        '`--no-doc` leaves this file alone (with make: `BENCH_ARGS="--pool threads --concurrency 4"`). '
        "Process logs are kept in `var/bench-polling/`. The command exits 1 when p95 >= 5 s or a slot is missed.",
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def notes(args: argparse.Namespace, r: Result) -> list[str]:
    """What the figures of this run say, beyond the goal."""
    polls = max(r.polls_in_window, 1)
    found = []
    sessions = r.db.get("sessions", 0) / polls
    if sessions >= 0.5:
        found.append(
            f"- **A database connection per poll.** {sessions:.2f} sessions were opened per poll: Celery's Django "
            "fixup closes the connections before and after every task (it ignores `CONN_MAX_AGE` unless "
            "`CELERY_DB_REUSE_MAX` is set), so each poll pays a PostgreSQL backend start-up and cold catalogue "
            "caches. It is most of the PostgreSQL CPU per poll above."
        )
    if r.expired:
        found.append(
            f"- {r.expired} dispatcher runs expired in the queue (their `expires` is the dispatch period) behind "
            "polls the worker had already taken; the next run claimed their monitors a second later."
        )
    return ["", "Notes:", "", *found] if found else []


def _pool_text(args: argparse.Namespace) -> str:
    if args.pool == "prefork":
        return f"main process + {args.concurrency} pool processes"
    return f"one process, {args.concurrency} threads" if args.pool == "threads" else "one process"


def cpu_rows(args: argparse.Namespace, r: Result) -> list[tuple[str, float]]:
    cpu = r.cpu
    rows = [
        (
            f"Celery worker ({_pool_text(args)}; runs the polls and the dispatcher)",
            cpu.get("worker", 0.0),
        ),
        ("Celery beat (sends the dispatcher every second)", cpu.get("beat", 0.0)),
        ("the HTTP source", cpu.get("http", 0.0)),
    ]
    if "pg_server" in cpu:
        bench_pg = max(cpu["pg_server"] - cpu.get("pg_other", 0.0), 0.0)
        rows += [
            ("PostgreSQL, whole server (all databases, exact)", cpu["pg_server"]),
            ("PostgreSQL for the bench: server minus other databases' backends seen (upper bound)", bench_pg),
        ]
    return rows


DB_STATS = ("sessions", "xact_commit", "active_time")


def db_stats(db_name: str) -> dict[str, float]:
    row = _rows(f"SELECT {', '.join(DB_STATS)} FROM pg_stat_database WHERE datname = %s", [db_name])[0]
    return {name: float(value or 0) for name, value in zip(DB_STATS, row, strict=True)}


def doc_update(section: str) -> None:
    doc_section_write(section, start=SECTION_START, end=SECTION_END)


def report_print(result: Result, args: argparse.Namespace) -> None:
    r = result
    polls = max(r.polls_in_window, 1)
    print()
    print(
        f"monitors {args.monitors}, interval {args.interval} s, duration {args.duration} s, "
        f"pool {args.pool} -c {args.concurrency}, dispatch every {args.dispatch_seconds} s"
    )
    for label, stats in (("poll lag (slot -> stored)", r.lag), ("dispatch lag (slot -> claimed)", r.dispatch_lag)):
        print(
            f"{label:32s} n={stats.get('n', 0):,} p50={_s(stats.get('p50'))} p95={_s(stats.get('p95'))} "
            f"p99={_s(stats.get('p99'))} max={_s(stats.get('max'))} mean={_s(stats.get('mean'))}"
        )
    print(
        f"slots {r.expected_slots:,}, stored {r.stored:,}, missed {r.missed}, duplicates {r.duplicates}, "
        f"monitors uncovered {r.uncovered_monitors} (worst gap {r.worst_gap:.1f} s)"
    )
    print(
        f"polls/s {r.polls_per_second:.1f}; HTTP req/s median {r.http_per_second_p50:g} peak "
        f"{r.http_peak_per_second}; outcomes {dict(r.outcomes)}; retries {r.retries}, errors {r.errors}, "
        f"expired {r.expired}"
    )
    print(f"poll task ms {json.dumps({k: round(v, 1) for k, v in r.poll_task_ms.items()})}")
    print(
        f"dispatch task ms {json.dumps({k: round(v, 1) for k, v in r.dispatch_task_ms.items()})}, "
        f"per run {json.dumps({k: round(v, 1) for k, v in r.dispatch_per_run.items()})}"
    )
    for label, value in cpu_rows(args, r):
        print(
            f"CPU {value:7.2f} s = {value / polls * 1000:6.2f} ms/poll = "
            f"{value / args.duration * 100:5.1f} % of a core: {label}"
        )
    print(
        f"bench database: {json.dumps({k: round(v / polls, 3) for k, v in r.db.items()})} per poll "
        f"(active_time in ms); other databases' running statements, mean {r.other_active_mean:.1f}"
    )
    print(f"load {r.load_before} -> {r.load_after}; {'PASS' if r.passed else 'FAIL'}")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.polling", description=__doc__.split("\n")[0])
    parser.add_argument("--monitors", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=60, help="poll interval of the source, seconds")
    parser.add_argument("--duration", type=int, default=180, help="measured window, seconds")
    parser.add_argument("--pool", default="prefork", choices=("prefork", "threads", "solo"))
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--dispatch-seconds", type=int, default=1, help="HELPDESK_POLL_DISPATCH_SECONDS")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POLLING_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--broker", default=os.environ.get("BENCH_POLLING_BROKER_URL", DEFAULT_BROKER))
    parser.add_argument(
        "--settings",
        default="helpdesk.settings",
        help="DJANGO_SETTINGS_MODULE of the worker and beat (to try a setting; PYTHONPATH is passed on)",
    )
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/PERFORMANCE.md")
    parser.add_argument("--log-dir", default=str(ROOT / "var" / "bench-polling"))
    args = parser.parse_args(argv)
    if not re.search(r"bench", args.database_url.rsplit("/", 1)[-1]):
        parser.error("the database name must contain 'bench': it is emptied")
    if args.interval < 5 or args.duration < args.interval or args.monitors < 1:
        parser.error("need --interval >= 5, --duration >= --interval and --monitors >= 1")
    if not args.broker.startswith("redis://"):
        parser.error("--broker must be a Redis URL")
    return args


def _sleep_until(instant: float, procs: list[Proc]) -> None:
    while (left := instant - time.time()) > 0:
        for proc in procs:
            if not proc.alive():
                raise SystemExit(f"{proc.name} exited with {proc.process.returncode}:\n{proc.log()[-3000:]}")
        time.sleep(min(left, 1.0))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-http"]:
        serve_http(argv[1])
        return 0
    args = parse_args(argv)
    _configure(args)
    from django.db import connections

    log_dir = Path(args.log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)
    (log_dir / "var").mkdir(parents=True)
    http_log = log_dir / "http-requests.log"

    database_prepare(args.database_url, drop=args.fresh)
    data_reset()
    broker_clear(args.broker)
    info = machine()

    http_proc, port = http_source_start(http_log)
    procs: list[Proc] = []
    try:
        say(f"HTTP source on 127.0.0.1:{port} (pid {http_proc.pid})")
        started = time.monotonic()
        ids = monitors_create(args.monitors, args.interval, f"http://127.0.0.1:{port}/metrics")
        say(f"created {len(ids):,} monitors in {time.monotonic() - started:.1f} s")
        connections.close_all()

        env = celery_env(args, log_dir / "var")
        worker = Proc.start("celery worker", worker_command(args), env, log_dir / "worker.log")
        beat = Proc.start("celery beat", beat_command(log_dir / "var"), env, log_dir / "beat.log")
        procs = [worker, beat]
        wait_for("the worker is ready", lambda: " ready." in worker.log(), procs, 90)
        wait_for("beat sends the dispatcher", lambda: "monitoring-dispatch" in beat.log(), procs, 60)
        say(f"worker (pid {worker.process.pid}) and beat (pid {beat.process.pid}) are up")

        # T: a whole second a little ahead, so the first slots are not already late.
        start_epoch = math.ceil(time.time()) + 2
        start = datetime.fromtimestamp(start_epoch, tz=UTC)
        end = start + timedelta(seconds=args.duration)
        slots = monitors_schedule(ids, args.interval, start)
        triggers_install()
        connections.close_all()

        db_name = args.database_url.rsplit("/", 1)[-1].split("?")[0]
        meter = CpuMeter(
            {worker.process.pid: "worker", beat.process.pid: "beat", http_proc.pid: "http"},
            args.database_url,
            db_name,
        )
        load_before = _load()
        _sleep_until(start_epoch, procs)
        db_before = db_stats(db_name)
        meter.begin()
        say(f"measuring from {start:%H:%M:%S} for {args.duration} s")
        next_note = start_epoch + 30
        while time.time() < end.timestamp():
            _sleep_until(min(next_note, end.timestamp()), procs)
            if time.time() >= next_note:
                say(f"{int(time.time() - start_epoch)} s ...")
                next_note += 30
        cpu = meter.end()
        time.sleep(1.1)  # statistics are flushed at most once a second
        db_after = db_stats(db_name)
        load_after = _load()

        # The last slots of the window: wait until stored (or give up after 60 s).
        expected = sum(1 + int((end - s).total_seconds() // args.interval) for s in slots.values() if s <= end)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = _rows("SELECT count(*) FROM bench_poll_stored WHERE at > %s AND at <= %s", [start, end])[0][0]
            if done >= expected:
                break
            time.sleep(0.5)
        time.sleep(1.0)
    finally:
        for proc in reversed(procs):  # beat first, then the worker
            process_stop(proc.process)
        process_stop(http_proc)
        with contextlib.suppress(Exception):
            broker_clear(args.broker)

    result = analyse(
        slots=slots, interval=args.interval, start=start, end=end, http_log=http_log, worker_log=worker.log()
    )
    result.cpu = cpu
    result.db = {k: db_after[k] - db_before[k] for k in DB_STATS}
    result.other_active_mean = sum(meter.other_active) / max(len(meter.other_active), 1)
    result.load_before, result.load_after = load_before, load_after
    report_print(result, args)
    say(f"CPU: processes seen per group {dict(meter.pids_seen)}; logs in {log_dir}")
    if not args.no_doc:
        section = render(args, result, info, datetime.now(UTC))
        doc_update(section)
        say(f"wrote the section 'Monitoring polling' of {DOC.relative_to(ROOT)}")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
