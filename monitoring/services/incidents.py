"""Incident tickets for alerts, made through the ticket services like any other
ticket (the monitoring app never writes ticket rows itself)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from helpdesk import roles
from monitoring.models import Alert, AlertState, Severity
from tickets import services as tickets
from tickets.models import ACTIVE_STATUSES, Kind, Level, Status, Ticket

# A re-fire within this time reopens the incident instead of opening a new one.
REOPEN_WITHIN = timedelta(hours=1)

URGENCY_FOR = {Severity.WARNING: Level.MEDIUM, Severity.CRITICAL: Level.HIGH, Severity.OUTAGE: Level.HIGH}


def _impact_for(alert: Alert) -> str:
    if alert.severity == Severity.OUTAGE:
        return Level.HIGH
    return alert.application.criticality if alert.application_id else Level.MEDIUM


def _describe(alert: Alert) -> str:
    value = "" if alert.last_value is None else f" (value {alert.last_value:g}{_unit(alert)})"
    where = alert.application.name if alert.application_id else (alert.source.name if alert.source_id else "")
    return f"[{alert.severity.upper()}] {where}: {alert.name}{value}"


def _unit(alert: Alert) -> str:
    return f" {alert.monitor.unit}" if alert.monitor_id and alert.monitor.unit else ""


def incident_open(alert: Alert) -> Ticket:
    """The incident ticket for a newly firing alert: the same fingerprint's
    ticket when it is still open (one open ticket per dedup key) or when it
    fired again within an hour (reopened), else a new one.
    Call inside the transaction that created the alert."""
    recent = (
        Alert.objects.filter(fingerprint=alert.fingerprint, state=AlertState.RESOLVED, ticket__isnull=False)
        .filter(
            Q(ticket__status__in=ACTIVE_STATUSES)
            | Q(ticket__status=Status.RESOLVED, resolved_at__gte=timezone.now() - REOPEN_WITHIN)
        )
        .select_related("ticket")
        .order_by("-resolved_at")
        .first()
    )
    if recent is not None:
        ticket = recent.ticket
        if ticket.status == Status.RESOLVED:
            ticket = tickets.ticket_transition(ticket=ticket, actor=None, status=Status.OPEN)
        tickets.ticket_system_note(ticket=ticket, body=f"Fired again: {_describe(alert)}.")
        # A re-fire may be worse than the first episode: the levels follow it up (never down).
        return tickets.ticket_raise_levels(
            ticket=ticket,
            urgency=URGENCY_FOR[alert.severity],
            impact=_impact_for(alert),
            reason=f"alert fired again with severity {alert.severity}",
        )
    system = tickets.system_user()
    tier = min(alert.application.owner_tier if alert.application_id else 2, roles.max_tier())
    return tickets.ticket_create(
        actor=system,
        requester=system,
        title=_describe(alert)[:200],
        description=_description(alert),
        application=alert.application,
        kind=Kind.INCIDENT,
        urgency=URGENCY_FOR[alert.severity],
        impact=_impact_for(alert),
        tier=tier,
    )


def _description(alert: Alert) -> str:
    lines = [
        f"Alert **{alert.name}** fired at {alert.started_at:%Y-%m-%d %H:%M:%S} UTC with severity {alert.severity}."
    ]
    if alert.summary:
        lines.append(alert.summary)
    band = alert.snapshot.get("band") or {}
    if band.get("lower") is not None or band.get("upper") is not None:
        lines.append(f"Baseline band at fire time: {band.get('lower')} .. {band.get('upper')}.")
    if alert.labels:
        lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    return "\n\n".join(lines)


def incident_severity_changed(alert: Alert, before: str) -> None:
    """A note, and the ticket's urgency (and impact for an outage) follow the alert up."""
    if not alert.ticket_id:
        return
    tickets.ticket_system_note(
        ticket=alert.ticket_id, body=f"Severity rose from {before} to {alert.severity}: {_describe(alert)}."
    )
    tickets.ticket_raise_levels(
        ticket=alert.ticket_id,
        urgency=URGENCY_FOR[alert.severity],
        impact=Level.HIGH if alert.severity == Severity.OUTAGE else None,
        reason=f"alert severity {alert.severity}",
    )


def incident_recovered(alert: Alert) -> None:
    """Recovery is a note; the incident resolves itself unless a human worked it."""
    if not alert.ticket_id:
        return
    ticket = Ticket.objects.get(pk=alert.ticket_id)
    tickets.ticket_system_note(
        ticket=ticket, body=f"Recovered at {alert.resolved_at:%Y-%m-%d %H:%M:%S} UTC: {alert.name}."
    )
    if ticket.status in (Status.NEW, Status.OPEN, Status.PENDING) and not tickets.ticket_worked_by_human(ticket=ticket):
        tickets.ticket_transition(
            ticket=ticket, actor=None, status=Status.RESOLVED, resolution=f"Recovered automatically: {alert.name}."
        )
