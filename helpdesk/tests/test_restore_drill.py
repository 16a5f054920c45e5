"""Backup and restore drill (docs/OPERATIONS.md): a real `pg_dump -Fc` of a database
with tickets, comments and events, a real `pg_restore` into a new database, and the
same counts and checksums on both sides. Also: the restored audit trail is still
append-only (its trigger came back with the data)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Each table's content in one value: rows in id order, as text, hashed.
TABLES = ("tickets_ticket", "tickets_comment", "tickets_ticketevent")


def _fingerprint(conn) -> dict[str, tuple[int, str]]:
    result = {}
    with conn.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t")
            result[table] = cursor.fetchone()
    return result


def _pg_env(settings_dict: dict) -> tuple[list[str], dict[str, str]]:
    args = ["-h", settings_dict["HOST"] or "127.0.0.1", "-p", str(settings_dict["PORT"] or 5432)]
    args += ["-U", settings_dict["USER"] or "postgres"]
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    return args, env


@pytest.fixture
def restored_db() -> Iterator[str]:
    """The name of a scratch database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restore_drill"[:63]
    args, env = _pg_env(connection.settings_dict)
    subprocess.run(["dropdb", *args, "--if-exists", name], check=True, env=env)
    yield name
    subprocess.run(["dropdb", *args, "--if-exists", name], check=True, env=env)


def _some_history() -> None:
    customer, l1, l2 = UserFactory(role=Role.CUSTOMER), UserFactory(role=Role.L1), UserFactory(role=Role.L2)
    for n in range(20):
        ticket = services.ticket_create(actor=l1, title=f"Ticket {n} ünïcode 'quoted'", requester=customer)
        services.comment_create(ticket=ticket, actor=customer, body=f"public {n}\nwith a newline")
        services.comment_create(ticket=ticket, actor=l1, body=f"internal {n}", internal=True)
        services.ticket_claim(ticket=ticket, actor=l1)
        if n % 2:
            services.ticket_escalate(
                ticket=ticket, actor=l1, to_tier=2, reason="needs L2", summary="s", steps_tried="t"
            )
            services.ticket_claim(ticket=ticket, actor=l2)
        if n % 3 == 0:
            services.ticket_transition(
                ticket=ticket.pk, actor=l1 if n % 2 == 0 else l2, status="resolved", resolution="Fixed."
            )


def test_pg_dump_and_pg_restore_round_trip(restored_db: str, tmp_path: Path):
    if connection.vendor != "postgresql":
        pytest.skip("the drill is for PostgreSQL (set DATABASE_URL)")
    for tool in ("pg_dump", "pg_restore", "createdb"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed")
    _some_history()
    source = connection.settings_dict
    args, env = _pg_env(source)
    dump = tmp_path / "helpdesk.dump"

    subprocess.run(["pg_dump", *args, "-Fc", "-f", str(dump), source["NAME"]], check=True, env=env)
    subprocess.run(["createdb", *args, restored_db], check=True, env=env)
    subprocess.run(
        ["pg_restore", *args, "--no-owner", "--exit-on-error", "-d", restored_db, str(dump)], check=True, env=env
    )

    before = _fingerprint(connection.connection)
    restored = psycopg2.connect(
        dbname=restored_db, host=args[1], port=args[3], user=args[5], password=source.get("PASSWORD") or None
    )
    try:
        after = _fingerprint(restored)
        assert before["tickets_ticket"][0] == 20 and before["tickets_comment"][0] == 40
        assert before["tickets_ticketevent"][0] > 60
        assert after == before
        # The restored audit trail still refuses changes.
        with restored.cursor() as cursor, pytest.raises(psycopg2.Error):
            cursor.execute("UPDATE tickets_ticketevent SET kind = kind")
        restored.rollback()
    finally:
        restored.close()
