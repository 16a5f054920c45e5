"""Two escalation ticks at once on PostgreSQL (docs/PRODUCT.md "Escalation rules": a rule fires at most once per
ticket per episode, whatever runs concurrently). Each thread has its own connection,
so row locks (SKIP LOCKED) and the unique constraint on RuleFiring are exercised for real.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from escalation import engine
from escalation.models import EscalationRule, RuleFiring, Trigger
from escalation.tests.due import first_response_overdue
from escalation.tests.factories import EscalationRuleFactory
from helpdesk.roles import Role
from helpdesk.testing.threads import run_in_threads
from helpdesk.tests.factories import UserFactory
from notifications.models import Notification
from tickets.events import EventKind
from tickets.models import Comment, Ticket, TicketEvent
from tickets.services import sla

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=f"needs PostgreSQL row locks across connections; the test database is {connection.vendor}",
    ),
    pytest.mark.django_db(transaction=True),
]

THREADS = 2
TICKETS = 200
THREAD_TIMEOUT = 120


def run_together(work: Callable[[], object]) -> list:
    """``work()`` in ``THREADS`` threads released together, each with its own connection."""
    return run_in_threads(THREADS, lambda _: work(), timeout=THREAD_TIMEOUT)


@pytest.mark.parametrize("batch_size", [1000, 7], ids=["one-batch", "many-batches"])
def test_two_concurrent_ticks_fire_each_ticket_exactly_once(monkeypatch, settings, batch_size):
    # Small batches (sweep and rules) make the two ticks interleave batch by batch
    # instead of one taking every row.
    settings.HELPDESK_ESCALATION_BATCH_SIZE = batch_size
    monkeypatch.setattr(sla, "sla_breaches_record", functools.partial(sla.sla_breaches_record, batch_size=batch_size))
    EscalationRule.objects.all().delete()
    UserFactory(role=Role.MANAGER, email="lead@example.com")
    ids = first_response_overdue(TICKETS)
    now = timezone.now()
    rule = EscalationRuleFactory(
        name="Late answer",
        trigger=Trigger.FIRST_RESPONSE_OVERDUE,
        escalate_to_tier=2,
        notify=["role:manager", "email:ops@example.com"],
        note="Escalated by the engine.",
    )

    fired = run_together(lambda: engine.escalation_tick(now=now).total_fired)

    assert sum(fired) == TICKETS
    claims = RuleFiring.objects.filter(rule=rule, episode=1)
    assert claims.count() == TICKETS and set(claims.values_list("ticket_id", flat=True)) == ids

    def per_ticket(kind: str) -> Counter:
        return Counter(TicketEvent.objects.filter(kind=kind).values_list("ticket_id", flat=True))

    for kind in (EventKind.RULE_FIRED, EventKind.ESCALATED, EventKind.SLA_BREACHED, EventKind.COMMENTED):
        counted = per_ticket(kind)
        assert set(counted) == ids and set(counted.values()) == {1}, kind
    assert Comment.objects.count() == TICKETS

    # Each manager hears of each ticket once: in a message of its own or in one
    # digest (batches of more than HELPDESK_NOTIFY_DIGEST_AFTER tickets).
    reached = Counter()
    for ticket_id, target, payload in Notification.objects.values_list("ticket_id", "target", "payload"):
        listed = [ticket_id] if ticket_id else payload["ticket_ids"]
        reached.update((target, pk) for pk in listed)
    assert set(reached) == {(target, pk) for target in ("lead@example.com", "ops@example.com") for pk in ids}
    assert set(reached.values()) == {1}
    # Eager delivery after each tick's commit: every row sent once.
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    assert len(mail.outbox) == Notification.objects.count()

    assert set(Ticket.objects.values_list("tier", "assignee", "episode")) == {(2, None, 2)}

    # And a third tick afterwards finds nothing to do.
    assert engine.escalation_tick(now=now).total_fired == 0
    assert TicketEvent.objects.filter(kind=EventKind.RULE_FIRED).count() == TICKETS
