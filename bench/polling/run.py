"""Orchestration: the database, the HTTP source, a real Celery worker and beat, the
measured window, then the analysis and the report."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench.polling
from bench.common import PERFORMANCE_DOC, configure_django, load_average, say, sql_scalar, wait_for
from bench.polling.analysis import analyse
from bench.polling.cpu import CpuMeter
from bench.polling.database import (
    DB_STATS,
    data_reset,
    database_prepare,
    db_stats,
    monitors_create,
    monitors_schedule,
    triggers_install,
)
from bench.polling.report import doc_update, machine, render, report_print
from bench.polling.source import http_source_start
from helpdesk.testing.processes import ROOT, Proc, celery_command, process_stop

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_polling"
DEFAULT_BROKER = "redis://127.0.0.1:6379/11"
# The bench's JSON source listens on 127.0.0.1, which the outbound policy (docs/RELIABILITY.md "Outbound requests")
# refuses unless allowed: here (the source is created through the services) and
# in the worker's environment.
OUTBOUND_ALLOW = "127.0.0.0/8"
# Kombu's keys for the default queue on a Redis broker.
QUEUE_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex", "_kombu.binding.celery")


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


def _configure(args: argparse.Namespace) -> None:
    os.environ["HELPDESK_OUTBOUND_ALLOW"] = OUTBOUND_ALLOW
    configure_django(database_url=args.database_url, broker=args.broker)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.polling", description=bench.polling.__doc__.split("\n")[0])
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
    args = parse_args(sys.argv[1:] if argv is None else argv)
    _configure(args)
    from django.db import connections

    log_dir = Path(args.log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)
    (log_dir / "var").mkdir(parents=True)
    http_log = log_dir / "http-requests.log"

    database_prepare(args.database_url, drop=args.fresh)
    data_reset()
    broker_clear(args.broker)
    info = machine(DEFAULT_BROKER)

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
        load_before = load_average()
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
        load_after = load_average()

        # The last slots of the window: wait until stored (or give up after 60 s).
        expected = sum(1 + int((end - s).total_seconds() // args.interval) for s in slots.values() if s <= end)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = sql_scalar("SELECT count(*) FROM bench_poll_stored WHERE at > %s AND at <= %s", [start, end])
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
        say(f"wrote the section 'Monitoring polling' of {PERFORMANCE_DOC.relative_to(ROOT)}")
    return 0 if result.passed else 1
