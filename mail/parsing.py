"""Raw RFC 5322 messages to ``ParsedMail``: the pure core of inbound mail.

No database, no settings: the ingest service, the IMAP poller and the HTTP endpoint
all call ``parse_message`` and decide from its result. Invariants:

- ``parse_message`` raises nothing but ``MailParseError`` (whose ``reason`` is short
  and safe to show managers); a message without a usable ``From`` address is one.
- Every string in a ``ParsedMail`` encodes as UTF-8 and holds no NUL nor any other
  control character but newline and tab in bodies; header values and names are one
  line (CR/LF collapsed, so nothing can be injected into a header built from them).
- Structure and content come from the standard library's parser with
  ``email.policy.default``; header values and payloads are read by the lenient
  helpers of ``mail.mime``, bodies decoded and trimmed by ``mail.bodies``.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any

from helpdesk.text import parse_id
from mail.bodies import (
    MAX_BODY_BYTES,
    MAX_BODY_CHARS,
    clean_line,
    clean_text,
    decode_bytes,
    html_to_text,
    reply_text,
    tidy,
    unflow,
)
from mail.mime import (
    ADDR_SPEC,
    address_pairs,
    automatic_reason,
    charset_of,
    children_of,
    content_type_of,
    date_of,
    decode_words,
    disposition_of,
    header_text,
    id_list,
    ids_in,
    message_id_of,
    payload_bytes,
    raw_values,
    unescape,
    unique,
)
from tickets.attachment_rules import ALLOWED_TYPES, clean_filename

log = logging.getLogger(__name__)

MAX_DEPTH = 20  # MIME parts nested deeper than this are dropped (noted in ParsedMail.problems)
MAX_PARTS = 500  # MIME parts past this many are dropped (noted too)
MAX_KEY = 255
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SUBJECT_NUMBER = re.compile(r"\[HD-([0-9]{1,19})\]", re.IGNORECASE | re.ASCII)


class MailParseError(Exception):
    """The message cannot be taken; ``reason`` is short and safe to show managers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Attachment:
    filename: str  # sanitised: no path separators or control characters, never empty
    content_type: str  # lower-case type/subtype; application/octet-stream when unreadable
    content: bytes
    inline: bool  # shown in the body (Content-Disposition: inline, or a related part with a Content-ID)
    content_id: str | None = None  # without <>, for inline images


@dataclass(frozen=True)
class Bounce:
    """A delivery status notification (RFC 3464)."""

    original_message_id: str | None  # the returned message's Message-ID, normalised
    recipients: tuple[str, ...]  # Final-Recipient of each recipient with Action: failed (empty for a delay)
    status: str  # the first failed recipient's Status ("5.1.1"), else the first recipient's, else ""


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


class _ReadingPolicy(email.policy.EmailPolicy):
    """``policy.default``, except that the headers which give the MIME structure are
    read as ``policy.compat32`` reads them (the raw string). policy.default's parser for
    structured headers takes quadratic time on some inputs (a few thousand quotes or
    semicolons in a Content-Type cost seconds, and the parser reads Content-Type
    several times per part) and raises on others; the parameter readers
    (``Message.get_param``, RFC 2231 included) work on the string either way."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if name.lower() in _STRUCTURE_HEADERS:
            return email.policy.compat32.header_fetch_parse(name, value)
        return super().header_fetch_parse(name, value)


_STRUCTURE_HEADERS = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
POLICY = _ReadingPolicy()


# --- Parts -----------------------------------------------------------------------


def _param(part: Message, name: str, header: str) -> str | None:
    """A Content-Type / Content-Disposition parameter, RFC 2231 (with continuations)
    and, as some clients still send them, RFC 2047 encoded-words decoded."""
    try:
        value = part.get_param(name, header=header)
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        charset, _, text = value
        try:
            raw = text.encode("latin-1", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        value = decode_bytes(raw, charset or "utf-8")
    else:
        value = email.utils.unquote(str(value))
        value = unescape(value)
    return decode_words(value) if "=?" in value else clean_line(value)


# The extension of an unnamed part by its type: the attachment rules' own (so the
# stored name gets the type the rules accept) and a few that mail carries; the
# platform's mimetypes tables differ between machines, these do not.
_EXTENSIONS = {ctype: ext for ext, ctype in reversed(ALLOWED_TYPES.items())} | {
    "text/html": "html",
    "text/calendar": "ics",
    "image/bmp": "bmp",
    "image/tiff": "tif",
    "application/ms-tnef": "dat",
    "application/pkcs7-signature": "p7s",
    "application/pgp-signature": "asc",
}


def _filename(part: Message, ctype: str) -> str:
    raw = _param(part, "filename", "content-disposition") or _param(part, "name", "content-type")
    name = clean_filename(raw) if raw else ""
    if not name:
        extension = "." + _EXTENSIONS.get(ctype, "bin")
        name = ("image" if ctype.startswith("image/") else "attachment") + extension
    return name


def _flowed(part: Message) -> bool:
    return (_param(part, "format", "content-type") or "").lower() == "flowed"


def _eml_name(subject: str) -> str:
    """``<subject>.eml`` as a safe file name (a slash in the subject is no path)."""
    stem = clean_filename(subject.replace("/", "-").replace("\\", "-"))
    return clean_filename(f"{stem}.eml") if stem else "message.eml"


def _serialised(inner: Message) -> bytes:
    """A message/rfc822 part's message as bytes for an .eml attachment."""
    for policy in (email.policy.compat32, email.policy.default):
        try:
            return inner.as_bytes(policy=policy)
        except Exception:
            continue
    return b""


def _content_id(part: Message) -> str | None:
    values = raw_values(part, "Content-ID")
    ids = ids_in(values[0]) if values else []
    return ids[0] if ids else None


@dataclass
class _Walk:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reports: list[Message] = field(default_factory=list)  # multipart/report parts
    parts: int = 0

    def drop(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


def _walk(part: Message, walk: _Walk, *, depth: int, body: bool, related: bool) -> None:
    """Collect ``part``'s body text (when ``body``) and attachments, depth first."""
    if depth > MAX_DEPTH:
        walk.drop(f"Parts nested deeper than {MAX_DEPTH} levels were left out.")
        return
    walk.parts += 1
    if walk.parts > MAX_PARTS:
        walk.drop(f"Parts past the first {MAX_PARTS} were left out.")
        return
    ctype = content_type_of(part)
    if ctype in ("message/delivery-status", "message/global-delivery-status", "text/rfc822-headers"):
        return  # read by _bounce
    if part.is_multipart() and ctype not in ("message/rfc822", "message/global"):
        children = children_of(part)
        if ctype == "multipart/report":
            walk.reports.append(part)
            for index, child in enumerate(children):
                _walk(child, walk, depth=depth + 1, body=body and index == 0, related=False)
        elif ctype == "multipart/related":
            for index, child in enumerate(children):
                _walk(child, walk, depth=depth + 1, body=body and index == 0, related=index > 0)
        else:  # mixed, alternative, signed, unknown: every child may carry body text
            for child in children:
                _walk(child, walk, depth=depth + 1, body=body, related=False)
        return
    disposition = disposition_of(part)
    if ctype == "message/rfc822" or ctype == "message/global":
        children = children_of(part)
        inner = children[0] if children else None
        subject = header_text(inner, "Subject") if inner is not None else ""
        walk.attachments.append(
            Attachment(
                filename=_eml_name(subject),
                content_type="message/rfc822",
                content=_serialised(inner) if inner is not None else payload_bytes(part),
                inline=False,
            )
        )
        return
    has_name = _param(part, "filename", "content-disposition") or _param(part, "name", "content-type")
    if body and ctype in ("text/plain", "text/html") and disposition != "attachment" and not has_name:
        data = payload_bytes(part)
        if len(data) > MAX_BODY_BYTES:
            walk.drop(f"The body was cut at {MAX_BODY_CHARS} characters.")
            data = data[:MAX_BODY_BYTES]
        text = decode_bytes(data, charset_of(part))
        if ctype == "text/plain" and _flowed(part):
            text = unflow(text, delsp=_param(part, "delsp", "content-type") == "yes")
        (walk.plain if ctype == "text/plain" else walk.html).append(text)
        return
    content_id = _content_id(part)
    walk.attachments.append(
        Attachment(
            filename=_filename(part, ctype),
            content_type=ctype,
            content=payload_bytes(part),
            # An image shown in the body: in a multipart/related, named by a Content-ID
            # or marked inline (Apple Mail); a PDF marked inline is still a file.
            inline=ctype.startswith("image/")
            and disposition != "attachment"
            and (related or disposition == "inline" or content_id is not None),
            content_id=content_id,
        )
    )


# --- Bounces ---------------------------------------------------------------------


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part, names lower-cased."""
    blocks: list[dict[str, str]] = []
    payload = part.get_payload()
    if isinstance(payload, list) and payload and all(isinstance(p, Message) for p in payload):
        for block in payload:
            blocks.append({k.lower(): unescape(str(v)).strip() for k, v in block.raw_items() if isinstance(k, str)})
        return blocks
    text = decode_bytes(payload_bytes(part), charset_of(part))
    for chunk in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last = None
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and last:
                fields[last] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                last = name.strip().lower()
                fields[last] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _recipient(value: str) -> str | None:
    addr = clean_line(value.partition(";")[2] if ";" in value else value).strip("<>")
    return addr.lower() if ADDR_SPEC.match(addr) else None


def _bounce(report: Message) -> Bounce | None:
    try:
        report_type = str(report.get_param("report-type") or "").lower()
    except Exception:
        report_type = ""
    if report_type != "delivery-status":
        return None
    failed: list[str] = []
    statuses: list[str] = []
    failed_status = ""
    original: str | None = None
    for part in children_of(report):
        ctype = content_type_of(part)
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            blocks = _status_blocks(part)
            # The first block is about the message (Reporting-MTA ...), the others
            # one recipient each; an MTA that writes one block writes a recipient's.
            for block in blocks[1:] or blocks:
                address = _recipient(block.get("final-recipient") or block.get("original-recipient") or "")
                if address is None:
                    continue
                status = clean_line(block.get("status", "")).split(" ")[0]
                statuses.append(status)
                if block.get("action", "failed").strip().lower() == "failed":
                    failed.append(address)
                    failed_status = failed_status or status
        elif ctype in ("message/rfc822", "message/global") and original is None:
            inner = children_of(part)
            if inner:
                original = message_id_of(inner[0])
        elif ctype == "text/rfc822-headers" and original is None:
            headers = email.message_from_bytes(payload_bytes(part), policy=POLICY)
            original = message_id_of(headers)
    return Bounce(
        original_message_id=original,
        recipients=unique(failed),
        status=failed_status or (statuses[0] if statuses else ""),
    )


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

    walk = _Walk()
    _walk(msg, walk, depth=0, body=True, related=False)
    # The text parts, or the HTML ones converted when there is no text (or only an
    # empty text alternative, as some mobile clients send).
    text = tidy("\n\n".join(clean_text(t) for t in walk.plain))
    if not text.strip():
        text = tidy("\n\n".join(html_to_text(h) for h in walk.html))
    if sum(map(len, walk.plain or walk.html)) > MAX_BODY_CHARS:
        walk.drop(f"The body was cut at {MAX_BODY_CHARS} characters.")
    bounce = None
    for report in walk.reports:
        bounce = _bounce(report)
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
