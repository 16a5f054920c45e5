"""System checks of our own settings (run by `manage.py check`; deploy ones by `check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@register(Tags.caches, deploy=True)
def cache_shared_by_processes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Throttle counters in each process's memory multiply every limit by the number of
    web processes (with 2 gunicorn workers the "21st attempt" was the 28th)."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        Warning(
            f"The default cache ({backend}) is private to each process: API throttles are not shared "
            "by the web processes.",
            hint="Unset CACHE_URL (the database cache) or set CACHE_URL=redis://...",
            id="helpdesk.W001",
        )
    ]
