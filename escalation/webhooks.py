"""Webhook endpoints: registering a receiver, its signing secret, rotating it.

Rules notify a registered endpoint as ``webhook:URL``; every delivery to it is
signed with the endpoint's own secret (``escalation.webhook_sender.webhook_signature_header``),
so a receiver is given that secret and nothing else. A secret is returned only by
``webhook_endpoint_create`` and ``webhook_secret_rotate``; see docs/WEBHOOKS.md.
Who may manage endpoints is decided where the request enters (managers: the API's
``IsManager``, the admin's permissions), so these services take no ``actor``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from escalation.models import EscalationRule, WebhookEndpoint, new_webhook_secret
from escalation.notify import _split, _webhook_url_problem
from helpdesk.errors import Conflict, InvalidInput, field_error
from helpdesk.versioning import lock_row, versioned_update

ENDPOINT_FIELDS = ("name", "url")
# The longest a rotated-out secret may keep signing (a week, as Stripe allows).
MAX_GRACE_HOURS = 168


def _name(value: Any) -> str:
    name = str(value or "").strip()
    if not name:
        raise field_error("name", "This field may not be blank.")
    return name


def _url(value: Any) -> str:
    url = str(value or "").strip()
    if not url:
        raise field_error("url", "This field may not be blank.")
    if problem := _webhook_url_problem(url):
        raise field_error("url", problem)
    return url


def webhook_endpoint_create(*, name: str, url: str) -> WebhookEndpoint:
    """Register a receiver with a fresh secret. The returned object's ``secret``
    is for the caller to show this once; nothing reads it back later."""
    values = {"name": _name(name), "url": _url(url)}
    if WebhookEndpoint.objects.filter(url=values["url"]).exists():
        raise field_error("url", "A webhook endpoint with this URL is already registered.")
    try:
        with transaction.atomic():
            return WebhookEndpoint.objects.create(**values, secret=new_webhook_secret())
    except IntegrityError:  # registered by someone else in the meantime
        raise field_error("url", "A webhook endpoint with this URL is already registered.") from None


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, changes: dict[str, Any], expected_version: int | None = None
) -> WebhookEndpoint:
    """Rename an endpoint (one edit; 412 when ``expected_version`` is not current).
    The URL is fixed: rules and queued notifications find the endpoint by it."""
    unknown = set(changes) - set(ENDPOINT_FIELDS)
    if unknown:
        raise InvalidInput({field: ["Unknown field."] for field in sorted(unknown)})

    def prepare(locked: WebhookEndpoint, changes: dict[str, Any]) -> dict[str, Any]:
        if "url" in changes and str(changes["url"] or "").strip() != locked.url:
            raise field_error(
                "url",
                "The URL of a webhook endpoint cannot change: register a new endpoint, "
                "point the rules at it, then delete this one.",
            )
        return {"name": _name(changes["name"])} if "name" in changes else {}

    return versioned_update(instance=endpoint, changes=changes, expected_version=expected_version, prepare=prepare)


def webhook_endpoint_rules(*, url: str) -> list[EscalationRule]:
    """The rules whose ``notify`` names ``url``. Read in Python: rules are few, and
    SQLite has no JSON containment lookup."""
    rules = EscalationRule.objects.only("id", "name", "notify").order_by("id")
    return [rule for rule in rules if any(_split(spec) == ("webhook", url) for spec in rule.notify or [])]


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Unregister an endpoint; 409 while a rule notifies it. Notifications already
    queued for it then fail (nothing to sign them with) unless it is registered again."""
    with transaction.atomic():
        endpoint = lock_row(endpoint)
        rules = webhook_endpoint_rules(url=endpoint.url)
        if rules:
            names = ", ".join(f"{rule.name!r} (id {rule.pk})" for rule in rules[:5])
            more = f" and {len(rules) - 5} more" if len(rules) > 5 else ""
            raise Conflict(f"Escalation rules notify this webhook: {names}{more}. Remove it from their notify first.")
        endpoint.delete()


def webhook_secret_rotate(
    *, endpoint: WebhookEndpoint, grace_hours: int = 0, now: datetime.datetime | None = None
) -> WebhookEndpoint:
    """A new secret for the endpoint, returned on the object for the caller to show once.

    With ``grace_hours`` 0 the old secret stops signing at once (the choice after a
    leak); otherwise deliveries carry a second signature under the old secret until
    then, so the receiver can be switched over without losing a message. A grace
    period still running is replaced, not extended: at most two secrets sign."""
    if not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise field_error("grace_hours", f"Between 0 and {MAX_GRACE_HOURS} hours.")
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = lock_row(endpoint)
        endpoint.previous_secret = endpoint.secret if grace_hours else ""
        endpoint.previous_secret_expires_at = now + datetime.timedelta(hours=grace_hours) if grace_hours else None
        endpoint.secret = new_webhook_secret()
        endpoint.secret_rotated_at = now
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "secret_rotated_at"])
    return endpoint
