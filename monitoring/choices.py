"""The monitoring vocabulary the pure modules share with the models: alert
severities, a monitor's bad direction and the kinds of metric source. Defined once, here, because the
baseline maths and the connectors must stay importable without the app registry
(``monitoring.simulated_metrics`` runs them outside Django); ``monitoring.models``
uses these same classes for its fields."""

from __future__ import annotations

from django.db import models


class Severity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"
    OUTAGE = "outage", "Outage"


# warning < critical < outage: an alert's severity only ever goes up this order.
SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2, Severity.OUTAGE: 3}


class Direction(models.TextChoices):
    ABOVE = "above", "Above is bad"
    BELOW = "below", "Below is bad"


class SourceKind(models.TextChoices):
    RETRACE = "retrace", "Retrace-style dashboard"
    PROMETHEUS = "prometheus", "Prometheus"
    JSON = "json", "JSON endpoint"
    SIMULATOR = "simulator", "Built-in simulator"
    ALERTMANAGER = "alertmanager", "Alertmanager webhook (push)"
    PUSH = "push", "Raw samples (push)"
