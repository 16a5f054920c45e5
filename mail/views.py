"""Mail pages: the original message of a ticket's e-mail, for agents."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from helpdesk.errors import ServiceError
from helpdesk.pages import agent_required
from mail.models import InboundMessage
from tickets.selectors import scoped


@agent_required
def message_original(request: HttpRequest, message_id: int) -> HttpResponse:
    """The raw message a ticket or comment came from, as an ``.eml`` download; 404
    for a message that is on no ticket the agent sees, or whose bytes are gone
    (quarantined messages are the managers', on their own page)."""
    row = (
        InboundMessage.objects.filter(pk=message_id, ticket__isnull=False, raw__isnull=False)
        .only("id", "ticket_id", "raw")
        .first()
    )
    if row is None:
        raise Http404
    try:
        ticket = scoped.ticket_get_for(user=request.user, ticket_id=row.ticket_id)
    except ServiceError:
        raise Http404 from None
    response = HttpResponse(bytes(row.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="{ticket.number}-message-{row.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
