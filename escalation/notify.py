"""What escalation rules notify: notify specs, who they reach, the rows they write.

A rule's ``notify`` is a list of specs (``tier:N``, ``tier:current``, ``role:NAME``,
``user:ID``, ``email:ADDRESS``, ``webhook:URL``). ``notifications_create`` turns
them into outbox rows for a batch of tickets (placeholders filled per ticket,
digests for a recipient reached by many) and writes them through
``notifications.outbox``, which delivers them after commit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.utils import timezone

from escalation.models import EscalationRule, WebhookEndpoint
from helpdesk import outbound
from helpdesk.models import User
from helpdesk.roles import Role, max_tier
from helpdesk.text import parse_id
from notifications.models import Channel
from notifications.outbox import TARGET_MAX, OutboxRow, notifications_insert, one_line
from tickets.models import Ticket

# A digest's text and payload describe this many tickets; ``ticket_ids`` in the payload has them all.
DIGEST_LIST_MAX = 100

TIER_ROLES = {1: Role.L1, 2: Role.L2, 3: Role.L3}
NOTIFIABLE_ROLES = frozenset({Role.MANAGER, Role.ADMIN, Role.L1, Role.L2, Role.L3})
SPEC_KINDS = ("tier", "role", "user", "email", "webhook")
# "tier:current" is the ticket's tier when the notification is written (after an
# escalation in the same rule, the new tier's queue).
CURRENT_TIER = "current"

_PLACEHOLDER = re.compile(r"\{(number|title|priority|tier|url)\}")


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
        if len(value) > TARGET_MAX:
            return f"e-mail address longer than {TARGET_MAX} characters"
        return None
    return _webhook_url_problem(value, check_outbound=check_outbound) or _webhook_unregistered(value)


def _webhook_url_problem(url: str, *, check_outbound: bool = True) -> str | None:
    if len(url) > TARGET_MAX:
        return f"webhook URL longer than {TARGET_MAX} characters"
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


# --- writing the rows ------------------------------------------------------------------------


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


def _dedup_key(channel: str, target: str) -> tuple[str, str]:
    return (channel, target.lower() if channel == Channel.EMAIL else target)


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
    rows: list[OutboxRow] = []
    filled: dict[int, tuple[str, str]] = {}  # per ticket, not per recipient
    for channel, target, items in reached.values():
        if digest_after is not None and len(items) > digest_after:
            snapshots = [snapshot for _, snapshot in items]
            rows.append(
                OutboxRow(
                    channel,
                    target,
                    one_line(digest_subject.replace("{count}", str(len(items)))),
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
                filled[key] = (one_line(_fill(subject, snapshot)), _fill(body, snapshot))
            ticket_subject, ticket_body = filled[key]
            ticket_id = ticket.pk if ticket is not None else None
            rows.append(
                OutboxRow(channel, target, ticket_subject, ticket_body, {**snapshot, **extra}, ticket_id, rule_id, now)
            )
    # Plain rows, no model instances: a tick writes tens of thousands.
    return notifications_insert(rows=rows)


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
