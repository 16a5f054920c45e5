"""Tickets the engine finds due: many at once, for the concurrency and fault tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets.models import Status, Ticket


def first_response_overdue(count: int) -> set[int]:
    """``count`` new tier-1 P3 tickets, queued two hours ago, first response an hour
    overdue, resolution not due yet; returns their ids."""
    now = timezone.now()
    requester = UserFactory(role=Role.CUSTOMER)
    Ticket.objects.bulk_create(
        Ticket(
            title=f"Due ticket {i}",
            requester=requester,
            priority=3,
            tier=1,
            status=Status.NEW,
            queued_at=now - timedelta(hours=2),
            first_response_due_at=now - timedelta(hours=1),
            resolution_due_at=now + timedelta(days=1),
        )
        for i in range(count)
    )
    return set(Ticket.objects.values_list("pk", flat=True))
