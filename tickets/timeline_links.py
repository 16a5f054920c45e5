"""Links the floors above add to the ticket page's timeline.

tickets sits below the apps that know more about a comment (mail keeps the original
message a comment came from), so the page cannot ask them; instead each such app
registers a provider here in its ``AppConfig.ready()`` (``register``), as it registers
an outbox channel or a metrics collector. The timeline asks every provider once per
page (``links_for``): a provider must answer in a fixed number of queries, and show
each user only what that user may open.

A provider's answer maps a comment's id to its links, and ``TICKET`` (None) to the
links of the ticket's own opening (shown on its "created" entry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from helpdesk.models import User
from tickets.models import Comment, Ticket


@dataclass(frozen=True)
class TimelineLink:
    label: str
    url: str
    download: bool = False  # the link saves a file (the page marks it so)


TICKET = None
Provider = Callable[[User, Ticket, Sequence[Comment]], Mapping[int | None, Sequence[TimelineLink]]]
_PROVIDERS: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Add (or replace, by ``name``) a provider: ``provider(user, ticket, comments)``."""
    _PROVIDERS[name] = provider


def links_for(*, user: User, ticket: Ticket, comments: Sequence[Comment]) -> dict[int | None, list[TimelineLink]]:
    """Every provider's links for this page of the timeline, merged per key."""
    merged: dict[int | None, list[TimelineLink]] = {}
    for provider in _PROVIDERS.values():
        for key, links in provider(user, ticket, comments).items():
            merged.setdefault(key, []).extend(links)
    return merged
