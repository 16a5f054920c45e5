"""The IMAP client's parts below a session: settings and results, errors safe to
show managers, TLS contexts, modified UTF-7 folder names, UID sets, and imaplib's
clients whose sockets come from the outbound policy (helpdesk.outbound)."""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from django.conf import settings as django_settings

from helpdesk import outbound

Security = Literal["ssl", "starttls", "none"]
SECURITIES: tuple[str, ...] = ("ssl", "starttls", "none")
DEFAULT_TIMEOUT_SECONDS = 30.0
# A FETCH of bodies asks for at most this many messages, and at most this many bytes
# by the sizes the server reported (one message larger than that goes alone).
FETCH_BATCH_MESSAGES = 25
FETCH_BATCH_BYTES = 20 * 1024 * 1024
# UIDs per UID STORE / size FETCH command: keeps a command line well under the
# few kilobytes servers accept even when the UIDs do not form ranges.
COMMAND_BATCH_UIDS = 500
# The largest literal accepted outside message bodies (no answer we ask for holds one).
BASE_LITERAL_BYTES = 1024 * 1024

_RESPONSE_CODE = re.compile(rb"^\[([A-Z][A-Z0-9-]*)")
UID_PATTERN = re.compile(rb"\bUID (\d+)")
SIZE_PATTERN = re.compile(rb"\bRFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The mailbox could not be read. ``reason`` is safe to show a manager."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImapSettings:
    """Where and how to read one mailbox (what a manager configured)."""

    host: str
    port: int
    security: Security
    username: str
    password: str
    folder: str = "INBOX"
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.security not in SECURITIES:
            raise ValueError(f"security must be one of {', '.join(SECURITIES)}")
        if not 0 < self.port < 65536:
            raise ValueError("port must be between 1 and 65535")
        if not self.timeout > 0:
            raise ValueError("timeout must be positive")

    def __repr__(self) -> str:  # never the password, not even in a traceback's locals
        return (
            f"ImapSettings(host={self.host!r}, port={self.port}, security={self.security!r},"
            f" username={self.username!r}, folder={self.folder!r})"
        )


@dataclass(frozen=True)
class Fetched:
    """One message: its UID, its bytes, and the size the server reported.
    ``raw`` is None when the message is larger than the caller's ``max_bytes``."""

    uid: int
    raw: bytes | None
    size: int

    @property
    def too_large(self) -> bool:
        return self.raw is None


# --- TLS and folder names ----------------------------------------------------------------------


@lru_cache(maxsize=4)
def _default_tls_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context()  # verifies the chain and the host name
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def tls_context() -> ssl.SSLContext:
    """The system's trust store plus ``HELPDESK_MAIL_CA_FILE`` when set; built once per file."""
    return _default_tls_context(django_settings.HELPDESK_MAIL_CA_FILE or "")


def encode_folder(name: str) -> str:
    """``name`` as an IMAP mailbox argument: modified UTF-7 (RFC 3501 5.1.3), quoted.
    ImapError for names no server can hold (control characters)."""
    if not name or any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        raise ImapError("the folder name is empty or holds control characters")
    encoded: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            encoded.append("&" + base64.b64encode(utf16).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            encoded.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    text = "".join(encoded)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uid_set(uids: list[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` as ``1:3,7,9:10`` (sorted, without duplicates)."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = previous = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        parts.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(parts)


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


# --- the connections ------------------------------------------------------------------------------


class LiteralTooLarge(imaplib.IMAP4.abort):
    pass


class LiteralCap:
    """imaplib reads a literal (``{n}`` then n bytes) whole, whatever n the server
    announces: a hostile or broken server could ask for gigabytes. A literal above
    ``max_literal`` aborts the session instead."""

    max_literal: int = BASE_LITERAL_BYTES
    file: Any

    def read(self, size: int) -> bytes:
        if size > self.max_literal:
            raise LiteralTooLarge("literal too large")
        return self.file.read(size)


def literal_cap(max_bytes: int) -> int:
    """The largest literal accepted while fetching bodies: RFC822.SIZE is the server's
    estimate (some servers count differently), so a body somewhat over it is read and
    then reported as too large rather than blocking the mailbox with an error."""
    return 2 * max_bytes + BASE_LITERAL_BYTES


class CheckedIMAP4(LiteralCap, imaplib.IMAP4):
    """imaplib's client whose socket comes from the outbound policy."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return outbound.connect(self.host, self.port, timeout=timeout)


class CheckedIMAP4SSL(LiteralCap, imaplib.IMAP4_SSL):
    """imaplib's imaps client whose socket comes from the outbound policy,
    wrapped in TLS for the configured host name (SNI and the certificate check)."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = outbound.connect(self.host, self.port, timeout=timeout)
        try:
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def status_word(error: BaseException) -> str | None:
    """The response code a server put first in its answer (``[AUTHENTICATIONFAILED] ...``)."""
    text = error.args[0] if error.args else b""
    if isinstance(text, str):
        text = text.encode("ascii", "replace")
    match = _RESPONSE_CODE.match(text.strip()) if isinstance(text, bytes) else None
    return match.group(1).decode() if match else None


def connection_reason(exc: BaseException) -> str:
    """Our words for what went wrong on the wire (no server text)."""
    if isinstance(exc, outbound.OutboundRefused):
        return f"refused by the outbound policy: {exc.reason}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", "") or "not trusted"
        return f"the server's certificate could not be verified ({detail})"
    if isinstance(exc, ssl.SSLError):
        return "the TLS handshake failed"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, LiteralTooLarge) or isinstance(exc.__context__, LiteralTooLarge):  # imaplib re-raises
        return "the server sent far more than it announced"
    if isinstance(exc, (imaplib.IMAP4.abort, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "the server closed the connection"
    return "the connection failed"
