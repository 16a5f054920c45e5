"""Who sends each channel: a registry filled at start-up.

The outbox delivers rows but knows no receiver: each channel's sender is
registered by the app that owns it, in its ``AppConfig.ready()``, so a floor
above supplies what the outbox calls. This app registers the e-mail sender
(``notifications.email_sender``); escalation registers the webhook sender (it
holds the endpoints and their signing secrets). A row whose channel has no
sender fails its attempt like any other failure, and is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import Notification

# Sends one row or raises; the delivery counts any exception as one failed attempt.
Sender = Callable[["Notification"], None]

_senders: dict[str, Sender] = {}


class NoSender(LookupError):
    """No sender is registered for the row's channel."""


def register(channel: str, sender: Sender) -> None:
    """Make ``sender`` deliver the rows of ``channel``. Registering the same sender
    again is a no-op (``ready()`` may run twice); a second, different sender for a
    channel is a programming error."""
    current = _senders.get(channel)
    if current is not None and current is not sender:
        raise ValueError(f"channel {channel!r} already has a sender: {current.__module__}.{current.__qualname__}")
    _senders[channel] = sender


def sender_for(channel: str) -> Sender:
    try:
        return _senders[channel]
    except KeyError:
        raise NoSender(f"no sender is registered for the {channel!r} channel") from None


def registered() -> dict[str, Sender]:
    """A copy of the registry, for checks and tests."""
    return dict(_senders)
