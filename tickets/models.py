"""Ticket data and invariants. Business rules live in services.py."""

from __future__ import annotations

import datetime

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

# Urgency and impact share one scale with an application's criticality: the
# catalogue's. Tickets code keeps importing it from here.
from catalog.models import Level


class Kind(models.TextChoices):
    INCIDENT = "incident", "Incident"
    SERVICE_REQUEST = "service_request", "Service request"


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# The status lifecycle (docs/PRODUCT.md "Status lifecycle"). One function, services.ticket_transition, uses it.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED}),
    Status.OPEN: frozenset({Status.PENDING, Status.RESOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)
DONE_STATUSES = (Status.RESOLVED, Status.CLOSED)
# Statuses a ticket may be handed out from by "next ticket".
QUEUE_STATUSES = (Status.NEW, Status.OPEN)

PRIORITY_LABELS = {1: "critical", 2: "high", 3: "medium", 4: "low", 5: "planning"}

# ITIL default: rows are impact, columns urgency.
DEFAULT_MATRIX: dict[tuple[str, str], int] = {
    (Level.HIGH, Level.HIGH): 1,
    (Level.HIGH, Level.MEDIUM): 2,
    (Level.HIGH, Level.LOW): 3,
    (Level.MEDIUM, Level.HIGH): 2,
    (Level.MEDIUM, Level.MEDIUM): 3,
    (Level.MEDIUM, Level.LOW): 4,
    (Level.LOW, Level.HIGH): 3,
    (Level.LOW, Level.MEDIUM): 4,
    (Level.LOW, Level.LOW): 5,
}


# SLA defaults (docs/PRODUCT.md "SLA policies and business calendar"): (first response, resolution) in minutes and whether they
# count in business hours. P1 runs around the clock.
DEFAULT_SLA: dict[int, tuple[int, int, bool]] = {
    1: (15, 4 * 60, False),
    2: (60, 8 * 60, True),
    3: (4 * 60, 24 * 60, True),
    4: (8 * 60, 40 * 60, True),
    5: (24 * 60, 80 * 60, True),
}


class PriorityMatrixCell(models.Model):
    impact = models.CharField(max_length=8, choices=Level.choices)
    urgency = models.CharField(max_length=8, choices=Level.choices)
    priority = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="matrix_cell_unique"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="matrix_priority_1_5"),
        ]

    def __str__(self) -> str:
        return f"impact {self.impact} x urgency {self.urgency} -> P{self.priority}"


class Category(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    # The lowest tier allowed to resolve tickets of this category.
    scope_tier = models.PositiveSmallIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    # One per configuration edit (API, admin); never bumped by polls or counters. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(condition=Q(scope_tier__gte=1, scope_tier__lte=3), name="category_scope_tier_1_3"),
        ]

    def __str__(self) -> str:
        return self.name


def default_working_days() -> list[int]:
    return [0, 1, 2, 3, 4]


class BusinessCalendar(models.Model):
    """The one working calendar SLA clocks count in (a singleton, pk=1)."""

    timezone = models.CharField(max_length=64, default="UTC")
    working_days = models.JSONField(default=default_working_days)  # 0 = Monday
    day_start = models.TimeField(default=datetime.time(9, 0))
    day_end = models.TimeField(default=datetime.time(17, 0))
    holiday_country = models.CharField(max_length=8, blank=True)  # ISO code for public holidays, e.g. "DE"
    holiday_subdivision = models.CharField(max_length=16, blank=True)
    holidays = models.JSONField(default=list, blank=True)  # extra closed dates, "YYYY-MM-DD"
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(day_end__gt=models.F("day_start")), name="calendar_day_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.timezone} {self.day_start:%H:%M}-{self.day_end:%H:%M}"


class SlaPolicy(models.Model):
    """First-response and resolution targets for one priority."""

    priority = models.PositiveSmallIntegerField(unique=True)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()
    business_hours = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="sla_priority_1_5"),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gt=0, resolution_minutes__gt=0), name="sla_targets_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"P{self.priority}: {self.first_response_minutes} min / {self.resolution_minutes} min"


class TicketQuerySet(models.QuerySet):
    def linkable_incidents(self) -> TicketQuerySet:
        """Incidents a ticket may be linked to (parent), the one rule for the console's
        incident banner, the API's suggestions, application health and the link
        services: an active incident, not itself linked, that an alert opened or an
        agent flagged major. Anybody's ticket may become kind=incident (a customer's
        words, an agent's triage); only these two speak for the application."""
        # Born from an alert: an alert names it. Looked up by name, not imported:
        # monitoring sits above tickets. An EXISTS, not a join: re-fires share a ticket.
        alert = apps.get_model("monitoring", "Alert")
        born_from_alert = Exists(alert.objects.filter(ticket=OuterRef("pk")))
        return self.filter(kind=Kind.INCIDENT, status__in=ACTIVE_STATUSES, parent__isnull=True).filter(
            Q(major=True) | born_from_alert
        )


class Ticket(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SERVICE_REQUEST)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    tier = models.PositiveSmallIntegerField(default=1)
    urgency = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    impact = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    # Derived from the matrix by services; never entered.
    priority = models.PositiveSmallIntegerField()
    # requester and assignee lead composite indexes (Meta): no single-column index of their own,
    # one index less for every ticket write.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets", db_index=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        db_index=False,
    )
    application = models.ForeignKey(
        "catalog.Application", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets")
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    # A customer wrote again about a closed ticket: the new ticket follows the closed one.
    follows = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups", db_index=False
    )
    # An agent flagged this incident major: tickets may be linked to it (TicketQuerySet.linkable_incidents).
    major = models.BooleanField(default=False)
    # Number of tickets linked to this one as their parent; kept by the link service.
    linked_count = models.PositiveIntegerField(default=0)
    resolution = models.TextField(blank=True)

    # Set by the create service (not auto_now_add) so due times count from the same instant.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    sla_breached = models.BooleanField(default=False)
    response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    # The resolution clock stops while pending; paused working seconds extend the due time.
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(default=0)
    # When the ticket last entered a queue without an assignee (None while assigned).
    queued_at = models.DateTimeField(null=True, blank=True)
    # A new tier or new due times start a new episode: escalation rules fire once per episode.
    episode = models.PositiveIntegerField(default=1)

    # Optimistic concurrency: bumped by every change, sent as the ETag.
    version = models.PositiveIntegerField(default=1)

    objects = TicketQuerySet.as_manager()

    class Meta:
        # Heap pages keep 15 % free for HOT updates (fillfactor, migration 0007).
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "tier"], name="ticket_status_tier"),
            models.Index(fields=["requester", "-id"], name="ticket_requester"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_status"),
            models.Index(fields=["created_at"], name="ticket_created"),
            models.Index(fields=["resolved_at"], name="ticket_resolved"),
            # "Followed by HD-..." on the ticket page: few tickets follow another, so a small partial index.
            models.Index(fields=["follows"], name="ticket_follows", condition=Q(follows__isnull=False)),
            # SLA sweeps: only active tickets that have not breached yet are scanned.
            models.Index(
                fields=["first_response_due_at"],
                name="ticket_response_due",
                condition=Q(first_responded_at__isnull=True, response_breached_at__isnull=True)
                & Q(status__in=["new", "open", "pending"]),
            ),
            models.Index(
                fields=["resolution_due_at"],
                name="ticket_resolution_due",
                condition=Q(status__in=["new", "open", "pending"]),
            ),
            # The tier queue page: active tickets of a tier in priority, then due-time order
            # (an ordered index scan stops after a page instead of sorting every active ticket).
            models.Index(
                fields=["tier", "priority", "resolution_due_at"],
                name="ticket_active_tier_order",
                condition=Q(status__in=["new", "open", "pending"]),
            ),
            # The dashboard's per-tier figures read the active tickets through this index.
            # Not sla_breached: the breach sweep must stay a HOT update (no index
            # touched), or the escalation tick pays for every index on every breach.
            models.Index(
                fields=["tier"],
                include=["status", "assignee", "priority", "created_at", "resolution_due_at"],
                name="ticket_active_tier_figures",
                condition=Q(status__in=["new", "open", "pending"]),
            ),
            # The queue: unassigned tickets of a tier, best priority then earliest due.
            models.Index(
                fields=["tier", "priority", "resolution_due_at", "id"],
                name="ticket_queue",
                condition=Q(assignee__isnull=True, status__in=["new", "open"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(tier__gte=1, tier__lte=3), name="ticket_tier_1_3"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="ticket_priority_1_5"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="ticket_status_valid"),
            models.CheckConstraint(condition=Q(urgency__in=Level.values), name="ticket_urgency_valid"),
            models.CheckConstraint(condition=Q(impact__in=Level.values), name="ticket_impact_valid"),
            models.CheckConstraint(condition=Q(kind__in=Kind.values), name="ticket_kind_valid"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="ticket_not_own_parent"),
            models.CheckConstraint(condition=Q(major=False) | Q(kind=Kind.INCIDENT), name="ticket_major_is_incident"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        """Human-readable reference an agent reads to the customer on the phone."""
        return f"HD-{self.pk:06d}" if self.pk else ""

    @property
    def priority_label(self) -> str:
        return PRIORITY_LABELS.get(self.priority, "")

    @property
    def needs_escalation(self) -> bool:
        """The category may only be resolved by a tier above the ticket's."""
        return bool(self.category_id and self.category.scope_tier > self.tier)

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATUSES


class Via(models.TextChoices):
    """Where a comment came in: the pages, the API, an e-mail, or the product itself."""

    WEB = "web", "Web"
    EMAIL = "email", "E-mail"
    API = "api", "API"
    SYSTEM = "system", "System"


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments", db_index=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ticket_comments")
    body = models.TextField()
    internal = models.BooleanField(default=False)
    via = models.CharField(max_length=6, choices=Via.choices, default=Via.WEB, db_default=Via.WEB)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_ticket_created")]
        constraints = [models.CheckConstraint(condition=Q(via__in=Via.values), name="comment_via_valid")]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.ticket_id}"


class TicketCc(models.Model):
    """An address that hears about the ticket's public conversation with its requester
    (e-mail CCs): one row per ticket and address, kept lower-case."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="ccs", db_index=False)
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "email"], name="ticket_cc_once")]

    def __str__(self) -> str:
        return f"{self.email} on {self.ticket_id}"


class KnownIssue(models.Model):
    """A knowledge-base entry L1 applies to tickets: symptoms and the steps that fix them.

    Retired entries (``is_active=False``) stay for the tickets they were applied to.
    Search: ``tickets.search``, over an expression index on PostgreSQL (migration 0008).
    """

    title = models.CharField(max_length=200)
    symptoms = models.TextField(blank=True)
    resolution_steps = models.TextField()
    # Like Ticket.application: the catalogue's application (catalog sits below tickets).
    application = models.ForeignKey(
        "catalog.Application", on_delete=models.PROTECT, null=True, blank=True, related_name="known_issues"
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True, related_name="known_issues")
    # Tickets it was applied to; one link per ticket and known issue.
    tickets = models.ManyToManyField(Ticket, through="KnownIssueLink", related_name="known_issues", blank=True)
    # Counted by the apply service with an F() expression, once per ticket.
    usage_count = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # One per configuration edit (API, admin); never bumped by polls or counters. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(resolution_steps=""), name="known_issue_steps_not_empty"),
        ]

    def __str__(self) -> str:
        return self.title


class KnownIssueLink(models.Model):
    """A known issue applied to a ticket: who, when, and the public comment it posted."""

    # No single-column indexes: the unique constraint leads with ticket, the
    # known_issue_link_issue index with known_issue.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="known_issue_links", db_index=False)
    # Applied entries are retired (is_active), not deleted: the link keeps them.
    known_issue = models.ForeignKey(KnownIssue, on_delete=models.PROTECT, related_name="links", db_index=False)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(auto_now_add=True)
    comment = models.ForeignKey(Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["applied_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "known_issue"], name="known_issue_link_once_per_ticket"),
        ]
        indexes = [models.Index(fields=["known_issue", "applied_at"], name="known_issue_link_issue")]

    def __str__(self) -> str:
        return f"known issue {self.known_issue_id} on {self.ticket_id}"


class Attachment(models.Model):
    """A file on a comment. The bytes live under HELPDESK_ATTACHMENT_ROOT at
    ``stored_name`` (random, never the uploader's name); ``name`` is the sanitised
    original name, used only in the download's Content-Disposition.

    Deleting a comment deletes these rows; the files are removed by the daily
    sweep (services.attachment_files_purge), not in the request.
    """

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="attachments")
    stored_name = models.CharField(max_length=100)
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A constraint, not unique=True: no extra LIKE index on PostgreSQL.
            models.UniqueConstraint(fields=["stored_name"], name="attachment_stored_name_unique"),
            models.CheckConstraint(condition=Q(size__gt=0), name="attachment_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on comment {self.comment_id}"


class EventKind(models.TextChoices):
    """What a TicketEvent records; the database refuses any other kind
    (constraint ``event_kind_known``). Each kind has its constructor in tickets.events."""

    CREATED = "created"
    UPDATED = "updated"
    PRIORITY_CHANGED = "priority_changed"
    STATUS_CHANGED = "status_changed"
    ASSIGNED = "assigned"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    LINKED = "linked"
    UNLINKED = "unlinked"
    CHILD_LINKED = "child_linked"
    CHILD_UNLINKED = "child_unlinked"
    COMMENTED = "commented"
    SLA_CHANGED = "sla_changed"
    SLA_BREACHED = "sla_breached"
    RULE_FIRED = "rule_fired"
    URGENCY_RAISED = "urgency_raised"
    NOTIFICATION_FAILED = "notification_failed"
    KNOWN_ISSUE_APPLIED = "known_issue_applied"
    ATTACHMENT_ADDED = "attachment_added"
    CC_CHANGED = "cc_changed"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise TypeError("Ticket events are append-only.")

    def delete(self):  # type: ignore[override]
        raise TypeError("Ticket events are append-only.")


class TicketEvent(models.Model):
    """One entry of a ticket's audit trail. Written only by tickets.events.

    Rows are never updated or deleted: the model refuses it here, and on
    PostgreSQL a trigger refuses it at the database (migration 0002).
    """

    # Indexed by (ticket, id) and (kind, at) in Meta; no single-column ones (cheaper inserts).
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="events", db_index=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    # Not ``choices=``: the API describes kind as a plain string (the schema stays
    # stable as kinds are added); the check constraint in Meta keeps the values known.
    kind = models.CharField(max_length=40)
    data = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        # Related-object access must not bypass the append-only queryset either.
        base_manager_name = "objects"
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["ticket", "id"], name="event_ticket"),
            models.Index(fields=["kind", "at"], name="event_kind_at"),
            # "Was this ticket ever escalated?" (first-contact resolution), one probe per ticket.
            models.Index(fields=["ticket"], name="event_escalated_ticket", condition=Q(kind="escalated")),
        ]
        constraints = [models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_known")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.ticket_id} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("Ticket events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise TypeError("Ticket events are append-only.")
