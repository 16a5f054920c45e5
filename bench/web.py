"""Web benchmark: the production setup under load on loopback.

    python -m bench.web --tickets 100000            # or: make bench-web

Against its own database (``helpdesk_bench_web_<size>`` on the PostgreSQL of
``BENCH_DATABASE_URL``) it

1. loads the data once with ``bench.generate`` (COPY; 3 comments and 5 events per
   ticket, 10,000 customers, 50 agents, 95 % of the tickets done) and 200
   monitors with 30 days of samples at 5-minute steps; reused while the
   parameters are the same (``--reload`` loads afresh);
2. starts what production runs: gunicorn (2 workers, ``HELPDESK_ENV=production``,
   persistent database connections) and a Celery worker on Redis;
3. drives each scenario with wrk (Debian's package) for ``--duration`` seconds at
   1 and at 8 connections: the ticket list (API and page), a ticket (API and
   page), the dashboard (API and page), ticket creation, and ``tickets/next/``
   with 8 agents at once; wrk's Lua script reports the median, p95 and p99
   latency, requests/s and the non-2xx answers;
4. counts the SQL queries of one request of each scenario in-process (Django's
   test client on the same database) and reads each process's peak memory
   (VmHWM) at the end;
5. writes the table to ``docs/PERFORMANCE.md`` (``--no-doc`` to skip).

The escalation tick and the monitoring dispatch have their own benchmarks
(``bench.escalation_sweep``, ``bench.polling``); ``make bench`` runs all three.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    configure_django,
    cpu_description,
    database_create,
    doc_section_write,
    git_revision,
    say,
    wait_for,
)
from helpdesk.testing.network import answers, free_port
from helpdesk.testing.processes import Proc, celery_command, process_stop

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_web"
DEFAULT_BROKER = "redis://127.0.0.1:6379/8"
# The server and this process sign sessions with the same key (page scenarios log in here).
SECRET_KEY = "bench-web-not-a-secret-" + "x" * 40
SAMPLE_STEP = timedelta(minutes=5)
SAMPLE_DAYS = 30

# name, method, path (format fields: ticket ids rotate in the Lua script), who, body, target
SCENARIOS: list[dict[str, Any]] = [
    {
        "name": "ticket list (API, 25 rows)",
        "path": "/api/v1/tickets/?page_size=25&status=new,open,pending",
        "who": "l1",
    },
    {"name": "ticket list (page, 25 rows)", "path": "/queue/?tier=1", "who": "l1", "session": True},
    {"name": "ticket detail (API)", "path": "/api/v1/tickets/{id}/", "who": "l2"},
    {"name": "ticket page", "path": "/tickets/{id}/", "who": "l2", "session": True},
    {"name": "dashboard (API)", "path": "/api/v1/dashboard/", "who": "manager"},
    {"name": "dashboard (page)", "path": "/dashboard/", "who": "manager", "session": True},
    {"name": "ticket create (API)", "path": "/api/v1/tickets/", "who": "l1", "method": "POST"},
    {"name": "next ticket (API, 8 agents)", "path": "/api/v1/tickets/next/", "who": "l2*", "method": "POST"},
]
TARGETS = {
    "ticket list (API, 25 rows)": {"p50_1": 15, "rps_8": 150, "queries": 8},
    "ticket list (page, 25 rows)": {"p50_1": 15, "rps_8": 150, "queries": 8},
    "ticket detail (API)": {"p50_1": 15},
    "ticket page": {"p50_1": 15},
    "dashboard (API)": {"p50_1": 35, "queries": 12},
    "dashboard (page)": {"p50_1": 35, "queries": 12},
    "ticket create (API)": {"rps_8": 280},
}

LUA = r"""
local ids = {}
for id in string.gmatch(os.getenv("BENCH_IDS") or "", "%d+") do ids[#ids + 1] = id end
local tokens = {}
for t in string.gmatch(os.getenv("BENCH_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
local path_template = os.getenv("BENCH_PATH")
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local cookie = os.getenv("BENCH_COOKIE")
local counter = 0
local thread_index = 0
local threads = {}

function setup(thread)
  thread:set("index", thread_index)
  thread_index = thread_index + 1
  table.insert(threads, thread)
end

function init(args)
  token = tokens[(index % #tokens) + 1]
  counter = index * 7919
end

function request()
  counter = counter + 1
  local path = path_template
  if #ids > 0 then path = string.gsub(path_template, "{id}", ids[(counter % #ids) + 1]) end
  local headers = {}
  if token and token ~= "" then headers["Authorization"] = "Token " .. token end
  if cookie then headers["Cookie"] = cookie end
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, path, headers, body)
end

non2xx = 0
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + (thread:get("non2xx") or 0) end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %f, '
      .. '"errors": %d, "non2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
      + summary.errors.status, bad))
end
"""


@dataclass
class Measured:
    name: str
    runs: dict[int, dict[str, float]] = field(default_factory=dict)  # connections -> wrk figures
    queries: int | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario and concurrency")
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--only", help="run only scenarios whose name contains this")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args(argv)
    if args.database_url == DEFAULT_URL:
        args.database_url = f"{DEFAULT_URL}_{args.tickets}"
    return args


# --- data -------------------------------------------------------------------------------------


def data_load(args: argparse.Namespace) -> None:
    """Tickets, comments and events through bench.generate; monitors and samples by COPY."""
    from django.core.management import call_command
    from django.db import connection

    fresh = database_create(args.database_url, drop=args.reload)
    call_command("migrate", interactive=False, verbosity=0)
    from bench.generate import Spec, generate

    if fresh:
        started = time.monotonic()
        generate(Spec(tickets=args.tickets, comments_per_ticket=3, events_per_ticket=5), progress=True)
        samples = monitors_load(args.monitors)
        say(f"loaded {args.tickets:,} tickets and {samples:,} samples in {time.monotonic() - started:.0f} s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")


def monitors_load(count: int) -> int:
    """``count`` simulator monitors over the generated applications, with 30 days of samples."""
    import io
    import math
    import random

    from django.db import connection

    from catalog.models import Application
    from monitoring.models import MetricSource, Monitor, Sample

    apps = list(Application.objects.order_by("id"))
    sources = {
        app.pk: MetricSource.objects.create(name=f"bench {app.slug}", kind="simulator", poll_interval_seconds=60)
        for app in apps
    }
    monitors = Monitor.objects.bulk_create(
        Monitor(
            application=apps[i % len(apps)],
            source=sources[apps[i % len(apps)].pk],
            name=f"bench metric {i}",
            query="avg_response_ms",
            unit="ms",
            direction="above",
            baseline_kind="static",
            warning=800.0,
            critical=1500.0,
            enabled=False,  # history only: the web benchmark polls nothing
        )
        for i in range(count)
    )
    rng = random.Random(20260101)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    steps = int(timedelta(days=SAMPLE_DAYS) / SAMPLE_STEP)
    total = 0
    for monitor in monitors:
        buffer = io.StringIO()
        phase = rng.random() * math.tau
        for n in range(steps):
            at = now - SAMPLE_STEP * (steps - n)
            value = 300 + 120 * math.sin(phase + n * math.tau / 288) + rng.gauss(0, 25)
            buffer.write(f"{monitor.pk}\t{at.isoformat()}\t{value:.2f}\tf\n")
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {Sample._meta.db_table} (monitor_id, at, value, in_alert) FROM STDIN", buffer)
        total += steps
    return total


def users_prepare() -> dict[str, Any]:
    """Bench users with tokens (API) and sessions made by session_for (pages): l1, l2 (8 of them for next), manager."""
    from helpdesk.models import User
    from helpdesk.roles import Role
    from helpdesk.tokens import api_token_issue, api_tokens_revoke_all

    made: dict[str, Any] = {}
    for name, role in [("l1", Role.L1), ("manager", Role.MANAGER), *[(f"l2-{i}", Role.L2) for i in range(8)]]:
        user, _ = User.objects.get_or_create(
            username=f"bench-{name}", defaults={"role": role, "email": f"bench-{name}@example.com"}
        )
        # Keys are only shown when issued: a fresh one per run (the last run's go).
        api_tokens_revoke_all(user=user)
        made[name] = (user, api_token_issue(user=user, name="bench").key)
    made["l2"] = made["l2-0"]
    return made


def vacuum() -> None:
    """Earlier runs created and changed tickets: fresh statistics and visibility map,
    as autovacuum keeps them in production."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def ticket_ids(count: int = 2000) -> list[int]:
    from tickets.models import Ticket

    return list(Ticket.objects.order_by("?").values_list("pk", flat=True)[:count])


def queue_borrow(count: int) -> list[int]:
    """Put ``count`` closed tickets into the tier-2 queue for "next ticket" (8 agents
    take hundreds a second; the generated queue is a few hundred). Returns their ids
    for ``queue_return``."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_borrowed")
        cursor.execute(
            "CREATE TABLE bench_borrowed AS SELECT id, status, tier, assignee_id, resolved_at, closed_at, queued_at "
            "FROM tickets_ticket WHERE status = 'closed' ORDER BY id DESC LIMIT %s",
            [count],
        )
        cursor.execute(
            "UPDATE tickets_ticket t SET status = 'new', tier = 2, assignee_id = NULL, resolved_at = NULL, "
            "closed_at = NULL, queued_at = now() FROM bench_borrowed b WHERE t.id = b.id"
        )
        cursor.execute("SELECT id FROM bench_borrowed")
        return [row[0] for row in cursor.fetchall()]


def queue_return() -> None:
    """Put the borrowed tickets back as they were (their claim events stay: the trail is append-only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_borrowed')")
        if cursor.fetchone()[0] is None:
            return
        cursor.execute(
            "UPDATE tickets_ticket t SET status = b.status, tier = b.tier, assignee_id = b.assignee_id, "
            "resolved_at = b.resolved_at, closed_at = b.closed_at, queued_at = b.queued_at "
            "FROM bench_borrowed b WHERE t.id = b.id"
        )
        cursor.execute("DROP TABLE bench_borrowed")


# --- in-process counts ------------------------------------------------------------------------


def query_counts(users: dict[str, Any], ids: list[int]) -> dict[str, int]:
    """SQL queries of one request per scenario (the second one: caches warm)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings, setup_test_environment

    setup_test_environment()
    counts = {}
    # Queries of a request that computes (the dashboard's cache would hide them).
    uncached = override_settings(HELPDESK_DASHBOARD_CACHE_SECONDS=0)
    uncached.enable()
    for scenario in SCENARIOS:
        user = users["l2" if scenario["who"] == "l2*" else scenario["who"]][0]
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        path = scenario["path"].replace("{id}", str(ids[0]))
        method = scenario.get("method", "GET")
        body = json.dumps(create_body()) if method == "POST" else None
        for _ in range(2):
            with CaptureQueriesContext(connection) as captured:
                if method == "POST":
                    client.post(path, body, content_type="application/json")
                else:
                    client.get(path)
        counts[scenario["name"]] = len(captured.captured_queries)
    uncached.disable()
    return counts


def dashboard_compute_ms() -> float:
    """The median time to compute the dashboard's figures in-process (no cache)."""
    from dashboard.selectors import manager_dashboard_for

    runs = []
    for _ in range(7):
        started = time.perf_counter()
        manager_dashboard_for(now=datetime.now(UTC))
        runs.append((time.perf_counter() - started) * 1000)
    return sorted(runs)[len(runs) // 2]


def create_body() -> dict[str, Any]:
    return {
        "title": "Checkout fails with an error",
        "description": "Since this morning the payment step fails.",
        "requester_email": "bench-caller@example.com",
        "urgency": "high",
        "impact": "medium",
    }


# --- processes --------------------------------------------------------------------------------


def server_env(args: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST_", "DJANGO_"))}
    env.update(
        DATABASE_URL=args.database_url,
        CELERY_BROKER_URL=args.broker,
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        HELPDESK_ENV="production",
        SECURE_SSL_REDIRECT="false",  # loopback, no TLS terminator in front
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HELPDESK_VAR_DIR=str(var_dir),
        HELPDESK_AUTH_THROTTLE="100000/min",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        DEBUG="false",
    )
    return env


def wait_http(url: str, procs: list[Proc], seconds: float = 60) -> None:
    wait_for(f"{url} answering", lambda: answers(url), procs, seconds)


def session_for(user) -> str:
    """A logged-in session for the page scenarios, made as Django's login makes it
    (production cookies are Secure, so a login over plain-HTTP loopback would not keep them)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def wrk_run(base: str, scenario: dict[str, Any], connections: int, args, env_extra: dict[str, str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    env = {**os.environ, **env_extra, "BENCH_PATH": scenario["path"], "BENCH_METHOD": scenario.get("method", "GET")}
    if scenario.get("method") == "POST" and "next" not in scenario["path"]:
        env["BENCH_BODY"] = json.dumps(create_body())
    elif scenario.get("method") == "POST":
        env["BENCH_BODY"] = "{}"
    command = [
        "wrk",
        f"-t{min(connections, 8)}",
        f"-c{connections}",
        f"-d{args.duration}s",
        "--timeout",
        "10s",
        "-s",
        script.name,
        base,
    ]

    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.duration + 60)
    os.unlink(script.name)
    line = next((row for row in out.stdout.splitlines() if row.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no summary:\n{out.stdout}\n{out.stderr}")
    figures = json.loads(line[len("BENCH ") :])
    seconds = figures["duration_us"] / 1e6
    return {
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "rps": figures["requests"] / seconds if seconds else 0.0,
        "requests": figures["requests"],
        "errors": figures["errors"],
        "non2xx": figures["non2xx"],
    }


def peak_memory_mib(pid: int) -> dict[int, float]:
    """VmHWM of the process and its children, in MiB."""
    found = {}
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    found[p] = int(line.split()[1]) / 1024
    return found


# --- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk (apt-get install wrk)")
    os.environ["SECRET_KEY"] = SECRET_KEY
    configure_django(database_url=args.database_url, broker=args.broker)
    data_load(args)
    users = users_prepare()
    ids = ticket_ids()
    counts = query_counts(users, ids)
    vacuum()
    compute_ms = dashboard_compute_ms()
    scenarios = [s for s in SCENARIOS if not args.only or args.only in s["name"]]
    levels = [int(c) for c in args.connections.split(",")]
    var_dir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    env = server_env(args, var_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Production serves static files from the collected, hashed copies (whitenoise).
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    procs = [
        Proc.start(
            "gunicorn",
            [gunicorn, "helpdesk.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--access-logfile", "-"],
            env,
            var_dir / "gunicorn.log",
        ),
        Proc.start(
            "worker",
            celery_command("worker", "-c", "1", "-l", "WARNING"),
            env,
            var_dir / "worker.log",
        ),
    ]
    results: dict[str, Measured] = {}
    memory: dict[str, float] = {}
    try:
        wait_http(f"{base}/healthz", procs)
        sessions = {who: session_for(users[who][0]) for who in ("l1", "l2", "manager")}
        for scenario in scenarios:
            measured = results.setdefault(
                scenario["name"], Measured(scenario["name"], queries=counts.get(scenario["name"]))
            )
            for connections_count in levels:
                who = scenario["who"]
                tokens = [users[f"l2-{i}"][1] for i in range(8)] if who == "l2*" else [users[who][1]]
                extra = {"BENCH_IDS": ",".join(map(str, ids)), "BENCH_TOKENS": ",".join(tokens)}
                if scenario.get("session"):
                    extra.update(BENCH_COOKIE=sessions[who], BENCH_TOKENS="")
                say(f"{scenario['name']} at {connections_count} connection(s)")
                borrowing = "next" in scenario["path"]
                if borrowing:
                    queue_borrow(20_000)
                try:
                    measured.runs[connections_count] = wrk_run(base, scenario, connections_count, args, extra)
                finally:
                    if borrowing:
                        queue_return()
        for proc in procs:
            for pid, mib in peak_memory_mib(proc.process.pid).items():
                memory[f"{proc.name} {pid}"] = mib
    finally:
        for proc in procs:
            process_stop(proc.process)
    report = render(args, results, memory, compute_ms)
    print(report)
    if not args.no_doc:
        doc_section_write(report, start=section(args)[0], end=section(args)[1])
    return 0


def section(args) -> tuple[str, str]:
    """One section per size, so the 100k and 1M tables stand side by side."""
    return f"<!-- bench:web-{args.tickets}:start -->", f"<!-- bench:web-{args.tickets}:end -->"


def render(args, results: dict[str, Measured], memory: dict[str, float], compute_ms: float) -> str:
    import django
    from django.conf import settings

    levels = [int(c) for c in args.connections.split(",")]
    lines = [
        section(args)[0],
        f"## Web and API under load at {args.tickets:,} tickets",
        "",
        f"`make bench-web` ({args.tickets:,} tickets, 3 comments and 5 events each, {args.monitors} monitors with "
        f"{SAMPLE_DAYS} days of samples): gunicorn with {args.workers} workers and a Celery worker, production "
        f"settings, PostgreSQL and Redis on this machine; wrk on loopback, {args.duration} s per scenario and "
        "concurrency.",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at revision {git_revision()}; "
        f"cpus {cpu_description()}; Python {platform.python_version()}, Django {django.get_version()}.",
        "",
        "| scenario | SQL queries | "
        + " | ".join(f"p50 ms ({c}) | p95 ms ({c}) | req/s ({c})" for c in levels)
        + " | non-2xx | target |",
        "| --- | ---: | " + " | ".join("---: | ---: | ---:" for _ in levels) + " | ---: | --- |",
    ]
    for name, m in results.items():
        cells = []
        for c in levels:
            run = m.runs.get(c, {})
            cells.append(
                f"{run.get('p50_ms', 0):.1f} | {run.get('p95_ms', 0):.1f} | {run.get('rps', 0):.0f}"
                if run
                else "– | – | –"
            )
        bad = sum(int(r.get("non2xx", 0)) + int(r.get("errors", 0)) for r in m.runs.values())
        lines.append(
            f"| {name} | {m.queries if m.queries is not None else '–'} | "
            + " | ".join(cells)
            + f" | {bad} | {target_text(name, m)} |"
        )
    lines += [
        "",
        "Peak memory (VmHWM): " + ", ".join(f"{k} {v:.0f} MiB" for k, v in sorted(memory.items())) + ".",
        "",
        f"The dashboard's figures are computed at most every {settings.HELPDESK_DASHBOARD_CACHE_SECONDS} s "
        f"(`HELPDESK_DASHBOARD_CACHE_SECONDS`) and shared by every request meanwhile; computing them takes "
        f"{compute_ms:.0f} ms at this size (median of 7, in-process). The SQL column counts the queries of a "
        "request that computes.",
        "",
    ]
    lines += [
        'Rerun: `make bench-web` (`BENCH_ARGS="--tickets 1000000"` for the large size, `--only next` for one scenario).',
        section(args)[1],
    ]
    return "\n".join(lines)


def target_text(name: str, m: Measured) -> str:
    if any(r.get("non2xx") or r.get("errors") for r in m.runs.values()):
        return "**not valid: failed requests**"
    goals = TARGETS.get(name)
    if not goals:
        return ""
    verdicts = []
    if "p50_1" in goals and 1 in m.runs:
        ok = m.runs[1]["p50_ms"] <= goals["p50_1"]
        verdicts.append(f"p50 ≤ {goals['p50_1']} ms {'met' if ok else 'missed'}")
    if "rps_8" in goals and 8 in m.runs:
        ok = m.runs[8]["rps"] >= goals["rps_8"]
        verdicts.append(f"≥ {goals['rps_8']} req/s at 8 {'met' if ok else 'missed'}")
    if "queries" in goals and m.queries is not None:
        ok = m.queries <= goals["queries"]
        verdicts.append(f"≤ {goals['queries']} queries {'met' if ok else 'missed'}")
    return "; ".join(verdicts)


if __name__ == "__main__":
    sys.exit(main())
