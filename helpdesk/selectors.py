"""Reads that span apps. ``tickets`` never imports ``monitoring``, so what needs
both is put together here, once, for the API and the pages alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitoring.selectors import firing_alert_count
from tickets.selectors import dashboard_for


def manager_dashboard_for(*, now: datetime | None = None) -> dict[str, Any]:
    """The manager dashboard (SPEC 5, 6 ``dashboard/``): the ticket figures of
    :func:`tickets.selectors.dashboard_for` with the number of alerts firing now.
    Seven queries whatever the number of tickets and alerts."""
    return {**dashboard_for(now=now), "active_alerts": firing_alert_count()}
