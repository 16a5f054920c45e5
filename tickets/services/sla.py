"""SLA clocks on tickets: due times from the priority's policy and the working
calendar, the resolution clock paused while pending or resolved, breaches
recorded once.

Due times are stored on the ticket so every sweep is an indexed range query.
A change of due times starts a new escalation episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from helpdesk import roles
from helpdesk.db import ids_filter
from helpdesk.errors import NotAllowed, field_error
from helpdesk.models import User
from helpdesk.tasks import enqueue
from tickets import events
from tickets.business_time import WorkingCalendar, add_business_seconds, business_seconds_between
from tickets.models import ACTIVE_STATUSES, DEFAULT_SLA, BusinessCalendar, SlaPolicy, Status, Ticket

# The resolution clock does not run in these statuses.
PAUSED_STATUSES = (Status.PENDING, Status.RESOLVED, Status.CLOSED)


@dataclass(frozen=True)
class SlaContext:
    """Policies and calendar, loaded once per operation (two queries)."""

    policies: dict[int, SlaPolicy]
    calendar: WorkingCalendar

    @classmethod
    def load(cls) -> SlaContext:
        return cls(policies=sla_policies(), calendar=working_calendar())

    def calendar_for(self, priority: int) -> WorkingCalendar | None:
        policy = self.policies.get(priority)
        return self.calendar if policy is not None and policy.business_hours else None


def sla_policies() -> dict[int, SlaPolicy]:
    """The stored policies, with the defaults of docs/PRODUCT.md "SLA policies and business calendar" for any priority not stored."""
    policies = {
        priority: SlaPolicy(
            priority=priority, first_response_minutes=response, resolution_minutes=resolution, business_hours=business
        )
        for priority, (response, resolution, business) in DEFAULT_SLA.items()
    }
    policies.update({p.priority: p for p in SlaPolicy.objects.all()})
    return policies


def calendar_row() -> BusinessCalendar:
    row, _ = BusinessCalendar.objects.get_or_create(pk=1)
    return row


def working_calendar(row: BusinessCalendar | None = None) -> WorkingCalendar:
    row = row or BusinessCalendar.objects.filter(pk=1).first() or BusinessCalendar(pk=1)
    return WorkingCalendar.build(
        timezone=row.timezone,
        working_days=row.working_days,
        day_start=row.day_start,
        day_end=row.day_end,
        holiday_country=row.holiday_country,
        holiday_subdivision=row.holiday_subdivision,
        holidays=row.holidays,
    )


def due_times(ticket: Ticket, ctx: SlaContext) -> tuple[datetime | None, datetime | None]:
    """(first response due, resolution due) for the ticket's priority; paused
    working time pushes the resolution due time back by exactly that much."""
    policy = ctx.policies.get(ticket.priority)
    if policy is None:
        return None, None
    calendar = ctx.calendar_for(ticket.priority)
    response = add_business_seconds(ticket.created_at, policy.first_response_minutes * 60, calendar)
    resolution = add_business_seconds(
        ticket.created_at, policy.resolution_minutes * 60 + ticket.sla_paused_seconds, calendar
    )
    return response, resolution


def refresh_due_times(ticket: Ticket, ctx: SlaContext | None = None) -> list[str]:
    """Recompute the due times in memory; returns the fields that changed. A
    saved ticket whose due times move enters a new episode."""
    response, resolution = due_times(ticket, ctx or SlaContext.load())
    changed = []
    if response != ticket.first_response_due_at:
        ticket.first_response_due_at = response
        changed.append("first_response_due_at")
    if resolution != ticket.resolution_due_at:
        ticket.resolution_due_at = resolution
        changed.append("resolution_due_at")
    if changed and ticket.pk:
        ticket.episode += 1
        changed.append("episode")
    return changed


def clock_on_status_change(ticket: Ticket, before: str, now: datetime) -> list[str]:
    """Pause the resolution clock when the ticket leaves active work, resume it
    (and move the due time) when it comes back. Returns changed fields."""
    was_paused, is_paused = before in PAUSED_STATUSES, ticket.status in PAUSED_STATUSES
    if is_paused and not was_paused:
        ticket.sla_paused_at = now
        return ["sla_paused_at"]
    if was_paused and not is_paused and ticket.sla_paused_at is not None:
        ctx = SlaContext.load()
        paused = business_seconds_between(ticket.sla_paused_at, now, ctx.calendar_for(ticket.priority))
        ticket.sla_paused_seconds += paused
        ticket.sla_paused_at = None
        return ["sla_paused_seconds", "sla_paused_at", *refresh_due_times(ticket, ctx)]
    return []


def mark_if_late(ticket: Ticket, target: str, at: datetime) -> list[str]:
    """An answer (first response or resolution) that comes after its due time
    is a breach even when no sweep ran in between: record it once, now."""
    due_field, mark_field = (
        ("first_response_due_at", "response_breached_at")
        if target == "first_response"
        else ("resolution_due_at", "resolution_breached_at")
    )
    due = getattr(ticket, due_field)
    if due is None or at <= due or getattr(ticket, mark_field) is not None:
        return []
    setattr(ticket, mark_field, at)
    ticket.sla_breached = True
    events.sla_breached_bulk([(ticket.pk, target, due)])
    return [mark_field, "sla_breached"]


def record_due_change(ticket: Ticket, actor: User | None, before: tuple, reason: str) -> None:
    after = (ticket.first_response_due_at, ticket.resolution_due_at)
    if before != after:
        events.sla_changed(
            ticket,
            actor,
            {"first_response_due_at": _iso(before[0]), "resolution_due_at": _iso(before[1])},
            {"first_response_due_at": _iso(after[0]), "resolution_due_at": _iso(after[1])},
            reason=reason,
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- configuration ---------------------------------------------------------------


def sla_policies_update(*, actor: User, policies: list[dict]) -> list[SlaPolicy]:
    """Change the targets of the given priorities; due times of active tickets
    with those priorities are recomputed in the background."""
    if not roles.is_manager(actor):
        raise NotAllowed("Only managers change SLA policies.")
    seen = set()
    for policy in policies:
        if policy["priority"] in seen:
            raise field_error("policies", f"Priority {policy['priority']} appears twice.")
        seen.add(policy["priority"])
    with transaction.atomic():
        for policy in policies:
            SlaPolicy.objects.update_or_create(
                priority=policy["priority"],
                defaults={k: policy[k] for k in ("first_response_minutes", "resolution_minutes", "business_hours")},
            )
        transaction.on_commit(lambda: enqueue("tickets.refresh_due_times", priorities=sorted(seen)))
    return list(SlaPolicy.objects.all())


def _check_calendar(row: BusinessCalendar) -> None:
    """Build the calendar one setting at a time, so a 400 names the field that is wrong."""
    base = {"working_days": row.working_days, "day_start": row.day_start, "day_end": row.day_end}
    steps = (
        ("timezone", {}),
        ("holiday_country", {"holiday_country": row.holiday_country}),
        (
            "holiday_subdivision",
            {"holiday_country": row.holiday_country, "holiday_subdivision": row.holiday_subdivision},
        ),
        (
            "holidays",
            {
                "holiday_country": row.holiday_country,
                "holiday_subdivision": row.holiday_subdivision,
                "holidays": row.holidays,
            },
        ),
    )
    for field, extra in steps:
        try:
            WorkingCalendar.build(timezone=row.timezone, **base, **extra)
        except ValueError as exc:
            raise field_error(field, str(exc)) from None


def business_calendar_update(*, actor: User, data: dict) -> BusinessCalendar:
    if not roles.is_manager(actor):
        raise NotAllowed("Only managers change the business calendar.")
    row = calendar_row()
    for field, value in data.items():
        setattr(row, field, value)
    if row.day_end <= row.day_start:
        raise field_error("day_end", "The working day must end after it starts.")
    _check_calendar(row)
    with transaction.atomic():
        row.save()
        transaction.on_commit(lambda: enqueue("tickets.refresh_due_times", priorities=None))
    return row


def tickets_refresh_due_times(*, priorities: list[int] | None = None, batch_size: int = 500) -> int:
    """After a policy or calendar change: recompute due times of active tickets
    (of the given priorities), in keyset batches. Returns how many moved."""
    ctx = SlaContext.load()
    qs = Ticket.objects.filter(status__in=ACTIVE_STATUSES)
    if priorities:
        qs = qs.filter(priority__in=priorities)
    moved, last_id = 0, 0
    while True:
        with transaction.atomic():
            batch = list(qs.filter(pk__gt=last_id).order_by("pk").select_for_update(of=("self",))[:batch_size])
            if not batch:
                return moved
            last_id = batch[-1].pk
            changed = []
            for ticket in batch:
                before = (ticket.first_response_due_at, ticket.resolution_due_at)
                if refresh_due_times(ticket, ctx):
                    ticket.version += 1
                    changed.append(ticket)
                    record_due_change(ticket, None, before, reason="SLA configuration changed")
            now = timezone.now()
            for ticket in changed:
                ticket.updated_at = now
            Ticket.objects.bulk_update(
                changed,
                ["first_response_due_at", "resolution_due_at", "episode", "version", "updated_at"],
                batch_size=batch_size,
            )
            moved += len(changed)


# --- sweeps ---------------------------------------------------------------------------


def sla_breaches_record(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Mark tickets whose first response or resolution is overdue, once each,
    with an `sla_breached` event. Indexed range scans on the stored due times;
    rows another sweep holds are skipped. Returns how many breaches were recorded."""
    now = now or timezone.now()
    sweeps = [
        (
            "first_response",
            "response_breached_at",
            "first_response_due_at",
            Ticket.objects.filter(
                status__in=ACTIVE_STATUSES,
                first_responded_at__isnull=True,
                response_breached_at__isnull=True,
                first_response_due_at__lte=now,
            ),
        ),
        (
            "resolution",
            "resolution_breached_at",
            "resolution_due_at",
            Ticket.objects.filter(
                status__in=(Status.NEW, Status.OPEN), resolution_breached_at__isnull=True, resolution_due_at__lte=now
            ),
        ),
    ]
    recorded = 0
    for target, mark_field, due_field, qs in sweeps:
        while True:
            with transaction.atomic():
                rows = list(
                    qs.select_for_update(skip_locked=True, of=("self",))
                    .order_by(due_field)
                    .values_list("id", due_field)[:batch_size]
                )
                if not rows:
                    break
                ids = [row[0] for row in rows]
                Ticket.objects.filter(ids_filter(ids)).update(
                    **{mark_field: now}, sla_breached=True, version=F("version") + 1, updated_at=now
                )
                events.sla_breached_bulk([(i, target, due) for i, due in rows])
                recorded += len(rows)
            if len(rows) < batch_size:
                break
    return recorded


__all__ = [
    "SlaContext",
    "business_calendar_update",
    "clock_on_status_change",
    "due_times",
    "refresh_due_times",
    "sla_breaches_record",
    "sla_policies_update",
    "tickets_refresh_due_times",
    "working_calendar",
]
