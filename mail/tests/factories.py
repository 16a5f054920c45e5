from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import factory
from django.utils import timezone

from mail.models import Mailbox, MailboxKind


class MailboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mailbox

    name = factory.Sequence(lambda n: f"support-{n}")
    address = factory.Sequence(lambda n: f"support{n}@helpdesk.example")
    kind = MailboxKind.HTTP


def raw_message(
    *,
    sender: str = "Jane Doe <jane@customer.example>",
    to: str = "support0@helpdesk.example",
    subject: str = "Printer on fire",
    body: str = "It smokes.\n",
    message_id: str | None = "",
    in_reply_to: str | None = None,
    references: str | None = None,
    cc: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
) -> bytes:
    """A plain message as a mail client writes it; ``message_id=""`` makes a fresh one, None omits it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    if message_id is not None:
        message["Message-ID"] = message_id or make_msgid(domain="customer.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content_type, content in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()
