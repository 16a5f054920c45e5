"""The MIME tree of a parsed message walked into what ``mail.parsing`` builds a
``ParsedMail`` from: the body text parts (``Walk.plain``, ``Walk.html``), the
attachments (``Attachment``; a forwarded message as an ``.eml``), what was left out
(``Walk.problems``: parts nested deeper than ``MAX_DEPTH``, past ``MAX_PARTS``, a body
cut at its limit), and a delivery status notification read into a ``Bounce``.

Pure, no database, no settings; raises nothing for any part the ``email`` package
produced (header values and payloads are read by the lenient helpers of ``mail.mime``).
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from email.message import Message

from mail.bodies import MAX_BODY_BYTES, MAX_BODY_CHARS, clean_line, decode_bytes, unflow
from mail.mime import (
    ADDR_SPEC,
    POLICY,
    charset_of,
    children_of,
    content_type_of,
    decode_words,
    disposition_of,
    header_text,
    ids_in,
    message_id_of,
    payload_bytes,
    raw_values,
    unescape,
    unique,
)
from tickets.attachment_rules import ALLOWED_TYPES, clean_filename

MAX_DEPTH = 20  # MIME parts nested deeper than this are dropped (noted in ParsedMail.problems)
MAX_PARTS = 500  # MIME parts past this many are dropped (noted too)


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


# --- The walk --------------------------------------------------------------------


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
class Walk:
    """What ``walk_parts`` collects from one message: the decoded body text parts, the
    attachments in order, the multipart/report parts for ``bounce_of``, and each kind
    of part left out once (``drop``)."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    reports: list[Message] = field(default_factory=list)  # multipart/report parts
    parts: int = 0

    def drop(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


def walk_parts(part: Message, walk: Walk, *, depth: int, body: bool, related: bool) -> None:
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
        return  # read by bounce_of
    if part.is_multipart() and ctype not in ("message/rfc822", "message/global"):
        children = children_of(part)
        if ctype == "multipart/report":
            walk.reports.append(part)
            for index, child in enumerate(children):
                walk_parts(child, walk, depth=depth + 1, body=body and index == 0, related=False)
        elif ctype == "multipart/related":
            for index, child in enumerate(children):
                walk_parts(child, walk, depth=depth + 1, body=body and index == 0, related=index > 0)
        else:  # mixed, alternative, signed, unknown: every child may carry body text
            for child in children:
                walk_parts(child, walk, depth=depth + 1, body=body, related=False)
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


def bounce_of(report: Message) -> Bounce | None:
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
