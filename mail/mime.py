"""Lenient readers for a message parsed by the standard library's ``email`` package:
the policy it is parsed with (``POLICY``), header values, addresses, message ids,
content types and payloads.

Header values are read from the raw fields (``Message.raw_items``) and decoded here:
``policy.default``'s header classes raise on some broken headers (an encoded CR/LF in
an address) and decode each encoded-word alone, which splits a character cut across
two of them. Every function returns clean text (``mail.bodies.clean_line``) or
None/empty, and raises nothing for any input.
"""

from __future__ import annotations

import email.header
import email.policy
import email.utils
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from mail.bodies import clean_line, decode_bytes

# policy.default's address parser takes quadratic time on some values (thousands of
# quotes or backslashes): longer values go to email.utils.getaddresses only.
MAX_STRUCTURED = 1000
MAX_IDS = 100  # In-Reply-To / References kept: the first (the thread's root) and the latest
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
# The longest address SMTP carries (RFC 5321 4.5.3.1.3: a path of 256 octets with its
# brackets) and every address column stores; a longer one is no usable address.
ADDRESS_MAX = 254
ADDR_SPEC = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+$")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_ENCODED_RUN = re.compile(r"(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s+=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*)")
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


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


def raw_values(msg: Message, name: str) -> list[str]:
    """Every raw value of the header ``name`` as it stood in the message, unfolded.
    8-bit bytes (which the parser keeps as surrogate escapes) are read as UTF-8 when
    they are, else as windows-1252."""
    wanted = name.lower()
    values = []
    for key, value in msg.raw_items():
        if isinstance(key, str) and key.lower() == wanted:
            values.append(unescape(str(value)))
    return values


def unescape(value: str) -> str:
    if _has_surrogates(value):
        try:
            value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
        except UnicodeEncodeError:
            pass
    return re.sub(r"\r?\n[ \t]*", " ", value)


def _has_surrogates(value: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded-words decoded, as one clean line.
    Adjacent encoded-words are joined before decoding (the whitespace between them
    dropped, as the standard says), so a character split across two of them survives;
    the text around them is kept as written (raw 8-bit UTF-8 included); an unknown
    charset reads as UTF-8, else windows-1252."""
    pieces = _ENCODED_RUN.split(value)
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            out.append(piece)
            continue
        try:
            chunks = email.header.decode_header(piece)
        except Exception:
            out.append(piece)
            continue
        for chunk, charset in chunks:
            out.append(chunk if isinstance(chunk, str) else decode_bytes(chunk, charset))
    return clean_line("".join(out))


def header_text(msg: Message, name: str) -> str:
    values = raw_values(msg, name)
    return decode_words(values[0]) if values else ""


def address_pairs(msg: Message, *names: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) of every valid address in the headers ``names``; the
    addr-spec with its domain lower-cased, the local part as written."""
    found: list[tuple[str, str]] = []
    for name in names:
        for raw in raw_values(msg, name):
            for display, addr in _pairs(raw):
                addr = clean_line(addr).strip("<>")
                if not addr or len(addr) > ADDRESS_MAX or not ADDR_SPEC.match(addr):
                    continue
                local, _, domain = addr.rpartition("@")
                found.append((decode_words(display), f"{local}@{domain.lower()}"))
    return found


def _pairs(raw: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs of one address header value: policy.default's
    parser (which reads encoded-words where the standard puts them) or, when it
    raises, finds nothing or the value is long, ``email.utils.getaddresses``."""
    # Encoded-words decoded into quoted strings first: one that hides specials (an
    # encoded "Bcc: x@y") stays a display name instead of becoming an address.
    quoted = _ENCODED_WORD.sub(lambda m: '"' + re.sub(r'["\\]', "", decode_words(m.group())) + '"', raw)
    try:
        lenient = email.utils.getaddresses([quoted])
    except Exception:
        lenient = []
    if len(raw) <= MAX_STRUCTURED:
        try:
            header = email.policy.default.header_factory("to", raw)
            pairs = [(a.display_name, a.addr_spec) for group in header.groups for a in group.addresses]
        except Exception:
            pairs = []
        if pairs:
            # The old form "addr (Name)" has its name in a comment, which only the
            # lenient reader returns.
            comments = {addr: name for name, addr in lenient if name}
            return [(name or comments.get(addr, ""), addr) for name, addr in pairs]
    return lenient


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def ids_in(value: str) -> list[str]:
    """Message ids in a Message-ID / In-Reply-To / References value, without <>."""
    value = clean_line(value)
    found = _ANGLE_ID.findall(value)
    if not found and value:
        found = [token.strip("<>") for token in value.split() if token.strip("<>")]
    return found


def id_list(msg: Message, name: str) -> tuple[str, ...]:
    ids = list(unique(i for raw in raw_values(msg, name) for i in ids_in(raw)))
    if len(ids) > MAX_IDS:
        ids = ids[:1] + ids[-(MAX_IDS - 1) :]
    return tuple(ids)


def message_id_of(msg: Message) -> str | None:
    for raw in raw_values(msg, "Message-ID"):
        ids = ids_in(raw)
        if ids:
            return ids[0]
    return None


def date_of(msg: Message) -> datetime | None:
    raw = header_text(msg, "Date")
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except Exception:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000": the zone is unknown, the time is UTC
        parsed = parsed.replace(tzinfo=UTC)
    try:
        in_utc = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    # A date the database and the pages can hold and sort by: nothing before the
    # e-mail era or in the far future (a broken clock, a forged header).
    return parsed if 1970 <= in_utc.year <= 9000 else None


def automatic_reason(msg: Message) -> str | None:
    """Why the message is automatic or bulk mail (SPEC 8, loops and junk), or None."""
    auto_submitted = header_text(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return "auto-submitted"
    if raw_values(msg, "X-Autoreply") or raw_values(msg, "X-Autorespond"):
        return "x-autoreply"
    if header_text(msg, "Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "precedence"
    if raw_values(msg, "List-Id") or raw_values(msg, "List-Unsubscribe"):
        return "list"
    return None


def content_type_of(part: Message) -> str:
    try:
        ctype = part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"
    return ctype if _MIME_TYPE.match(ctype) else "application/octet-stream"


def disposition_of(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def payload_bytes(part: Message) -> bytes:
    """The part's content after its transfer encoding (lenient base64 and
    quoted-printable: broken padding or stray characters are skipped)."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def charset_of(part: Message) -> str | None:
    try:
        charset = part.get_content_charset()
    except Exception:
        return None
    return charset if isinstance(charset, str) else None


def children_of(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else []
