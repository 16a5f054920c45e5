"""The dashboard's figures: per-tier queues, SLA risk and the last days' flow,
in a fixed number of grouped queries whatever the number of tickets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, DurationField, Exists, ExpressionWrapper, F, Min, OuterRef, Q, QuerySet, Value
from django.db.models.functions import TruncDate
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from helpdesk import roles
from tickets.events import EventKind
from tickets.models import ACTIVE_STATUSES, QUEUE_STATUSES, Ticket, TicketEvent

DASHBOARD_DAYS = 7
PRIORITIES = range(1, 6)


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a trailing Z, as the API's serializers write times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _per_day(qs: QuerySet, field: str, *, since_24h: datetime) -> dict[date, tuple[int, int]]:
    """{UTC day: (rows, rows since since_24h)} in one grouped query."""
    rows = (
        qs.annotate(day=TruncDate(field, tzinfo=UTC))
        .values("day")
        # Counting the (non-null) indexed field itself, not the id: an index-only scan.
        .annotate(n=Count(field), recent=Count(field, filter=Q(**{f"{field}__gte": since_24h})))
        .order_by("day")
    )
    return {row["day"]: (row["n"], row["recent"]) for row in rows}


def resolution_elapsed_at_least(pct: int, now: datetime) -> Q:
    """At least ``pct`` % of the wall-clock time from creation to the resolution
    due time has passed: (now - created) * 100 >= (due - created) * pct.
    Whole-number factors keep it exact on SQLite too, where a duration times a
    fraction added to a datetime is not. Shared by dashboards and rules."""
    elapsed = ExpressionWrapper((Value(now) - F("created_at")) * 100, output_field=DurationField())
    allowed = ExpressionWrapper((F("resolution_due_at") - F("created_at")) * int(pct), output_field=DurationField())
    return Q(resolution_due_at__isnull=False) & Q(GreaterThanOrEqual(elapsed, allowed))


def _tier_figures(*, tiers: list[int], now: datetime) -> list[dict[str, Any]]:
    """Per-tier queue figures: one grouped aggregate plus one query for the oldest tickets."""
    at_risk = Q(status__in=QUEUE_STATUSES, sla_breached=False, resolution_due_at__gt=now) & resolution_elapsed_at_least(
        settings.HELPDESK_AT_RISK_PCT, now
    )
    active = Ticket.objects.filter(status__in=ACTIVE_STATUSES, tier__in=tiers)
    # Counting the (non-null) tier, not the id: all but sla_breached is in the
    # covering ticket_active_tier_figures index.
    rows = {
        row["tier"]: row
        for row in active.order_by()
        .values("tier")
        .annotate(
            open=Count("tier"),
            unassigned=Count("tier", filter=Q(assignee__isnull=True)),
            breached=Count("tier", filter=Q(sla_breached=True)),
            at_risk=Count("tier", filter=at_risk),
            oldest_at=Min("created_at"),
            **{f"p{p}": Count("tier", filter=Q(priority=p)) for p in PRIORITIES},
        )
    }
    # The oldest active ticket of each tier: its created_at is the tier's Min above,
    # so one lookup by equality on the created_at index finds it (lowest id on a tie).
    # An ORDER BY created_at LIMIT 1 instead could walk the index through every
    # closed ticket older than the oldest open one.
    oldest_q = Q()
    for tier, row in rows.items():
        oldest_q |= Q(tier=tier, created_at=row["oldest_at"])
    oldest = {}
    if rows:
        oldest = dict(
            active.filter(oldest_q)
            .order_by()
            .values("tier")
            .annotate(first_id=Min("pk"))
            .values_list("tier", "first_id")
        )
    figures = []
    for tier in tiers:
        row = rows.get(tier, {})
        oldest_id = oldest.get(tier)
        figures.append(
            {
                "tier": tier,
                "open": row.get("open", 0),
                "unassigned": row.get("unassigned", 0),
                "breached": row.get("breached", 0),
                "at_risk": row.get("at_risk", 0),
                "by_priority": {str(p): row.get(f"p{p}", 0) for p in PRIORITIES},
                "oldest": None
                if oldest_id is None
                else {"id": oldest_id, "number": Ticket(pk=oldest_id).number, "created_at": _iso(row["oldest_at"])},
            }
        )
    return figures


def dashboard_for(*, now: datetime | None = None) -> dict[str, Any]:
    """The manager dashboard (docs/PRODUCT.md "Screens", docs/API.md "Configuration endpoints" `dashboard/`) as JSON-friendly data.

    A constant number of aggregate queries (six) whatever the number of tickets:
    per-tier counts, the oldest ticket per tier, created / resolved / escalated
    per UTC day, and MTTR with first-contact resolution. Each reads through an
    index: active statuses, created_at, resolved_at, event (kind, at).
    "Last 7 days" is the rolling week before ``now`` for MTTR and first-contact
    resolution, and today plus the six previous UTC days for ``daily``.
    """
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=n) for n in range(DASHBOARD_DAYS - 1, -1, -1)]
    daily_start = datetime.combine(days[0], time.min, tzinfo=UTC)
    since_24h = now - timedelta(hours=24)
    week_start = now - timedelta(days=DASHBOARD_DAYS)

    created = _per_day(
        Ticket.objects.filter(created_at__gte=daily_start, created_at__lte=now), "created_at", since_24h=since_24h
    )
    resolved = _per_day(
        Ticket.objects.filter(resolved_at__gte=daily_start, resolved_at__lte=now), "resolved_at", since_24h=since_24h
    )
    escalated = _per_day(
        TicketEvent.objects.filter(kind=EventKind.ESCALATED, at__gte=daily_start, at__lte=now),
        "at",
        since_24h=since_24h,
    )

    ever_escalated = TicketEvent.objects.filter(ticket=OuterRef("pk"), kind=EventKind.ESCALATED)
    week = Ticket.objects.filter(resolved_at__gt=week_start, resolved_at__lte=now).aggregate(
        resolved=Count("pk"),
        first_contact=Count("pk", filter=~Exists(ever_escalated)),
        mttr=Avg(ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())),
    )
    mttr: timedelta | None = week["mttr"]

    def last_24h(per_day: dict[date, tuple[int, int]]) -> int:
        return sum(recent for _, recent in per_day.values())

    return {
        "generated_at": _iso(now),
        "tiers": _tier_figures(tiers=roles.tiers(), now=now),
        "last_24h": {"created": last_24h(created), "resolved": last_24h(resolved), "escalated": last_24h(escalated)},
        "daily": [
            {
                "date": day.isoformat(),
                "created": created.get(day, (0, 0))[0],
                "resolved": resolved.get(day, (0, 0))[0],
                "escalated": escalated.get(day, (0, 0))[0],
            }
            for day in days
        ],
        "mttr_minutes": None if mttr is None else round(mttr.total_seconds() / 60, 2),
        "first_contact_resolution": {
            "resolved": week["resolved"],
            "first_contact": week["first_contact"],
            "rate": round(week["first_contact"] / week["resolved"], 4) if week["resolved"] else None,
        },
        # tickets does not read monitoring: dashboard.selectors.manager_dashboard_for fills this in.
        "active_alerts": 0,
    }
