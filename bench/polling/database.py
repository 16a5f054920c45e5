"""The bench database: created and migrated, emptied, the monitors made and put on
their slots, and the two row triggers that log when each slot was claimed and stored."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.common import database_create, sql_execute, sql_rows

APP_SLUG = "bench-polling"
# Far above the value the source answers: no alert, no incident.
WARNING, CRITICAL = 10_000.0, 20_000.0
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


def database_prepare(url: str, *, drop: bool) -> None:
    from django.core.management import call_command

    database_create(url, drop=drop)
    call_command("migrate", interactive=False, verbosity=0)


def data_reset() -> None:
    """Empty what a previous run left: monitoring rows and the bench's own logs."""
    sql_execute(
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
    sql_execute(
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
    from catalog.models import Application
    from monitoring.models import Monitor
    from monitoring.services import config

    app = Application.objects.create(name="Bench polling", slug=APP_SLUG, criticality="low", owner_tier=1)
    source, _ = config.source_create(
        name="Bench JSON source",
        kind="json",
        base_url=url,
        options={},
        poll_interval_seconds=interval,
        timeout_seconds=5,
    )
    for i in range(count):
        config.monitor_create(
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
    sql_execute(
        "UPDATE monitoring_monitor AS m SET next_poll_at = s.slot "
        "FROM UNNEST(%s::bigint[], %s::timestamptz[]) AS s(id, slot) WHERE m.id = s.id",
        params=[list(slots), list(slots.values())],
    )
    return slots


DB_STATS = ("sessions", "xact_commit", "active_time")


def db_stats(db_name: str) -> dict[str, float]:
    row = sql_rows(f"SELECT {', '.join(DB_STATS)} FROM pg_stat_database WHERE datname = %s", [db_name])[0]
    return {name: float(value or 0) for name, value in zip(DB_STATS, row, strict=True)}
