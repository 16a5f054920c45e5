"""Bounces: a delivery-status report marks the message we sent as failed and the
address it could not reach as bouncing (shown to agents beside the requester)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from helpdesk.models import User
from mail import parsing
from mail.models import Direction, ThreadMessage
from notifications.delivery import notifications_mark_bounced

_REASON_MAX = User._meta.get_field("email_bounce_reason").max_length


def bounce_apply(*, bounce: parsing.Bounce, now: datetime) -> str:
    """Record a bounce; returns the reason stored on the ignored message."""
    status = bounce.status or "unknown status"
    recipients = [r.lower() for r in bounce.recipients if r]
    failed = 0
    if bounce.original_message_id:
        sent = ThreadMessage.objects.filter(
            message_id=bounce.original_message_id, direction=Direction.OUT, notification_id__isnull=False
        ).values_list("notification_id", flat=True)
        failed = notifications_mark_bounced(ids=list(sent), error=f"bounced: {status}"[:_REASON_MAX])
    if recipients:
        query = Q()
        for address in recipients:
            query |= Q(email__iexact=address)
        User.objects.filter(query).update(
            email_bouncing_since=now, email_bounce_reason=f"{status} on {now:%Y-%m-%d}"[:_REASON_MAX]
        )
    who = ", ".join(recipients) or "an unnamed recipient"
    return f"bounce ({status}) for {who}" + ("" if failed else "; no message of ours named")
