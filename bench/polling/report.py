"""The report of a run: printed, and the section ``## Monitoring polling`` of
docs/PERFORMANCE.md (written by bench.common.doc_section_write)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
from datetime import datetime

from bench.common import cpu_description, doc_section_write, git_revision, sql_scalar
from bench.polling.analysis import COVERAGE_SLACK_SECONDS, TARGET_P95_SECONDS, Result
from bench.polling.database import CRITICAL, WARNING
from bench.polling.source import SOURCE_VALUE

SECTION_START = "<!-- bench:monitoring-polling:start -->"
SECTION_END = "<!-- bench:monitoring-polling:end -->"


def machine(broker: str) -> dict[str, str]:
    import celery
    import django
    import kombu

    redis_version = ""
    with contextlib.suppress(Exception):
        import redis

        redis_version = redis.Redis.from_url(broker).info("server")["redis_version"]
    return {
        "cpus": cpu_description(),
        "postgresql": str(sql_scalar("SHOW server_version")),
        "redis": redis_version or "?",
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery / kombu": f"{celery.__version__} / {kombu.__version__}",
    }


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
