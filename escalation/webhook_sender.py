"""The webhook channel's sender: a signed POST to a registered endpoint.

Registered for ``Channel.WEBHOOK`` in EscalationConfig.ready(): the outbox
(``notifications``, a floor below) delivers the rows and calls it, escalation
holds the endpoints and their secrets. Every delivery is signed with the
endpoint's own secret (see docs/WEBHOOKS.md) and carries the row id in
``X-Helpdesk-Notification`` so a receiver can drop the rare duplicate.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import urllib.error

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from escalation.models import WebhookEndpoint
from helpdesk import outbound
from notifications.models import Notification


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


def send_webhook(notification: Notification) -> None:
    """POST the row to its endpoint; raises on anything but a 2xx (one failed attempt)."""
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
