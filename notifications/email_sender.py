"""The e-mail channel's sender: Django mail (``settings.EMAIL_BACKEND``).

The text part is ``templates/notifications/email.txt`` filled from the row (its
body, and the ticket it is about when the payload has one). Three payload keys
let a writer send mail that is more than a notice, such as threaded customer
mail (SPEC section 8):

- ``from``: the sender address (default ``DEFAULT_FROM_EMAIL``);
- ``headers``: extra header fields, name to value (``Message-ID``, ``In-Reply-To``,
  ``References``, ``Reply-To``, ``Auto-Submitted``, ...); fields the message builds
  itself (``From``, ``To``, ``Subject``, the MIME structure) cannot be set here;
- ``html``: an HTML alternative to the text part;
- ``verbatim``: true when ``body`` is the whole text part as written (customer mail),
  not a notice to fill into the template;
- ``cc``: further recipients, shown in ``Cc`` (a ticket's CCs).

A malformed payload fails the attempt (``ValueError``) like any failure to send.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from notifications.models import Notification
from tickets.models import PRIORITY_LABELS

# What the message itself writes: a payload may not override or smuggle these.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "sender",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    }
)
# RFC 5322 field name: printable US-ASCII except the colon.
_HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")


def email_headers(value: Any) -> dict[str, str]:
    """The payload's ``headers`` as a checked dict; ValueError for anything else.
    Values with a line break are refused (header injection), as Django would."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("payload headers must be an object of header names to values")
    headers: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError(f"not a header name: {name!r}")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by the message itself")
        if not isinstance(text, str) or "\n" in text or "\r" in text:
            raise ValueError(f"header {name} must be one line of text")
        headers[name] = text
    return headers


def email_message(notification: Notification) -> EmailMultiAlternatives:
    """The message a row becomes (not sent): text part, optional HTML part, headers."""
    data = notification.payload or {}
    context = {
        **data,
        "subject": notification.subject,
        "body": notification.body,
        "priority_label": PRIORITY_LABELS.get(data.get("priority"), ""),
    }
    text = notification.body if data.get("verbatim") else render_to_string("notifications/email.txt", context)
    cc = data.get("cc") or []
    if not isinstance(cc, list) or not all(isinstance(a, str) and "\n" not in a and "\r" not in a for a in cc):
        raise ValueError("payload cc must be a list of e-mail addresses")
    sender = data.get("from") or settings.DEFAULT_FROM_EMAIL
    if not isinstance(sender, str) or "\n" in sender or "\r" in sender:
        raise ValueError("payload from must be one e-mail address")
    html = data.get("html")
    if html is not None and not isinstance(html, str):
        raise ValueError("payload html must be text")
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=text,
        from_email=sender,
        to=[notification.target],
        cc=cc,
        headers=email_headers(data.get("headers")),
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


# Inside connection_shared(): {"backend": the open connection or None}.
_shared: ContextVar[dict[str, Any] | None] = ContextVar("email_connection_shared", default=None)


@contextmanager
def connection_shared() -> Iterator[None]:
    """The e-mail rows sent within the block (one delivery batch) share one
    connection to the mail server, opened at the first message and closed at the
    end, instead of one connection per message. A send that fails closes it (the
    next row opens a new one), so one broken connection costs one attempt of one
    row, as before. Each row is still locked, sent and saved on its own."""
    holder: dict[str, Any] = {"backend": None}
    token = _shared.set(holder)
    try:
        yield
    finally:
        _shared.reset(token)
        _close_quietly(holder)


def _close_quietly(holder: dict[str, Any]) -> None:
    backend, holder["backend"] = holder["backend"], None
    if backend is not None:
        with contextlib.suppress(Exception):
            backend.close()


def send_email(notification: Notification) -> None:
    """The e-mail sender (registered for ``Channel.EMAIL`` in NotificationsConfig.ready)."""
    message = email_message(notification)
    holder = _shared.get()
    if holder is None:
        message.send(fail_silently=False)
        return
    if holder["backend"] is None:
        backend = get_connection(fail_silently=False)
        backend.open()
        holder["backend"] = backend
    message.connection = holder["backend"]
    try:
        message.send(fail_silently=False)
    except BaseException:
        _close_quietly(holder)
        raise
