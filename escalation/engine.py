"""The escalation engine: one tick records SLA breaches and applies every
enabled rule to the tickets it matches now.

Candidates come from indexed range queries on stored times (due times,
queued_at, updated_at), never from a Python loop over open tickets. A rule
fires at most once per ticket episode: the unique constraint on RuleFiring
decides, so concurrent ticks, retried tasks and crashed workers cannot fire
twice. Changes go through the set-based ticket services, so each is an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from escalation.models import EscalationRule, RuleFiring, Trigger
from escalation.notify import notifications_create
from helpdesk.db import insert_rows
from helpdesk.models import User
from tickets import events
from tickets.models import ACTIVE_STATUSES, Status, Ticket
from tickets.selectors.dashboard import resolution_elapsed_at_least
from tickets.services import bulk, sla

FIRING_FIELDS = ("rule_id", "ticket_id", "episode")
# A paused clock (pending) cannot be late on resolution.
RUNNING_STATUSES = (Status.NEW, Status.OPEN)


@dataclass
class TickReport:
    breaches: int = 0
    fired: dict[int, int] = field(default_factory=dict)

    @property
    def total_fired(self) -> int:
        return sum(self.fired.values())


def _trigger_filter(rule: EscalationRule, qs: QuerySet[Ticket], now: datetime) -> QuerySet[Ticket]:
    limit = now - timedelta(minutes=rule.threshold)
    if rule.trigger == Trigger.FIRST_RESPONSE_OVERDUE:
        return qs.filter(first_responded_at__isnull=True, first_response_due_at__lte=limit)
    if rule.trigger == Trigger.RESOLUTION_OVERDUE:
        return qs.filter(status__in=RUNNING_STATUSES, resolution_due_at__lte=limit)
    if rule.trigger == Trigger.RESOLUTION_ELAPSED_PCT:
        # Wall clock between creation and the due time (pauses already moved the due time back).
        return qs.filter(resolution_elapsed_at_least(rule.threshold, now), status__in=RUNNING_STATUSES)
    if rule.trigger == Trigger.UNASSIGNED_FOR:
        return qs.filter(assignee__isnull=True, status__in=RUNNING_STATUSES, queued_at__lte=limit)
    if rule.trigger == Trigger.IDLE_FOR:
        return qs.filter(updated_at__lte=limit)
    raise ValueError(f"unknown trigger {rule.trigger}")


def rule_matches(rule: EscalationRule, *, now: datetime | None = None) -> QuerySet[Ticket]:
    """Tickets the rule would fire on now: conditions, trigger, and no firing
    yet in the ticket's current episode. Also the rule's preview."""
    now = now or timezone.now()
    qs = Ticket.objects.filter(status__in=ACTIVE_STATUSES)
    for condition, lookup in (
        ("tiers", "tier__in"),
        ("priorities", "priority__in"),
        ("statuses", "status__in"),
        ("kinds", "kind__in"),
        ("applications", "application_id__in"),
        ("categories", "category_id__in"),
    ):
        values = getattr(rule, condition)
        if values:
            qs = qs.filter(**{lookup: values})
    fired = RuleFiring.objects.filter(rule=rule, ticket=OuterRef("pk"), episode=OuterRef("episode"))
    return _trigger_filter(rule, qs, now).filter(~Exists(fired))


def rule_apply(rule: EscalationRule, *, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Fire the rule on every ticket it matches, in keyset batches. Each batch
    locks its tickets (skipping rows another tick holds), claims the firings
    through the unique constraint, and acts only on the firings it won."""
    now = now or timezone.now()
    fired, last_id = 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                rule_matches(rule, now=now)
                .filter(pk__gt=last_id)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")[:batch_size]
            )
            if not batch:
                return fired
            last_id = batch[-1].pk
            won = _claim_firings(rule, batch)
            tickets = [t for t in batch if t.pk in won]
            if tickets:
                _act(rule, tickets)
                fired += len(tickets)
        if len(batch) < batch_size:
            return fired


def _claim_firings(rule: EscalationRule, tickets: list[Ticket]) -> set[int]:
    """Insert a firing per ticket; the ones the unique constraint let in are ours."""
    rows = [(rule.pk, t.pk, t.episode) for t in tickets]
    return set(insert_rows(RuleFiring, FIRING_FIELDS, rows, ignore_conflicts=True, returning="ticket_id"))


def _act(rule: EscalationRule, tickets: list[Ticket]) -> None:
    reason = f"Escalation rule “{rule.name}”"
    fired_in = {t.pk: t.episode for t in tickets}
    events.rule_fired_bulk(
        [t.pk for t in tickets],
        rule_id=rule.pk,
        rule_name=rule.name,
        trigger=rule.trigger,
        episode_of=fired_in,
    )
    written: set[int] = set()  # tickets whose row (version) an action already wrote
    if rule.escalate_to_tier:
        written |= {
            t.pk
            for t in bulk.tickets_escalate_locked(
                tickets=tickets, actor=None, to_tier=rule.escalate_to_tier, reason=reason
            )
        }
    if rule.raise_urgency:
        written |= {t.pk for t in bulk.tickets_raise_urgency(tickets=tickets, reason=reason)}
    if rule.assign_to_id:
        assignee = User.objects.filter(pk=rule.assign_to_id).first()
        if assignee is not None:
            written |= {t.pk for t in bulk.tickets_assign_by_rule(tickets=tickets, assignee=assignee, reason=reason)}
    if rule.note:
        bulk.tickets_add_note(tickets=tickets, body=rule.note, already_written=written)
    # The rule's own changes (a new tier, new due times from a raised urgency) start
    # a new episode, but not one in which the same rule fires again at once; a later
    # change by someone else does.
    # A rule limited to tiers cannot match a ticket that left them: no row needed.
    insert_rows(
        RuleFiring,
        FIRING_FIELDS,
        [
            (rule.pk, t.pk, t.episode)
            for t in tickets
            if t.episode != fired_in[t.pk] and (not rule.tiers or t.tier in rule.tiers)
        ],
        ignore_conflicts=True,
    )
    if rule.notify:
        notifications_create(
            specs=rule.notify,
            tickets=tickets,
            subject="[{number}] " + rule.name + ": {title}",
            body=(
                f"The escalation rule “{rule.name}” ({rule.get_trigger_display()}) fired on ticket {{number}}.\n\n"
                "Title: {title}\nPriority: P{priority}\nTier: {tier}\n\n{url}\n"
            ),
            payload={"event": "rule_fired", "rule": {"id": rule.pk, "name": rule.name, "trigger": rule.trigger}},
            rule=rule,
            digest_after=settings.HELPDESK_NOTIFY_DIGEST_AFTER,
            digest_subject=f"{rule.name}: {{count}} tickets",
            digest_body=f"The escalation rule “{rule.name}” ({rule.get_trigger_display()}) fired on {{count}} tickets.",
        )


def escalation_tick(*, now: datetime | None = None) -> TickReport:
    """One pass of the engine (Celery beat runs it every
    HELPDESK_ESCALATION_TICK_SECONDS). Safe to run concurrently."""
    now = now or timezone.now()
    report = TickReport(breaches=sla.sla_breaches_record(now=now))
    for rule in EscalationRule.objects.filter(enabled=True).select_related("assign_to").order_by("order", "pk"):
        report.fired[rule.pk] = rule_apply(rule, now=now, batch_size=settings.HELPDESK_ESCALATION_BATCH_SIZE)
    return report
