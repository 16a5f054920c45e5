"""Reads of tickets, scoped to what the caller may see.

Customers see their own tickets and public comments only; everything else is
"not found" for them. Agents read every ticket (L1 answers any customer).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import TruncDate
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from helpdesk import roles
from helpdesk.errors import InvalidInput, NotFound
from helpdesk.models import User
from helpdesk.text import parse_id
from tickets import search
from tickets.events import CUSTOMER_VISIBLE_KINDS, EventKind
from tickets.filters import KnownIssueFilter, TicketFilter
from tickets.models import (
    ACTIVE_STATUSES,
    PRIORITY_LABELS,
    QUEUE_STATUSES,
    TRANSITIONS,
    Attachment,
    Comment,
    KnownIssue,
    Status,
    Ticket,
    TicketEvent,
)
from tickets.services import priority_for, sla


def ticket_queryset_for(*, user: User) -> QuerySet[Ticket]:
    qs = Ticket.objects.select_related("category")
    if roles.is_agent(user):
        return qs
    if roles.is_customer(user) and user.is_active:
        return qs.filter(requester=user)
    return qs.none()


def _id(raw: Any) -> int:
    """An id from the path or the caller, or "not found": junk ids ("²", 2**64) are
    as missing as any other (helpdesk.text.parse_id)."""
    value = parse_id(raw)
    if value is None:
        raise NotFound()
    return value


def ticket_get_for(*, user: User, ticket_id: Any) -> Ticket:
    try:
        return ticket_queryset_for(user=user).get(pk=_id(ticket_id))
    except Ticket.DoesNotExist:
        raise NotFound() from None


def ticket_list_for(*, user: User, filters: Any) -> QuerySet[Ticket]:
    """Visible tickets narrowed by the list filters of docs/API.md "Lists and filters" and ordering."""
    filterset = TicketFilter(data=filters, queryset=ticket_queryset_for(user=user), request_user=user)
    if not filterset.is_valid():
        raise InvalidInput({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


def _comments_visible(*, user: User, ticket: Ticket) -> QuerySet[Comment]:
    qs = ticket.comments.all()
    return qs if roles.is_agent(user) else qs.filter(internal=False)


def comment_list_for(*, user: User, ticket: Ticket) -> QuerySet[Comment]:
    """The comments the user sees, with their attachments (one query for a whole page)."""
    return _comments_visible(user=user, ticket=ticket).prefetch_related("attachments")


def comment_get_for(*, user: User, ticket: Ticket, comment_id: Any) -> Comment:
    """A comment of this (visible) ticket; internal ones are "not found" for customers."""
    try:
        comment = _comments_visible(user=user, ticket=ticket).get(pk=_id(comment_id))
    except Comment.DoesNotExist:
        raise NotFound() from None
    comment.ticket = ticket
    return comment


def attachment_get_for(*, user: User, attachment_id: Any) -> Attachment:
    """An attachment the user may download: the same visibility as its comment.
    Anything else, missing or not, is "not found"."""
    qs = Attachment.objects.all()
    if roles.is_agent(user):
        pass
    elif roles.is_customer(user) and user.is_active:
        qs = qs.filter(comment__internal=False, comment__ticket__requester=user)
    else:
        raise NotFound()
    try:
        return qs.get(pk=_id(attachment_id))
    except Attachment.DoesNotExist:
        raise NotFound() from None


def event_list_for(*, user: User, ticket: Ticket) -> QuerySet[TicketEvent]:
    qs = ticket.events.all()
    if roles.is_agent(user):
        return qs
    # Customers see the public history: creation, status changes, public comments.
    # has_key first: a bare NOT (data->'internal' = true) is NULL, which excludes
    # every event without the key (creation, status changes).
    return qs.filter(kind__in=CUSTOMER_VISIBLE_KINDS).exclude(Q(data__has_key="internal") & Q(data__internal=True))


def known_issue_list_for(*, user: User, filters: Any) -> QuerySet[KnownIssue]:
    """Known issues narrowed by the list filters (`q` searches, best match first).
    Agents read the knowledge base; nobody else sees it."""
    if not roles.is_agent(user):
        return KnownIssue.objects.none()
    filterset = KnownIssueFilter(data=filters, queryset=KnownIssue.objects.all())
    if not filterset.is_valid():
        raise InvalidInput({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


def open_incidents_for(*, application_id: int) -> QuerySet[Ticket]:
    """An application's open incidents: those a ticket may be linked to (an alert
    opened them or an agent flagged them major; TicketQuerySet.linkable_incidents,
    the rule the link services check too). The console's banner, the API's
    suggestions and application health show these; a customer's own "incident" never."""
    return Ticket.objects.linkable_incidents().filter(application_id=application_id).order_by("priority", "-id")


def open_incident_counts(*, application_ids: list[int]) -> dict[int, int]:
    """How many open incidents (as open_incidents_for) each application has (absent: none), in one query."""
    rows = (
        Ticket.objects.linkable_incidents()
        .filter(application_id__in=application_ids)
        .order_by()
        .values("application_id")
        .annotate(n=Count("pk"))
    )
    return {row["application_id"]: row["n"] for row in rows}


# --- pages -------------------------------------------------------------------------------


def ticket_page_get(*, user: User, ticket_id: Any) -> Ticket:
    """A visible ticket with what its page shows in one query."""
    try:
        return (
            ticket_queryset_for(user=user)
            .select_related("requester", "assignee", "application", "parent")
            .get(pk=_id(ticket_id))
        )
    except Ticket.DoesNotExist:
        raise NotFound() from None


def priority_preview(*, urgency: str, impact: str, now: datetime | None = None) -> dict[str, Any]:
    """What a new ticket with this urgency and impact would get: the matrix's
    priority and the SLA due times counted from now (business hours included)."""
    now = now or timezone.now()
    priority = priority_for(impact=impact, urgency=urgency)
    ctx = sla.SlaContext.load()
    response, resolution = sla.due_times(Ticket(priority=priority, created_at=now), ctx)
    return {
        "priority": priority,
        "label": PRIORITY_LABELS.get(priority, ""),
        "first_response_due_at": response,
        "resolution_due_at": resolution,
        "business_hours": ctx.calendar_for(priority) is not None,
    }


def customer_search(*, query: str, limit: int = 10) -> list[User]:
    """Active customers whose e-mail, username or name contains ``query`` (2+ characters)."""
    query = (query or "").strip()[:150]
    if len(query) < 2:
        return []
    match = Q(email__icontains=query) | Q(username__icontains=query) | Q(first_name__icontains=query)
    match |= Q(last_name__icontains=query)
    return list(
        User.objects.filter(match, role=roles.Role.CUSTOMER, is_active=True).exclude(email="").order_by("email")[:limit]
    )


def ticket_timeline_for(*, user: User, ticket: Ticket) -> list[dict[str, Any]]:
    """Comments and events of a ticket, oldest first, as the caller may see them
    (customers: public comments and the public history). Three queries."""
    comments = list(comment_list_for(user=user, ticket=ticket).select_related("author").prefetch_related("attachments"))
    items: list[dict[str, Any]] = [
        {"at": c.created_at, "kind": "comment", "comment": c, "actor": c.author, "internal": c.internal}
        for c in comments
    ]
    # A comment shows itself; its "commented" event would only repeat it.
    for event in event_list_for(user=user, ticket=ticket).exclude(kind=EventKind.COMMENTED).select_related("actor"):
        items.append({"at": event.at, "kind": "event", "event": event, "actor": event.actor, "text": event_text(event)})
    items.sort(key=lambda item: (item["at"], 0 if item["kind"] == "event" else 1))
    return items


def handover_for(*, ticket: Ticket) -> dict[str, Any] | None:
    """The last escalation's handover (reason, summary, steps tried) while the ticket is above L1."""
    if ticket.tier <= 1:
        return None
    event = ticket.events.filter(kind=EventKind.ESCALATED).select_related("actor").order_by("-id").first()
    if event is None:
        return None
    return {
        "at": event.at,
        "actor": event.actor,
        **{k: event.data.get(k, "") for k in ("reason", "summary", "steps_tried")},
    }


def allowed_statuses(*, ticket: Ticket) -> list[tuple[str, str]]:
    return [(s.value, s.label) for s in Status if s.value in TRANSITIONS.get(ticket.status, ())]


def known_issue_suggestions_for(
    *, user: User, text: str, application_id: int | None = None, limit: int = 5
) -> list[KnownIssue]:
    """Active known issues that what the agent typed suggests, those of the
    chosen application (or of none) first. Agents only; one query."""
    if not roles.is_agent(user):
        return []
    qs = KnownIssue.objects.filter(is_active=True)
    if application_id is not None:
        qs = qs.filter(Q(application_id=application_id) | Q(application__isnull=True))
    return list(search.known_issues_suggested(qs, text)[:limit])


def known_issues_applied_to(*, ticket: Ticket) -> list[KnownIssue]:
    return list(ticket.known_issues.order_by("title"))


def _who(value: Any) -> str:
    return "nobody" if value in (None, "") else f"user {value}"


def event_text(event: TicketEvent) -> str:
    """One line for the timeline (the audit trail keeps the full data)."""
    data = event.data or {}
    before, after = data.get("before") or {}, data.get("after") or {}
    kind = event.kind
    if kind == EventKind.CREATED:
        return "Ticket created"
    if kind == EventKind.STATUS_CHANGED:
        return f"Status {before.get('status', '?')} → {after.get('status', '?')}"
    if kind == EventKind.PRIORITY_CHANGED:
        return f"Priority P{before.get('priority', '?')} → P{after.get('priority', '?')}"
    if kind == EventKind.ASSIGNED:
        return f"Assignee {_who(before.get('assignee'))} → {_who(after.get('assignee'))}"
    if kind in (EventKind.ESCALATED, EventKind.DEESCALATED):
        verb = "Escalated" if kind == EventKind.ESCALATED else "De-escalated"
        text = f"{verb} L{before.get('tier', '?')} → L{after.get('tier', '?')}"
        return f"{text}: {data['reason']}" if data.get("reason") else text
    if kind == EventKind.SLA_BREACHED:
        return f"SLA breached: {str(data.get('target', '')).replace('_', ' ')}"
    if kind == EventKind.RULE_FIRED:
        return f"Escalation rule “{data.get('name', '')}” fired"
    if kind == EventKind.URGENCY_RAISED:
        return f"Urgency raised to {after.get('urgency', '?')}"
    if kind in (EventKind.LINKED, EventKind.UNLINKED):
        return "Linked to an incident" if kind == EventKind.LINKED else "Unlinked from its incident"
    if kind in (EventKind.CHILD_LINKED, EventKind.CHILD_UNLINKED):
        return "A ticket was linked" if kind == EventKind.CHILD_LINKED else "A ticket was unlinked"
    if kind == EventKind.SLA_CHANGED:
        return "SLA due times changed"
    if kind == EventKind.UPDATED:
        return "Changed: " + ", ".join(sorted(after)) if after else "Updated"
    if kind == EventKind.NOTIFICATION_FAILED:
        return f"Notification to {data.get('target', '?')} failed"
    return kind.replace("_", " ").capitalize()


# --- dashboard ----------------------------------------------------------------------

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
