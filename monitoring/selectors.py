"""Monitoring reads for the API and pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from monitoring.models import Alert, Application, Monitor, Sample
from monitoring.services.health import app_scores
from tickets.selectors import open_incidents_for


def sample_list(
    *, monitor: Monitor, since: datetime | None = None, until: datetime | None = None, newest_first: bool = False
) -> QuerySet[Sample]:
    """A monitor's samples in [since, until), ordered by time (uses the
    (monitor, at) unique index)."""
    samples = Sample.objects.filter(monitor=monitor)
    if since is not None:
        samples = samples.filter(at__gte=since)
    if until is not None:
        samples = samples.filter(at__lt=until)
    return samples.order_by("-at" if newest_first else "at")


def application_health(application: Application) -> dict[str, Any]:
    """App Score plus what is wrong right now: firing alerts and open incidents."""
    score = app_scores([application.pk])[application.pk]
    firing = Alert.objects.filter(application=application, state="firing").order_by("-started_at")[:20]
    incidents = open_incidents_for(application_id=application.pk)[:20]
    return {
        "application": application.pk,
        **score.as_dict(),
        "firing_alerts": [
            {"id": a.pk, "name": a.name, "severity": a.severity, "started_at": a.started_at, "ticket": a.ticket_id}
            for a in firing
        ],
        "open_incidents": [
            {"id": t.pk, "number": t.number, "title": t.title, "priority": t.priority, "linked_count": t.linked_count}
            for t in incidents
        ],
    }
