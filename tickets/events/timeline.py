"""Timeline sentences of the audit trail: the registry each kind's ``@sentence``
(in tickets.events, beside the kind's constructors) fills, ``Names`` (the people
and tickets a page of events names, loaded once per page) and ``timeline_text``.
Read-side only: nothing here writes an event."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.html import format_html

from helpdesk.models import User
from helpdesk.templatetags.helpdesk_tags import display_name
from tickets.models import Ticket, TicketEvent


@dataclass
class Names:
    """The people and tickets a page of events names, loaded in one query each."""

    users: dict[int, User] = field(default_factory=dict)
    tickets: dict[int, Ticket] = field(default_factory=dict)

    @classmethod
    def load(cls, events: Iterable[TicketEvent]) -> Names:
        user_ids: set[int] = set()
        ticket_ids: set[int] = set()
        for event in events:
            users, tickets = _references(event)
            user_ids |= users
            ticket_ids |= tickets
        return cls(
            users=User.objects.in_bulk(user_ids) if user_ids else {},
            tickets=Ticket.objects.only("id", "title").in_bulk(ticket_ids) if ticket_ids else {},
        )

    def person(self, pk: Any, none: str = "nobody") -> str:
        if pk in (None, ""):
            return none
        user = self.users.get(pk)
        return display_name(user) if user is not None else "a removed user"

    def ticket(self, pk: Any) -> str:
        ticket = self.tickets.get(pk)
        if ticket is None:
            return "a removed ticket"
        return format_html('<a href="{}">{}</a>', reverse("ticket-page", args=[ticket.pk]), str(ticket))


# Per kind: the data fields holding user ids and ticket ids, for Names.load.
_USER_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {}
_TICKET_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {}
_SENTENCES: dict[str, Callable[[dict[str, Any], Names], str]] = {}


def sentence(
    kind: str, *, users: tuple[tuple[str, str], ...] = (), tickets: tuple[tuple[str, str], ...] = ()
) -> Callable:
    """Register a kind's timeline sentence; ``users``/``tickets`` name the
    (section, key) pairs of its data that hold ids (section "" for the top level)."""

    def register(func: Callable[[dict[str, Any], Names], str]) -> Callable[[dict[str, Any], Names], str]:
        _SENTENCES[kind], _USER_FIELDS[kind], _TICKET_FIELDS[kind] = func, users, tickets
        return func

    return register


def _value(data: dict[str, Any], section: str, key: str) -> Any:
    holder = (data.get(section) or {}) if section else data
    return holder.get(key) if isinstance(holder, dict) else None


def _references(event: TicketEvent) -> tuple[set[int], set[int]]:
    data = event.data or {}
    found = []
    for fields in (_USER_FIELDS.get(event.kind, ()), _TICKET_FIELDS.get(event.kind, ())):
        found.append({v for s, k in fields if isinstance(v := _value(data, s, k), int) and not isinstance(v, bool)})
    return found[0], found[1]


def timeline_text(event: TicketEvent, names: Names) -> str:
    """One line for the timeline (the audit trail keeps the full data); HTML-safe."""
    func = _SENTENCES.get(event.kind)
    if func is None:
        return event.kind.replace("_", " ").capitalize()
    return func(event.data or {}, names)
