"""Escalation-sweep benchmark: how long one ``escalation_tick()`` takes on a big data set.

    python -m bench.escalation_sweep --tickets 1000000 --open 50000 --due 10000

Against a dedicated database (``helpdesk_bench`` on the PostgreSQL of
``BENCH_DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/helpdesk_bench``)
that it creates and migrates, it

1. loads the data once with ``bench.generate`` (reused while the parameters are
   the same; ``--reload`` forces a fresh load), adds the bench rule (resolution
   overdue in tier 1 -> escalate to tier 2, an internal note, notify
   ``role:manager``) next to the default rules, snapshots the active tickets
   and runs ``VACUUM (ANALYZE)``;
2. times ``escalation_tick(now=<generation instant>)`` several times: run 1 is
   cold (first tick of the process, on a new database connection), the others
   warm. Before every run the database is put back exactly as loaded: fired
   tickets restored from the snapshot, rows the tick inserted deleted, then
   ``VACUUM (ANALYZE)``, so each run processes the same due tickets;
3. reports wall time, SQL statements and SQL time, breaches, firings, tickets
   fired and ms per fired ticket, a per-phase breakdown, and ``EXPLAIN
   (ANALYZE, BUFFERS)`` of the candidate queries the tick really ran;
4. writes the figures to ``docs/PERFORMANCE.md`` (``--no-doc`` to skip).

The tick runs with ``now`` pinned to the generation instant, so reused data
gives the same work however long ago it was loaded. Notifications are handed to
Celery on commit as in production; the broker is Kombu's in-memory transport
unless ``--broker`` names another (no worker consumes them).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    sql_execute,
    sql_scalar,
)
from helpdesk.testing.processes import proc_stat

ROOT = Path(__file__).resolve().parent.parent
DOC = PERFORMANCE_DOC
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"
TARGET_SECONDS = 2.0
META_KEY = "escalation_sweep"
SNAPSHOT = "bench_ticket_snapshot"
SECTION_START = "<!-- bench:escalation-sweep:start -->"
SECTION_END = "<!-- bench:escalation-sweep:end -->"

# The rule that makes the due tickets fire. Ordered after the default rules, so a
# ticket it escalates to tier 2 is not picked up again by the default
# "resolution overdue in L2" rule within the same tick.
BENCH_RULE = {
    "name": "bench: resolution overdue in L1: escalate to L2 and tell managers",
    "order": 50,
    "tiers": [1],
    "trigger": "resolution_overdue",
    "threshold": 0,
    "escalate_to_tier": 2,
    "notify": ["role:manager"],
    "note": "Escalated automatically: the resolution time is over (bench rule).",
}

# Tables the tick inserts into; rows above the loaded maximum id are deleted on reset.
INSERTED_TABLES = ("escalation_notification", "escalation_rulefiring", "tickets_ticketevent", "tickets_comment")


def bench_rule_create():
    """The bench rule (idempotent)."""
    from escalation.models import EscalationRule

    rule, _ = EscalationRule.objects.update_or_create(name=BENCH_RULE["name"], defaults=BENCH_RULE)
    return rule


# --- environment and database ------------------------------------------------------------------


def _configure(args: argparse.Namespace) -> None:
    configure_django(database_url=args.database_url, broker=args.broker)


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def meta_read() -> dict | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, value jsonb NOT NULL)")
        cursor.execute("SELECT value FROM bench_meta WHERE name = %s", [META_KEY])
        row = cursor.fetchone()
    if not row:
        return None
    return row[0] if isinstance(row[0], dict) else json.loads(row[0])


def meta_write(value: dict) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            [META_KEY, json.dumps(value)],
        )


def vacuum() -> None:
    sql_execute(f"VACUUM (ANALYZE) tickets_ticket, {', '.join(INSERTED_TABLES)}")


def load(spec, meta_params: dict) -> dict:
    """Generate the data, add the bench rule, snapshot, record the meta row."""
    from django.db import transaction

    from bench.generate import generate
    from tickets.services.tickets import system_user

    with transaction.atomic():
        result = generate(spec)
        system_user()  # the author of rule notes; exists in any running installation
        bench_rule_create()
    say("snapshot of the active tickets, VACUUM (ANALYZE)")
    sql_execute(
        f"DROP TABLE IF EXISTS {SNAPSHOT}",
        f"CREATE TABLE {SNAPSHOT} AS SELECT * FROM tickets_ticket WHERE status IN ('new', 'open', 'pending')",
        f"ALTER TABLE {SNAPSHOT} ADD PRIMARY KEY (id)",
    )
    marks = {table: sql_scalar(f"SELECT coalesce(max(id), 0) FROM {table}") for table in INSERTED_TABLES}
    meta = {
        "params": meta_params,
        "now": result.now.isoformat(),
        "marks": marks,
        "due_ids": result.due_ids,
        "load_seconds": round(result.seconds, 1),
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    vacuum()
    meta_write(meta)
    return meta


def reset(meta: dict) -> None:
    """Put the database back as loaded: delete what ticks inserted (the audit
    trail's append-only trigger is bypassed with session_replication_role, in
    this bench database only), restore changed tickets from the snapshot."""
    from django.db import connection, transaction

    from tickets.models import Ticket

    columns = [f.column for f in Ticket._meta.concrete_fields if f.column != "id"]
    assignments = ", ".join(f'"{c}" = s."{c}"' for c in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table in INSERTED_TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE id > %s", [meta["marks"][table]])
        cursor.execute(
            f"UPDATE tickets_ticket t SET {assignments} FROM {SNAPSHOT} s "
            "WHERE t.id = s.id AND (t.version, t.episode, t.tier) IS DISTINCT FROM (s.version, s.episode, s.tier)"
        )
    vacuum()


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    queries: int = 0
    sql_seconds: float = 0.0
    result: Any = None


@dataclass
class Run:
    label: str
    seconds: float = 0.0
    queries: int = 0
    sql_seconds: float = 0.0
    commits: int = 0
    commit_seconds: float = 0.0
    python_cpu: float = 0.0
    server_cpu: float | None = None
    load: float = 0.0  # 1-minute load average before the run: other work on the machine
    breaches: int = 0
    firings: int = 0
    tickets_fired: int = 0
    notifications: int = 0
    wal_bytes: int = 0
    phases: list[Phase] = field(default_factory=list)
    statements: list[tuple[str, str, Any]] = field(default_factory=list)  # (phase, sql, params)
    kinds: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ms_per_ticket(self) -> float:
        return 1000 * self.seconds / self.tickets_fired if self.tickets_fired else float("nan")


class Recorder:
    """Counts statements and their time (connection.execute_wrapper), per phase."""

    def __init__(self, capture: bool):
        self.capture = capture
        self.queries = 0
        self.sql_seconds = 0.0
        self.phase: Phase | None = None
        self.statements: list[tuple[str, str, Any]] = []
        self.kinds: dict[str, list[float]] = {}  # "UPDATE tickets_ticket" -> [count, seconds]

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - start
            self.queries += 1
            self.sql_seconds += spent
            kind = self.kinds.setdefault(_statement_kind(sql), [0, 0.0])
            kind[0] += 1
            kind[1] += spent
            if self.phase is not None:
                self.phase.queries += 1
                self.phase.sql_seconds += spent
            if self.capture and not many and sql.lstrip().upper().startswith("SELECT") and '"tickets_ticket"' in sql:
                self.statements.append((self.phase.name if self.phase else "", sql, params))


def _statement_kind(sql: str) -> str:
    """``SELECT tickets_ticket``, ``INSERT escalation_notification``, ``UPDATE tickets_ticket``..."""
    verb = sql.lstrip().split(None, 1)[0].upper()
    pattern = {
        "SELECT": r'FROM "?(\w+)',
        "INSERT": r'INTO "?(\w+)',
        "UPDATE": r'UPDATE "?(\w+)',
        "DELETE": r'FROM "?(\w+)',
    }
    match = re.search(pattern.get(verb, r"$^"), sql)
    return f"{verb} {match.group(1)}" if match else verb


@contextlib.contextmanager
def phases_instrumented(recorder: Recorder, phases: list[Phase]):
    """Time the breach sweep and each rule_apply inside escalation_tick."""
    from escalation import engine
    from tickets.services import sla

    original_sweep, original_apply = sla.sla_breaches_record, engine.rule_apply

    def timed(name: str, fn, *args, **kwargs):
        phase = Phase(name)
        phases.append(phase)
        recorder.phase = phase
        start = time.perf_counter()
        try:
            phase.result = fn(*args, **kwargs)
            return phase.result
        finally:
            phase.seconds = time.perf_counter() - start
            recorder.phase = None

    sla.sla_breaches_record = lambda **kw: timed("SLA breaches", original_sweep, **kw)
    engine.rule_apply = lambda rule, **kw: timed(f"rule {rule.order}: {rule.name}", original_apply, rule, **kw)
    try:
        yield
    finally:
        sla.sla_breaches_record, engine.rule_apply = original_sweep, original_apply


def _process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a local process, e.g. our PostgreSQL backend;
    None when the server is not on this machine. Unlike wall time, not inflated by
    other work on a shared machine."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def commits_timed(run: Run):
    """Count COMMITs and their time (the WAL flush), which the execute wrapper does not see."""
    from django.db import connection

    original = connection._commit

    def timed_commit():
        start = time.perf_counter()
        try:
            return original()
        finally:
            run.commits += 1
            run.commit_seconds += time.perf_counter() - start

    connection._commit = timed_commit
    try:
        yield
    finally:
        del connection._commit


def tick_run(
    label: str, now: datetime, meta: dict, *, capture: bool = False, profile: cProfile.Profile | None = None
) -> Run:
    from django.db import connection

    from escalation.engine import escalation_tick

    run = Run(label, load=os.getloadavg()[0])
    recorder = Recorder(capture)
    wal_before = sql_scalar("SELECT pg_current_wal_insert_lsn()::text")
    backend = sql_scalar("SELECT pg_backend_pid()")
    server_before, python_before = _process_cpu(backend), time.process_time()
    with connection.execute_wrapper(recorder), phases_instrumented(recorder, run.phases), commits_timed(run):
        if profile:
            profile.enable()
        start = time.perf_counter()
        report = escalation_tick(now=now)
        run.seconds = time.perf_counter() - start
        if profile:
            profile.disable()
    run.python_cpu = time.process_time() - python_before
    server_after = _process_cpu(backend)
    if server_before is not None and server_after is not None:
        run.server_cpu = server_after - server_before
    run.queries, run.sql_seconds, run.statements = recorder.queries, recorder.sql_seconds, recorder.statements
    run.kinds = recorder.kinds
    run.breaches, run.firings = report.breaches, report.total_fired
    run.wal_bytes = int(sql_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", [wal_before]))
    marks = meta["marks"]
    run.tickets_fired = sql_scalar(
        "SELECT count(DISTINCT ticket_id) FROM tickets_ticketevent WHERE id > %s AND kind = 'rule_fired'",
        [marks["tickets_ticketevent"]],
    )
    run.notifications = sql_scalar(
        "SELECT count(*) FROM escalation_notification WHERE id > %s", [marks["escalation_notification"]]
    )
    return run


def explain(statements: list[tuple[str, str, Any]]) -> list[tuple[str, str, str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of the first candidate query of each phase, on the
    freshly reset data, in a transaction that is rolled back."""
    from django.db import connection, transaction

    seen, plans = set(), []
    for phase, sql, params in statements:
        if (phase, sql) in seen:
            continue
        seen.add((phase, sql))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
        with connection.cursor() as cursor:
            shown = cursor.mogrify(sql, params).decode() if hasattr(cursor, "mogrify") else sql
        plans.append((phase, _short_select(shown), plan))
    return plans


def _short_select(sql: str) -> str:
    """``SELECT <31 columns of tickets_ticket> FROM ...`` instead of the column list."""
    match = re.match(r"SELECT (.*?) FROM ", sql)
    if match and len(match.group(1)) > 160:
        count = match.group(1).count('"tickets_ticket".')
        return f"SELECT <{count} columns of tickets_ticket> FROM " + sql[match.end() :]
    return sql


# --- reporting ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import django
    import psycopg2

    mem = ""
    with contextlib.suppress(OSError, StopIteration):
        kb = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return {
        "cpus": cpu_description(),
        "memory": mem,
        "postgresql": sql_scalar("SHOW server_version"),
        "postgresql settings": ", ".join(
            f"{name}={sql_scalar(f'SHOW {name}')}"
            for name in ("shared_buffers", "work_mem", "effective_cache_size", "jit")
        ),
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg2": psycopg2.__version__.split()[0],
        "os": platform.platform(),
    }


def _cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _fmt_run(run: Run) -> str:
    return (
        f"| {run.label} | {run.load:.2f} | {run.seconds:.3f} | {run.python_cpu:.2f} | {_cpu(run.server_cpu)} | {run.queries} | "
        f"{run.sql_seconds:.3f} | {run.commits} | {run.commit_seconds:.3f} | {run.breaches:,} | "
        f"{run.firings:,} | {run.tickets_fired:,} | {run.notifications:,} | {run.wal_bytes / 2**20:.0f} | "
        f"{run.ms_per_ticket:.3f} |"
    )


def render(args, meta: dict, info: dict, runs: list[Run], plans, command: str) -> str:
    warm = [r for r in runs if r.label != "cold"]
    median_run = sorted(warm or runs, key=lambda r: r.seconds)[len(warm or runs) // 2]
    cold = next((r for r in runs if r.label == "cold"), None)
    verdict = "meets" if max(r.seconds for r in runs) <= TARGET_SECONDS else "misses"
    p = meta["params"]
    lines = [
        SECTION_START,
        "## Escalation sweep",
        "",
        f"One `escalation_tick()` over {p['tickets']:,} tickets, {p['open']:,} of them active and {p['due']:,} due. "
        f"Target: <= {TARGET_SECONDS:g} s per tick on a 2-core machine (a per-ticket sweep at 5.8 ms per ticket, as in "
        f"a well-known Django helpdesk, would take {p['due'] * 5.8 / 1000:.0f} s for the due tickets alone).",
        "",
        f"**Result: cold {cold.seconds:.2f} s, warm median {median_run.seconds:.2f} s "
        f"({median_run.ms_per_ticket:.3f} ms per fired ticket, {median_run.queries} SQL statements): {verdict} the target.**"
        if cold
        else f"**Result: median {median_run.seconds:.2f} s: {verdict} the target.**",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at revision {git_revision()}.",
        "",
        "### Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        f"- broker for the notification hand-off: `{args.broker}`",
        "",
        "### Parameters",
        "",
        f"- tickets: {p['tickets']:,}; active (new/open/pending): {p['open']:,}; due: {p['due']:,}",
        f"- users: {p['customers']:,} customers, {p['agents']} agents (l1/l2/l3/manager); "
        f"comments per ticket: {p['comments_per_ticket']}; events per ticket: {p['events_per_ticket']}; seed {p['seed']}",
        f"- data loaded with `bench.generate` (COPY) in {meta['load_seconds']} s; tick `now` = {meta['now']}",
        "- rules: the four default rules plus the bench rule (resolution overdue in tier 1 -> escalate to tier 2, "
        "internal note, notify `role:manager`, order 50)",
        "- every run starts from the same state (fired tickets restored from a snapshot, inserted rows deleted, "
        "`VACUUM (ANALYZE)`); run 1 is the first tick of the process on a new connection (cold), the rest are warm. "
        "The OS page cache is not dropped (the PostgreSQL server is shared).",
        "",
        "### Figures",
        "",
        "| run | load | wall (s) | CPU Python (s) | CPU PostgreSQL (s) | SQL statements | SQL time (s) | commits "
        "| commit time (s) | breaches | firings | tickets fired | notifications | WAL (MiB) | ms / fired ticket |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[_fmt_run(r) for r in runs],
        "",
        "*load*: the 1-minute load average before the run (other work on this shared machine slows the run); "
        "*CPU Python* / *CPU PostgreSQL*: CPU seconds of the process running the tick and of its database backend, "
        "which other work inflates less than wall time; *SQL time*: time in `cursor.execute`, client side; "
        "*commit time*: the COMMITs, where PostgreSQL runs the deferred foreign-key checks and flushes the WAL.",
        "",
        f"Where the time goes (run `{median_run.label}`):",
        "",
        "| phase | wall (s) | SQL statements | SQL time (s) | result |",
        "| --- | ---: | ---: | ---: | ---: |",
        *[
            f"| {ph.name} | {ph.seconds:.3f} | {ph.queries} | {ph.sql_seconds:.3f} | {ph.result} |"
            for ph in median_run.phases
        ],
        "",
        "SQL by statement kind (same run):",
        "",
        "| statement | count | SQL time (s) |",
        "| --- | ---: | ---: |",
        *[
            f"| `{kind}` | {count} | {seconds:.3f} |"
            for kind, (count, seconds) in sorted(median_run.kinds.items(), key=lambda item: -item[1][1])
        ],
        "",
        "### Candidate queries",
        "",
        "`EXPLAIN (ANALYZE, BUFFERS)` of the first candidate query of each phase, as the tick ran it, on the reset data:",
        "",
    ]
    for phase, sql, plan in plans:
        lines += [
            "<details>",
            f"<summary>{phase}</summary>",
            "",
            "```sql",
            sql,
            "```",
            "",
            "```",
            plan,
            "```",
            "",
            "</details>",
            "",
        ]
    lines += [
        "### Rerun",
        "",
        "```sh",
        "make bench-escalation            # = " + command,
        "```",
        "",
        "The data is loaded once into `helpdesk_bench` and reused while the parameters stay the same "
        "(`--reload` loads afresh); `BENCH_DATABASE_URL` or `--database-url` selects another database, "
        "`--runs` the number of timed ticks, `--profile` prints a cProfile of one extra warm tick "
        '(with make: `BENCH_ARGS="--reload --runs 3"`). The command exits 1 when a tick is over the target.',
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def doc_update(section: str) -> None:
    doc_section_write(section, start=SECTION_START, end=SECTION_END)


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.escalation_sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=50_000, help="active tickets (new/open/pending)")
    parser.add_argument(
        "--due", type=int, default=10_000, help="active tickets whose resolution is overdue, not yet breached"
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--events-per-ticket", type=int, default=0)
    parser.add_argument("--comments-per-ticket", type=int, default=0)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--runs", type=int, default=5, help="timed ticks (the first is cold)")
    parser.add_argument("--reload", action="store_true", help="drop and load the data again")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER_URL", "memory://localhost/"))
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/PERFORMANCE.md")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra warm tick")
    args = parser.parse_args(argv)
    if not re.search(r"bench", args.database_url.rsplit("/", 1)[-1]):
        parser.error("the database name must contain 'bench': it is dropped and rewritten")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _configure(args)
    from bench.generate import Spec

    spec = Spec(
        tickets=args.tickets,
        open=args.open,
        due=args.due,
        customers=args.customers,
        agents=args.agents,
        comments_per_ticket=args.comments_per_ticket,
        events_per_ticket=args.events_per_ticket,
        seed=args.seed,
    )
    spec.validate()
    params = spec.params()

    database_create(args.database_url, drop=args.reload)
    try:
        migrate()
    except Exception as exc:  # the loaded schema no longer fits the migrations on disk
        say(f"migrate failed ({exc.__class__.__name__}: {str(exc).splitlines()[0]}): loading afresh")
        database_create(args.database_url, drop=True)
        migrate()
    meta = meta_read()
    if meta is None or meta.get("params") != params:
        if meta is not None or sql_scalar("SELECT count(*) FROM tickets_ticket"):
            say("the database holds other data: loading afresh")
            database_create(args.database_url, drop=True)
            migrate()
            meta_read()
        say(f"loading {spec.tickets:,} tickets")
        meta = load(spec, params)
    else:
        say(f"reusing the data loaded at {meta['loaded_at']} (--reload to load again)")
        bench_rule_create()
    now = datetime.fromisoformat(meta["now"])
    info = machine()

    from django.db import connection

    runs: list[Run] = []
    for i in range(args.runs):
        reset(meta)
        label = "cold" if i == 0 else f"warm {i}"
        if i == 0:
            connection.close()  # a new server backend: empty catalogue and plan caches
        run = tick_run(label, now, meta, capture=(i == args.runs - 1))
        runs.append(run)
        say(
            f"{label}: {run.seconds:.3f} s, {run.queries} statements ({run.sql_seconds:.3f} s SQL), "
            f"{run.commits} commits ({run.commit_seconds:.3f} s), CPU: Python {run.python_cpu:.2f} s, "
            f"PostgreSQL {_cpu(run.server_cpu)} s, "
            f"{run.breaches:,} breaches, {run.firings:,} firings on {run.tickets_fired:,} tickets, "
            f"{run.ms_per_ticket:.3f} ms per fired ticket, {run.wal_bytes / 2**20:.0f} MiB WAL"
        )
    reset(meta)
    plans = explain(runs[-1].statements)
    reset(meta)

    if args.profile:
        profile = cProfile.Profile()
        tick_run("profiled", now, meta, profile=profile)
        reset(meta)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())

    command = "python -m bench.escalation_sweep " + " ".join(
        f"--{k} {v}" for k, v in (("tickets", args.tickets), ("open", args.open), ("due", args.due))
    )
    section = render(args, meta, info, runs, plans, command)
    print(section)
    if not args.no_doc:
        doc_update(section)
        say(f"wrote {DOC.relative_to(ROOT)}")
    worst = max(r.seconds for r in runs)
    return 0 if worst <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
