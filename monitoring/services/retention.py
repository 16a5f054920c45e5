"""Sample retention (HELPDESK_SAMPLE_RETENTION_DAYS), purged in batches."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from monitoring.models import Sample


def samples_purge(*, now: datetime | None = None, batch_size: int = 10_000) -> int:
    """Delete old samples a batch at a time, so no transaction holds a huge lock."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.HELPDESK_SAMPLE_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(Sample.objects.filter(at__lt=cutoff).order_by("at").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += Sample.objects.filter(pk__in=ids).delete()[0]
