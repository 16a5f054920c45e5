"""A ticket's CCs: the addresses that hear its public conversation by e-mail.

One path: ``ticket_cc_set`` (the pages), and ``ticket_update`` with ``cc`` (the
API's PATCH) through the same two steps: ``cc_addresses_clean`` before any lock,
``cc_apply_locked`` on the locked ticket. Addresses are stored lower-case, once
per ticket (constraint ``ticket_cc_once``), at most ``CC_MAX``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from helpdesk.errors import Conflict, InvalidInput, field_error
from helpdesk.models import User
from helpdesk.text import text_problem
from tickets import events
from tickets.models import Status, Ticket, TicketCc
from tickets.services.base import check_version, lock_ticket, require_worker, save_ticket

CC_MAX = 20
_EMAIL_MAX = TicketCc._meta.get_field("email").max_length


def cc_addresses_clean(addresses: Any) -> list[str]:
    """The addresses trimmed, lower-case, each once, in the order given; a 400
    naming ``cc`` for anything that is not a list of valid addresses (NUL and
    lone surrogates included, helpdesk.text) or for more than ``CC_MAX``."""
    if isinstance(addresses, str) or not isinstance(addresses, Iterable):
        raise field_error("cc", "Give a list of e-mail addresses.")
    cleaned: list[str] = []
    for raw in addresses:
        if not isinstance(raw, str):
            raise field_error("cc", "Give a list of e-mail addresses.")
        if problem := text_problem(raw):
            raise field_error("cc", problem)
        address = raw.strip().lower()
        try:
            if len(address) > _EMAIL_MAX:
                raise ValidationError("too long")
            validate_email(address)
        except ValidationError:
            # The address is echoed escaped by every renderer (JSON, templates); cut to keep the answer short.
            raise field_error("cc", f"Not a valid e-mail address: {address[:100]!r}.") from None
        if address not in cleaned:
            cleaned.append(address)
    if len(cleaned) > CC_MAX:
        raise field_error("cc", f"At most {CC_MAX} CC addresses.")
    return cleaned


def cc_list(ticket: Ticket) -> list[str]:
    """The ticket's CC addresses, oldest first (uses a prefetched ``ccs`` when there is one)."""
    return [cc.email for cc in ticket.ccs.all()]


def cc_apply_locked(ticket: Ticket, actor: User | None, addresses: list[str]) -> bool:
    """Make the locked ticket's CCs exactly ``addresses`` (already cleaned): add and
    remove the difference and record one ``cc_changed`` event. Returns whether
    anything changed; the caller saves the ticket (one version bump for its edit)."""
    before = list(TicketCc.objects.filter(ticket_id=ticket.pk).order_by("id").values_list("email", flat=True))
    added = [a for a in addresses if a not in before]
    removed = [a for a in before if a not in addresses]
    if not added and not removed:
        return False
    if removed:
        TicketCc.objects.filter(ticket_id=ticket.pk, email__in=removed).delete()
    if added:
        TicketCc.objects.bulk_create([TicketCc(ticket_id=ticket.pk, email=a) for a in added])
    events.cc_changed(ticket, actor, before=before, after=[a for a in before if a not in removed] + added)
    return True


def ticket_cc_set(*, ticket: Ticket | int, actor: User, addresses: Any, expected_version: int | None = None) -> Ticket:
    """Set the ticket's CCs to ``addresses`` (the whole list). Agents who may work
    the ticket's tier do; customers never (the requester reads the list). A closed
    ticket keeps its CCs (409). No difference: no write, no event, no new version."""
    cleaned = cc_addresses_clean(addresses)
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        require_worker(actor, ticket)
        check_version(ticket, expected_version)
        if ticket.status == Status.CLOSED:
            raise Conflict("A closed ticket cannot be changed.")
        if cc_apply_locked(ticket, actor, cleaned):
            save_ticket(ticket)
    return ticket


def ticket_ccs_add_from_message(*, ticket: Ticket | int, actor: User, addresses: Iterable[str]) -> list[str]:
    """Add the addresses a customer's message was copied to (the mail channel,
    opening a ticket): each address on its own, one the rules refuse is left out
    rather than refusing the message, up to ``CC_MAX`` in all; one ``cc_changed``
    event by ``actor`` (the sender). Returns the addresses added."""
    wanted: list[str] = []
    for address in addresses:
        try:
            wanted += [a for a in cc_addresses_clean([address]) if a not in wanted]
        except InvalidInput:
            continue
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        before = cc_list(ticket)
        after = (before + [a for a in wanted if a not in before])[:CC_MAX]
        if cc_apply_locked(ticket, actor, after):
            save_ticket(ticket)
    return [a for a in after if a not in before]

