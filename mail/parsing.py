"""Raw RFC 5322 messages to ``ParsedMail``: the pure core of inbound mail, and the
threading helpers (the ticket number in a subject, reply tokens and addresses).

No database, no settings: the ingest service, the IMAP poller and the HTTP endpoint
all call ``parse_message`` and decide from its result. Invariants:

- ``parse_message`` raises nothing but ``MailParseError`` (whose ``reason`` is short
  and safe to show managers); a message without a usable ``From`` address is one.
- Every string in a ``ParsedMail`` encodes as UTF-8 and holds no NUL nor any other
  control character but newline and tab in bodies; header values and names are one
  line (CR/LF collapsed, so nothing can be injected into a header built from them).
- Structure and content come from the standard library's parser with
  ``email.policy.default`` (``mail.mime.POLICY``); header values and payloads are read
  by the lenient helpers of ``mail.mime``, the MIME tree walked and bounces read by
  ``mail.parts``, bodies decoded by ``mail.bodies``, converted by ``mail.html_text``
  and trimmed by ``mail.reply_trim``.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from helpdesk.text import parse_id
from mail.bodies import MAX_BODY_CHARS, clean_line, clean_text, tidy
from mail.html_text import html_to_text
from mail.mime import (
    POLICY,
    address_pairs,
    automatic_reason,
    date_of,
    header_text,
    id_list,
    message_id_of,
    unique,
)
from mail.parts import Attachment, Bounce, Walk, bounce_of, walk_parts
from mail.reply_trim import reply_text

log = logging.getLogger(__name__)

MAX_KEY = 255
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SUBJECT_NUMBER = re.compile(r"\[HD-([0-9]{1,19})\]", re.IGNORECASE | re.ASCII)


class MailParseError(Exception):
    """The message cannot be taken; ``reason`` is short and safe to show managers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_address: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    # Every address the message was delivered to (To, Cc, Delivered-To, X-Original-To,
    # Envelope-To), domain lower-cased but the local part as written: reply tokens are
    # case-sensitive.
    recipients: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str
    reply_text: str
    attachments: tuple[Attachment, ...]
    automatic: str | None
    bounce: Bounce | None
    raw_digest: str
    # What was left out and why (parts nested too deep, a body cut at its limit), for
    # an internal note; empty for an ordinary message.
    problems: tuple[str, ...] = field(default=())


# --- The message -----------------------------------------------------------------


def parse_message(raw: bytes) -> ParsedMail:
    """``raw`` (an RFC 5322 message) read into a ``ParsedMail``; ``MailParseError``
    for anything that cannot be taken, never any other exception."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MailParseError("The message is not bytes.")
    raw = bytes(raw)
    try:
        return _parse(raw)
    except MailParseError:
        raise
    except RecursionError:
        raise MailParseError("The message is nested too deeply.") from None
    except Exception:  # the email package's own bugs included: quarantine, never crash the caller
        # Logged with its traceback: a message that reaches here shows a case the
        # parser (or the email package) gets wrong, worth a corpus file.
        log.warning("mail parse failed on a message of %d bytes", len(raw), exc_info=True)
        raise MailParseError("The message could not be read.") from None


def _parse(raw: bytes) -> ParsedMail:
    if not raw.strip():
        raise MailParseError("The message is empty.")
    msg = email.message_from_bytes(raw, policy=POLICY)
    senders = address_pairs(msg, "From")
    if not senders:
        raise MailParseError("The message has no usable From address.")
    from_name, from_address = senders[0]

    walk = Walk()
    walk_parts(msg, walk, depth=0, body=True, related=False)
    # The text parts, or the HTML ones converted when there is no text (or only an
    # empty text alternative, as some mobile clients send).
    text = tidy("\n\n".join(clean_text(t) for t in walk.plain))
    if not text.strip():
        text = tidy("\n\n".join(html_to_text(h) for h in walk.html))
    if sum(map(len, walk.plain or walk.html)) > MAX_BODY_CHARS:
        walk.drop(f"The body was cut at {MAX_BODY_CHARS} characters.")
    bounce = None
    for report in walk.reports:
        bounce = bounce_of(report)
        if bounce is not None:
            break

    to = address_pairs(msg, "To")
    cc = address_pairs(msg, "Cc")
    delivered = address_pairs(msg, "To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
    return ParsedMail(
        message_id=message_id_of(msg),
        in_reply_to=id_list(msg, "In-Reply-To"),
        references=id_list(msg, "References"),
        from_address=from_address.lower(),
        from_name=from_name,
        to=unique(a.lower() for _, a in to),
        cc=unique(a.lower() for _, a in cc),
        recipients=unique(a for _, a in delivered),
        subject=header_text(msg, "Subject"),
        date=date_of(msg),
        text=text,
        reply_text=reply_text(text) if text else "",
        attachments=tuple(walk.attachments),
        automatic=automatic_reason(msg),
        bounce=bounce,
        raw_digest=hashlib.sha256(raw).hexdigest(),
        problems=tuple(walk.problems),
    )


def message_key(parsed: ParsedMail) -> str:
    """What makes a message the same message in one mailbox (the unique key): its
    Message-ID, a digest of it when longer than 255 characters, ``sha256:<digest of
    the raw bytes>`` when it has none."""
    if parsed.message_id:
        # A Message-ID shaped like one of the digest keys is hashed too, so a sender
        # cannot claim another message's key.
        if len(parsed.message_id) <= MAX_KEY and not parsed.message_id.startswith(("sha256:", "msgid-sha256:")):
            return parsed.message_id
        return "msgid-sha256:" + hashlib.sha256(parsed.message_id.encode("utf-8")).hexdigest()
    return "sha256:" + parsed.raw_digest


# --- Threading helpers -----------------------------------------------------------


def ticket_number_in_subject(subject: str) -> int | None:
    """The ticket id in ``[HD-000123]`` anywhere in a subject (ASCII digits only)."""
    match = _SUBJECT_NUMBER.search(subject or "")
    return parse_id(match.group(1)) if match else None


def _split_mailbox(address: str) -> tuple[str, str]:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not a mailbox address: {address!r}")
    return local, domain


def reply_token(addresses: Iterable[str], *, mailbox_address: str) -> str | None:
    """The token of the first ``<local>+<token>@<domain>`` among ``addresses`` for the
    mailbox ``<local>@<domain>`` (local part and domain compared case-insensitively,
    the token exactly: ``[A-Za-z0-9_-]``, 16 to 64 characters), or None."""
    local, domain = _split_mailbox(mailbox_address)
    prefix = local.lower() + "+"
    for address in addresses:
        at = address.rfind("@")
        if at < 0 or address[at + 1 :].lower() != domain.lower():
            continue
        candidate = address[:at]
        if candidate[: len(prefix)].lower() != prefix:
            continue
        token = candidate[len(prefix) :]
        if TOKEN.fullmatch(token):
            return token
    return None


def reply_address(mailbox_address: str, token: str) -> str:
    """The per-ticket reply address ``<local>+<token>@<domain>`` of a mailbox."""
    if not TOKEN.fullmatch(token):
        raise ValueError("a reply token is 16 to 64 of [A-Za-z0-9_-]")
    local, domain = _split_mailbox(mailbox_address)
    return f"{local}+{token}@{domain}"


def subject_for(number: str, title: str) -> str:
    """``[HD-000123] <title>`` on one line (CR, LF and other controls become spaces)."""
    title = clean_line(re.sub(r"[\x00-\x1f\x7f]", " ", title or ""))
    return f"[{clean_line(number)}] {title}".rstrip()
