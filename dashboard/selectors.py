"""The manager dashboard's reads. ``tickets`` never imports ``monitoring``, so the
figures that need both are put together here, on the top floor, once for the API
and the page alike."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from monitoring.selectors import firing_alert_count
from tickets.selectors.dashboard import dashboard_for

log = logging.getLogger(__name__)
DASHBOARD_CACHE_KEY = "helpdesk:dashboard:v1"


def manager_dashboard_for(*, now: datetime | None = None) -> dict[str, Any]:
    """The manager dashboard (docs/PRODUCT.md "Screens", docs/API.md "Configuration endpoints" ``dashboard/``): the ticket figures of
    :func:`tickets.selectors.dashboard.dashboard_for` with the number of alerts firing now.
    Seven queries whatever the number of tickets and alerts.

    Those aggregates read every active ticket and a week of created and resolved
    ones (about 100 ms of SQL at a million tickets), and every manager's page asks
    for them every HELPDESK_DASHBOARD_REFRESH_SECONDS: they are computed at most
    once per HELPDESK_DASHBOARD_CACHE_SECONDS and shared through the cache
    (``generated_at`` says when). A cache that fails is skipped, never an error."""
    ttl = settings.HELPDESK_DASHBOARD_CACHE_SECONDS
    if now is not None or ttl <= 0:
        return _dashboard(now)
    try:
        cached = cache.get(DASHBOARD_CACHE_KEY)
    except Exception:  # noqa: BLE001 -- a cache outage costs speed, not the page
        log.warning("dashboard cache unavailable; computing", exc_info=True)
        return _dashboard(None)
    if cached is not None:
        return cached
    data = _dashboard(None)
    try:
        cache.set(DASHBOARD_CACHE_KEY, data, ttl)
    except Exception:  # noqa: BLE001
        log.warning("dashboard cache unavailable; not stored", exc_info=True)
    return data


def _dashboard(now: datetime | None) -> dict[str, Any]:
    return {**dashboard_for(now=now), "active_alerts": firing_alert_count()}
