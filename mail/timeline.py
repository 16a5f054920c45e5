"""What mail adds to the ticket page's timeline (registered in MailConfig.ready through
tickets.timeline_links): a link to the original message of a comment that came by
e-mail, and of the message that opened the ticket. Agents only; one query a page."""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import reverse

from helpdesk import roles
from helpdesk.models import User
from mail.models import InboundMessage, Outcome
from tickets.models import Comment, Ticket, Via
from tickets.timeline_links import TICKET, TimelineLink


def original_message_links(
    user: User, ticket: Ticket, comments: Sequence[Comment]
) -> dict[int | None, list[TimelineLink]]:
    if not roles.is_agent(user):
        return {}
    by_mail = {c.pk for c in comments if c.via == Via.EMAIL}
    rows = (
        InboundMessage.objects.filter(ticket_id=ticket.pk, raw__isnull=False)
        .order_by("id")
        .values_list("pk", "comment_id", "outcome")
    )
    links: dict[int | None, list[TimelineLink]] = {}
    for pk, comment_id, outcome in rows:
        link = TimelineLink("original message", reverse("mail-message-original", args=[pk]), download=True)
        if outcome == Outcome.CREATED:
            links.setdefault(TICKET, []).append(link)
        elif comment_id in by_mail:
            links.setdefault(comment_id, []).append(link)
    return links
