"""Delivering the outbox: one row at a time, retried with backoff, swept when due.

Delivery is at-least-once towards a receiver only if a worker dies between
sending and committing; otherwise a row is sent exactly once (the row lock and
the ``sent`` status make a second delivery a no-op). Webhooks carry the row id in
``X-Helpdesk-Notification`` so receivers can drop that rare duplicate. Each
channel's sender comes from ``notifications.channels``.
"""

from __future__ import annotations

import datetime
import http.client
import logging
import socket
import urllib.error
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk import outbound
from notifications import channels
from notifications.models import Channel, DeliveryStatus, Notification
from notifications.outbox import batches, enqueue_delivery, notifications_enqueue_on_commit
from tickets import events
from tickets.models import Ticket

log = logging.getLogger(__name__)

# Returned by notification_deliver for an id that does not exist (any more).
MISSING = "missing"
_ERROR_MAX = 2000
_BACKOFF_FIRST_SECONDS = 30
_BACKOFF_MAX_SECONDS = 3600


def _describe(exc: BaseException) -> str:
    """A failure in a few words for ``last_error`` and the audit trail: never the
    receiver's own text, which agents would read."""
    timeout = settings.HELPDESK_WEBHOOK_TIMEOUT_SECONDS
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout} s"
    if isinstance(exc, outbound.OutboundRefused):
        return f"refused by the outbound policy: {exc.reason}"
    if isinstance(exc, http.client.HTTPException):
        return f"{type(exc).__name__}"  # its text may quote what the receiver sent
    if isinstance(exc, ConnectionRefusedError | socket.gaierror):
        return f"connection failed: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"  # OSError, SMTP errors, ...


def redacted_target(channel: str, target: str) -> str:
    """A webhook URL without path, query and credentials (they often hold a token),
    for the audit trail every agent reads."""
    if channel != Channel.WEBHOOK:
        return target
    parts = urlsplit(target)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    rest = "/\u2026" if parts.path.strip("/") or parts.query else "/"
    return f"{parts.scheme}://{host}{port}{rest}"


def retry_delay(attempts: int) -> datetime.timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 1 min, 2 min, ... capped at an hour."""
    return datetime.timedelta(seconds=min(_BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), _BACKOFF_MAX_SECONDS))


def notification_deliver(*, notification_id: int) -> str:
    """Send one notification and return its resulting status.

    Locks the row (``select_for_update(skip_locked=True)``) for the whole send, so
    a row another worker is sending, or one already sent or failed, is a no-op;
    a retry (attempts > 0) that is not due yet is a no-op too, so duplicate
    messages cannot burn attempts faster than the backoff. On failure: attempts+1,
    last_error, next_attempt_at = now + backoff; after HELPDESK_NOTIFY_MAX_ATTEMPTS
    the row is failed and its ticket gets a notification_failed event. Returns
    "missing" for an id that does not exist.
    """
    with transaction.atomic():
        notification = Notification.objects.select_for_update(skip_locked=True).filter(pk=notification_id).first()
        if notification is None:
            # Being sent by another worker (it is locked), or gone.
            status = Notification.objects.filter(pk=notification_id).values_list("status", flat=True).first()
            return status or MISSING
        if notification.status != DeliveryStatus.PENDING:
            return notification.status
        if notification.attempts and notification.next_attempt_at > timezone.now():
            return notification.status

        try:
            channels.sender_for(notification.channel)(notification)
        except Exception as exc:  # any failure to hand over counts as one failed attempt
            error = _describe(exc)[:_ERROR_MAX]
        else:
            error = None

        notification.attempts += 1
        now = timezone.now()
        if error is None:
            notification.status = DeliveryStatus.SENT
            notification.sent_at = now
            notification.last_error = ""
        else:
            notification.last_error = error
            if notification.attempts >= settings.HELPDESK_NOTIFY_MAX_ATTEMPTS:
                notification.status = DeliveryStatus.FAILED
                log.warning("notification %s failed for good: %s", notification.pk, error)
                data = {
                    "notification": notification.pk,
                    "channel": notification.channel,
                    "target": redacted_target(notification.channel, notification.target),
                    "attempts": notification.attempts,
                    "error": error,
                }
                # A digest has no ticket of its own: each ticket it listed gets the event.
                ticket_ids = [notification.ticket_id] if notification.ticket_id else _listed_ticket_ids(notification)
                events.notification_failed_bulk(ticket_ids, data)
            else:
                notification.next_attempt_at = now + retry_delay(notification.attempts)
                log.info("notification %s attempt %s failed: %s", notification.pk, notification.attempts, error)
        notification.save(update_fields=["status", "sent_at", "attempts", "last_error", "next_attempt_at"])
        return notification.status


def notifications_mark_bounced(*, ids: Iterable[int], error: str) -> int:
    """A receiving server reported after the hand-over that a message could not be
    delivered (a bounce): the rows become failed with ``error``, and each one's ticket
    gets a notification_failed event, once (a second report changes nothing).
    Returns how many rows were marked."""
    error = error[:_ERROR_MAX]
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update()
            .filter(pk__in=list(ids))
            .exclude(status=DeliveryStatus.FAILED, last_error__startswith="bounced")
        )
        for row in rows:
            row.status, row.last_error = DeliveryStatus.FAILED, error
            data = {
                "notification": row.pk,
                "channel": row.channel,
                "target": redacted_target(row.channel, row.target),
                "attempts": row.attempts,
                "error": error,
            }
            if row.ticket_id:
                events.notification_failed_bulk([row.ticket_id], data)
        Notification.objects.bulk_update(rows, ["status", "last_error"])
    return len(rows)


def _listed_ticket_ids(notification: Notification) -> list[int]:
    """The existing tickets a row without a ticket of its own lists in ``payload["ticket_ids"]`` (a digest)."""
    listed = (notification.payload or {}).get("ticket_ids") or []
    ids = [pk for pk in listed if isinstance(pk, int)]
    return sorted(Ticket.objects.filter(pk__in=ids).values_list("pk", flat=True))


def notifications_resend_due(*, now: datetime.datetime | None = None, limit: int = 1000) -> int:
    """The sweep: enqueue pending notifications whose next_attempt_at <= now, in
    batches, oldest due first. Returns how many were handed to the broker."""
    now = now or timezone.now()
    ids = list(
        Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(len(batch) for batch in batches(ids) if enqueue_delivery(batch))


def notifications_retry(*, ids: Iterable[int]) -> int:
    """Give failed notifications a fresh set of attempts, due now, and enqueue them
    after commit. Returns how many were reset."""
    with transaction.atomic():
        reset = list(
            Notification.objects.select_for_update()
            .filter(pk__in=list(ids), status=DeliveryStatus.FAILED)
            .values_list("id", flat=True)
        )
        Notification.objects.filter(pk__in=reset).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        notifications_enqueue_on_commit(reset)
    return len(reset)
