"""The audit trail is append-only at the database, whoever connects: the table's
owner (the application's role) and a second role granted every right on it
both fail to UPDATE, DELETE or TRUNCATE events (PostgreSQL triggers, tickets
migrations 0002 and 0011)."""

from __future__ import annotations

import secrets

import psycopg2
import pytest
from django.db import DatabaseError, connection, transaction

from tickets.models import TicketEvent
from tickets.tests.services_helpers import create

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only"),
    pytest.mark.django_db(transaction=True),
]

REFUSED = [
    "UPDATE tickets_ticketevent SET kind = 'forged'",
    "UPDATE tickets_ticketevent SET data = '{}'::jsonb",
    "DELETE FROM tickets_ticketevent",
    "TRUNCATE tickets_ticketevent",
    "TRUNCATE tickets_ticketevent CASCADE",
]


@pytest.fixture
def events(l1, customer):
    create(l1, customer)
    create(l1, customer, title="Second")
    return list(TicketEvent.objects.order_by("pk").values_list("pk", "kind", "data"))


def _stored():
    return list(TicketEvent.objects.order_by("pk").values_list("pk", "kind", "data"))


def test_the_owner_cannot_change_events(events):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_userbyid(relowner) = current_user FROM pg_class WHERE relname = 'tickets_ticketevent'"
        )
        assert cursor.fetchone()[0], "the test connects as the table's owner"
    for sql in REFUSED:
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                # The owner's deliberate way out is off here (the suite turns it on for its flush).
                cursor.execute("SET LOCAL helpdesk.allow_audit_truncate = 'off'")
                cursor.execute(sql)
    assert _stored() == events


@pytest.fixture
def second_role():
    """A throwaway login role with every right on the events table."""
    name = f"audit_probe_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", [password])
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON tickets_ticketevent TO {name}")
    try:
        yield name, password
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {name}")
            cursor.execute(f"DROP ROLE {name}")


def test_a_second_role_with_all_rights_cannot_change_events(events, second_role):
    name, password = second_role
    params = connection.get_connection_params()
    probe = psycopg2.connect(
        dbname=params["dbname"], host=params.get("host"), port=params.get("port"), user=name, password=password
    )
    try:
        with probe.cursor() as cursor:
            cursor.execute("SELECT current_user, count(*) FROM tickets_ticketevent")
            assert cursor.fetchone() == (name, len(events))
        probe.rollback()
        for sql in [*REFUSED, "SET helpdesk.allow_audit_truncate = 'on'; TRUNCATE tickets_ticketevent"]:
            with probe.cursor() as cursor, pytest.raises(psycopg2.Error, match="append-only"):
                cursor.execute(sql)
            probe.rollback()
    finally:
        probe.close()
    assert _stored() == events


def test_the_owner_may_truncate_only_when_it_asks_to(events):
    # The way out used by the test suite's flush; the owner could disable the trigger anyway.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL helpdesk.allow_audit_truncate = 'on'")
        cursor.execute("TRUNCATE tickets_ticketevent CASCADE")
        cursor.execute("SELECT count(*) FROM tickets_ticketevent")
        assert cursor.fetchone()[0] == 0
        transaction.set_rollback(True)
    assert _stored() == events
