"""The notification outbox: who a notify spec reaches, writing the rows, delivering them.

Rows are written in the transaction of the change that causes them, handed to
Celery after commit, and re-sent by a sweep until delivered or out of attempts.
Delivery is at-least-once towards a receiver only if a worker dies between
sending and committing; otherwise a row is sent exactly once (the row lock and
the ``sent`` status make a second delivery a no-op). Webhooks carry the row id in
``X-Helpdesk-Notification`` so receivers can drop that rare duplicate.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import logging
import re
import socket
import urllib.error
from collections.abc import Iterable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from escalation.models import Channel, DeliveryStatus, EscalationRule, Notification, WebhookEndpoint
from helpdesk import outbound
from helpdesk.db import insert_rows
from helpdesk.models import User
from helpdesk.roles import Role, max_tier
from helpdesk.tasks import enqueue
from helpdesk.text import parse_id
from tickets import events
from tickets.models import PRIORITY_LABELS, Ticket

log = logging.getLogger(__name__)

DELIVER_TASK = "escalation.deliver_notifications"
BATCH_SIZE = 100
# A digest's text and payload describe this many tickets; ``ticket_ids`` in the payload has them all.
DIGEST_LIST_MAX = 100
# Returned by notification_deliver for an id that does not exist (any more).
MISSING = "missing"

TIER_ROLES = {1: Role.L1, 2: Role.L2, 3: Role.L3}
NOTIFIABLE_ROLES = frozenset({Role.MANAGER, Role.ADMIN, Role.L1, Role.L2, Role.L3})
SPEC_KINDS = ("tier", "role", "user", "email", "webhook")
# "tier:current" is the ticket's tier when the notification is written (after an
# escalation in the same rule, the new tier's queue).
CURRENT_TIER = "current"

_PLACEHOLDER = re.compile(r"\{(number|title|priority|tier|url)\}")
_SUBJECT_MAX = Notification._meta.get_field("subject").max_length
_TARGET_MAX = Notification._meta.get_field("target").max_length
_ERROR_MAX = 2000
_BACKOFF_FIRST_SECONDS = 30
_BACKOFF_MAX_SECONDS = 3600
NOTIFICATION_FIELDS = ("channel", "target", "subject", "body", "payload", "ticket_id", "rule_id", "next_attempt_at")


# --- recipients ------------------------------------------------------------------------------


def _split(spec: Any) -> tuple[str, str]:
    if not isinstance(spec, str) or ":" not in spec:
        return "", ""
    kind, _, value = spec.strip().partition(":")
    return kind.strip().lower(), value.strip()


def validate_notify_spec(spec: str, *, check_outbound: bool = True) -> str | None:
    """None when ``spec`` is a valid notify spec, else a message for a 400.
    ``check_outbound=False`` skips resolving a webhook's host (the outbound policy
    is checked again when it is sent)."""
    kind, value = _split(spec)
    if kind not in SPEC_KINDS:
        return f"unknown notify target {spec!r}: use tier:N, role:NAME, user:ID, email:ADDRESS or webhook:URL"
    if kind == "tier":
        if value == CURRENT_TIER:
            return None
        tier = parse_id(value)
        if tier is None or tier > max_tier():
            return f"tier must be 1-{max_tier()} or {CURRENT_TIER!r}, not {value!r}"
        return None
    if kind == "role":
        if value not in NOTIFIABLE_ROLES:
            return f"role must be one of {', '.join(sorted(NOTIFIABLE_ROLES))}, not {value!r}"
        return None
    if kind == "user":
        user_id = parse_id(value)
        if user_id is None:
            return f"user must be a user id, not {value!r}"
        if not User.objects.filter(pk=user_id, is_active=True).exists():
            return f"no active user with id {value}"
        return None
    if kind == "email":
        try:
            validate_email(value)
        except ValidationError:
            return f"not an e-mail address: {value!r}"
        if len(value) > _TARGET_MAX:
            return f"e-mail address longer than {_TARGET_MAX} characters"
        return None
    return _webhook_url_problem(value, check_outbound=check_outbound) or _webhook_unregistered(value)


def _webhook_url_problem(url: str, *, check_outbound: bool = True) -> str | None:
    if len(url) > _TARGET_MAX:
        return f"webhook URL longer than {_TARGET_MAX} characters"
    try:
        outbound.parse_url(url)
    except outbound.InvalidURL as exc:
        return f"webhook URL: {exc}"
    if check_outbound and (problem := outbound.url_problem(url)):
        return f"webhook URL: {problem}"
    return None


def _webhook_unregistered(url: str) -> str | None:
    # Deliveries are signed with the endpoint's own secret: a URL nobody registered has none.
    if WebhookEndpoint.objects.filter(url=url).exists():
        return None
    return (
        f"webhook URL {url!r} is not registered: register it first as a webhook endpoint "
        "(POST /api/v1/webhooks/, or Webhook endpoints in the admin), which gives it its signing secret"
    )


def _emails(users) -> list[tuple[str, str]]:
    addresses = users.filter(is_active=True).exclude(email="").order_by("id").values_list("email", flat=True)
    return [(Channel.EMAIL.value, address) for address in addresses]


def recipients_for(spec: str, *, ticket: Ticket | None) -> list[tuple[str, str]]:
    """(channel, target) pairs for one notify spec.

    ``tier:N`` e-mails every active agent whose role is that tier's agent role
    (1 -> l1, 2 -> l2, 3 -> l3); ``tier:current`` uses the ticket's tier;
    ``role:NAME`` (manager, admin, l1, l2, l3) its active users; ``user:ID`` that
    active user; ``email:ADDRESS`` itself; ``webhook:URL`` itself when the URL
    is a registered webhook endpoint's.
    Users without an e-mail address are skipped; an invalid spec gives [].
    """
    # Validated when the rule was saved; no DNS lookup while a rule fires.
    if validate_notify_spec(spec, check_outbound=False) is not None:
        return []
    kind, value = _split(spec)
    if kind == "tier":
        tier = (ticket.tier if ticket is not None else None) if value == CURRENT_TIER else int(value)
        role = TIER_ROLES.get(tier)
        return _emails(User.objects.filter(role=role)) if role else []
    if kind == "role":
        return _emails(User.objects.filter(role=value))
    if kind == "user":
        return _emails(User.objects.filter(pk=int(value)))
    if kind == "email":
        return [(Channel.EMAIL.value, value)]
    return [(Channel.WEBHOOK.value, value)]


# --- writing the outbox ------------------------------------------------------------------------


def ticket_url(ticket: Ticket) -> str:
    return f"{settings.HELPDESK_BASE_URL.rstrip('/')}/tickets/{ticket.pk}/"


def _ticket_snapshot(ticket: Ticket | None) -> dict[str, Any]:
    if ticket is None:
        return {}
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "title": ticket.title,
        "status": ticket.status,
        "tier": ticket.tier,
        "priority": ticket.priority,
        "url": ticket_url(ticket),
    }


def _fill(template: str, snapshot: dict[str, Any]) -> str:
    """Replace only the known placeholders: other braces (in a rule name, say) stay as they are."""
    values = {
        "number": snapshot.get("number", ""),
        "title": snapshot.get("title", ""),
        "priority": f"P{snapshot['priority']}" if "priority" in snapshot else "",
        "tier": str(snapshot.get("tier", "")),
        "url": snapshot.get("url", ""),
    }
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())  # a header: no newlines
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _dedup_key(channel: str, target: str) -> tuple[str, str]:
    return (channel, target.lower() if channel == Channel.EMAIL else target)


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]


def _enqueue_delivery(ids: list[int]) -> bool:
    # No in-process fallback: the rows are committed, the sweep sends them later.
    return enqueue(DELIVER_TASK, fallback=False, notification_ids=ids)


def notifications_enqueue_on_commit(ids: list[int]) -> None:
    """Hand ``ids`` to the workers once the current transaction commits, in batches."""
    for batch in _batches(ids):
        transaction.on_commit(partial(_enqueue_delivery, batch), robust=True)


def notifications_create(
    *,
    specs: list[str],
    tickets: list[Ticket | None],
    subject: str,
    body: str,
    payload: dict[str, Any],
    rule: EscalationRule | None = None,
    digest_after: int | None = None,
    digest_subject: str = "{count} tickets",
    digest_body: str = "",
) -> list[int]:
    """Write one pending Notification per (ticket, recipient), deduplicated per ticket.

    Call it inside the transaction of the change that causes it: the rows are
    rolled back with it, and delivery is enqueued only after commit (never run
    inline; if the broker is down the rows wait for the sweep). ``subject`` and
    ``body`` may hold {number} {title} {priority} {tier} {url}, filled per ticket.
    Each row's payload is the ticket's id/number/title/status/tier/priority/url
    with ``payload`` merged over it.

    With ``digest_after`` set, a recipient that more than that many of the tickets
    reach gets one digest instead (``digest_subject``/``digest_body`` with {count},
    the tickets listed in the body and as ``tickets`` in the payload, no ticket of
    its own): a rule firing on a thousand tickets sends a manager one message, not
    a thousand. The payload has ``count``, every ``ticket_ids`` and the first
    DIGEST_LIST_MAX ``tickets``. Returns the new ids.
    """
    extra = json.loads(json.dumps(payload or {}, cls=DjangoJSONEncoder))
    # One query per distinct spec, however many tickets (tier:current becomes tier:N first).
    resolved: dict[str, list[tuple[str, str]]] = {}
    # recipient key -> (channel, target, [(ticket, snapshot)]), in first-seen order.
    reached: dict[tuple[str, str], tuple[str, str, list[tuple[Ticket | None, dict[str, Any]]]]] = {}
    for ticket in tickets:
        snapshot = _ticket_snapshot(ticket)
        seen: set[tuple[str, str]] = set()
        for spec in specs:
            if _split(spec) == ("tier", CURRENT_TIER):
                spec = f"tier:{ticket.tier}" if ticket is not None else ""
            if spec not in resolved:
                resolved[spec] = recipients_for(spec, ticket=ticket)
            for channel, target in resolved[spec]:
                key = _dedup_key(channel, target)
                if key in seen:
                    continue
                seen.add(key)
                reached.setdefault(key, (channel, target, []))[2].append((ticket, snapshot))
    rule_id = rule.pk if rule is not None else None
    now = timezone.now()
    rows: list[tuple] = []
    filled: dict[int, tuple[str, str]] = {}  # per ticket, not per recipient
    for channel, target, items in reached.values():
        if digest_after is not None and len(items) > digest_after:
            snapshots = [snapshot for _, snapshot in items]
            rows.append(
                (
                    channel,
                    target,
                    _one_line(digest_subject.replace("{count}", str(len(items))), _SUBJECT_MAX),
                    _digest_text(digest_body.replace("{count}", str(len(items))), snapshots),
                    {
                        **extra,
                        "count": len(items),
                        "ticket_ids": [snapshot["id"] for snapshot in snapshots if snapshot],
                        "tickets": snapshots[:DIGEST_LIST_MAX],
                    },
                    None,
                    rule_id,
                    now,
                )
            )
            continue
        for ticket, snapshot in items:
            key = id(snapshot)
            if key not in filled:
                filled[key] = (_one_line(_fill(subject, snapshot), _SUBJECT_MAX), _fill(body, snapshot))
            ticket_subject, ticket_body = filled[key]
            ticket_id = ticket.pk if ticket is not None else None
            rows.append((channel, target, ticket_subject, ticket_body, {**snapshot, **extra}, ticket_id, rule_id, now))
    # Plain rows, no model instances: a tick writes tens of thousands.
    ids = insert_rows(Notification, NOTIFICATION_FIELDS, rows, returning=True, batch_size=5000)
    notifications_enqueue_on_commit(ids)
    return ids


def _digest_text(intro: str, snapshots: list[dict[str, Any]]) -> str:
    """The intro, then a line per ticket (the first DIGEST_LIST_MAX; the payload has them all)."""
    lines = [intro, ""] if intro else []
    for snapshot in snapshots[:DIGEST_LIST_MAX]:
        if not snapshot:  # a notification about no ticket
            continue
        lines.append(f"- {snapshot['number']} P{snapshot['priority']} tier {snapshot['tier']}: {snapshot['title']}")
        lines.append(f"  {snapshot['url']}")
    if len(snapshots) > DIGEST_LIST_MAX:
        lines.append(f"... and {len(snapshots) - DIGEST_LIST_MAX} more.")
    return "\n".join(lines) + "\n"


# --- delivering --------------------------------------------------------------------------------


class WebhookNotRegistered(Exception):
    """The notification's URL has no webhook endpoint (any more): nothing to sign with."""


def webhook_signature(body: bytes, secret: str) -> str:
    """One signature: ``sha256=`` and the hex HMAC-SHA256 of the exact body bytes under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_signature_header(endpoint: WebhookEndpoint, body: bytes, *, now: datetime.datetime) -> str:
    """The X-Helpdesk-Signature value: the signature under the endpoint's secret,
    then, during a rotation's grace period, ``,`` and the one under the previous
    secret, so a receiver still holding the old secret keeps accepting."""
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        keys.append(endpoint.previous_secret)
    return ",".join(webhook_signature(body, key) for key in keys)


def webhook_body(notification: Notification) -> bytes:
    data = {"subject": notification.subject, "text": notification.body, **notification.payload}
    return json.dumps(data, separators=(",", ":"), sort_keys=True, cls=DjangoJSONEncoder).encode()


def _send_webhook(notification: Notification) -> None:
    body = webhook_body(notification)
    # The outbox stores the URL; the endpoint registered for it holds the secret.
    endpoint = WebhookEndpoint.objects.filter(url=notification.target).first()
    if endpoint is None:
        raise WebhookNotRegistered("no webhook endpoint is registered for this URL")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "helpdesk-notifier/1",
        "X-Helpdesk-Signature": webhook_signature_header(endpoint, body, now=timezone.now()),
        "X-Helpdesk-Notification": str(notification.pk),
    }
    # The outbound policy (docs/RELIABILITY.md "Outbound requests") at connect time; no redirect is followed
    # (urllib would turn the POST into a bodiless GET), a 3xx is a failure.
    timeout = settings.HELPDESK_WEBHOOK_TIMEOUT_SECONDS
    with outbound.request("POST", notification.target, headers=headers, body=body, timeout=timeout) as response:
        response.read(65536)
        status = response.status
    if not 200 <= status < 300:
        # The standard phrase, not the receiver's own text: last_error reaches agents.
        raise urllib.error.HTTPError(notification.target, status, outbound.status_phrase(status), None, None)  # type: ignore[arg-type]


def _send_email(notification: Notification) -> None:
    data = notification.payload or {}
    context = {
        **data,
        "subject": notification.subject,
        "body": notification.body,
        "priority_label": PRIORITY_LABELS.get(data.get("priority"), ""),
    }
    text = render_to_string("notifications/email.txt", context)
    send_mail(notification.subject, text, settings.DEFAULT_FROM_EMAIL, [notification.target], fail_silently=False)


def _describe(exc: BaseException) -> str:
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

        send = _send_webhook if notification.channel == Channel.WEBHOOK else _send_email
        try:
            send(notification)
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
                ticket_ids = [notification.ticket_id] if notification.ticket_id else _digest_ticket_ids(notification)
                events.notification_failed_bulk(ticket_ids, data)
            else:
                notification.next_attempt_at = now + retry_delay(notification.attempts)
                log.info("notification %s attempt %s failed: %s", notification.pk, notification.attempts, error)
        notification.save(update_fields=["status", "sent_at", "attempts", "last_error", "next_attempt_at"])
        return notification.status


def _digest_ticket_ids(notification: Notification) -> list[int]:
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
    return sum(len(batch) for batch in _batches(ids) if _enqueue_delivery(batch))


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
