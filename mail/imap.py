"""Reading one IMAP mailbox: connect under the outbound policy, log in, select a
folder, list UIDs, fetch raw messages without marking them read, mark them read.

Plain values in, plain values out: :class:`ImapSettings` holds what a manager
configured, :class:`ImapMailbox` is one session, :func:`imap_check` answers
"does this configuration work" for the mailbox page. Every failure is an
:class:`ImapError` whose ``reason`` is short and safe to show a manager: our own
words and at most a status word of the server (``AUTHENTICATIONFAILED``), never
the server's text, never the password.

Connections go through :func:`helpdesk.outbound.connect` (the address is judged
after resolution and the socket opened to exactly that address); a refusal is an
ImapError naming the rule ("refused by the outbound policy: loopback address").
``security``: ``ssl`` speaks TLS from the first byte (imaps, 993), ``starttls``
upgrades a plain connection before logging in (143) and fails if the server does
not offer it, ``none`` stays plaintext. Certificates are verified against the
system's trust store for the configured host name; ``HELPDESK_MAIL_CA_FILE``
adds a CA (a company's own), tests pass ``ssl_context``.

Exactly once, the poller's side (the polling service holds these rules; this
module only gives it the means):

1. Per mailbox store ``(uidvalidity, last_uid)``. On each poll open the mailbox
   and compare :attr:`ImapMailbox.uidvalidity` with the stored one. Equal: new
   messages are ``uids_after(last_uid)``. Different (the folder was recreated or
   the server renumbered it): UIDs mean nothing any more, so start again from
   ``uids_after(0)`` with the new UIDVALIDITY stored, and rely on the unique
   constraint on (mailbox, Message-ID or digest) to skip what was taken before.
   A mailbox polled for the first time may start at 0 (everything already in
   the folder) or at ``uidnext - 1`` (only what arrives from now on).
2. :meth:`ImapMailbox.fetch` reads with ``BODY.PEEK[]``: fetching never sets
   ``\\Seen``, so a worker killed after a fetch leaves the message as it was.
3. Take each message in ascending UID order (ticket or comment, or quarantine;
   a ``raw`` of None is "too large") and commit, advancing ``last_uid`` in the
   same transaction as what the message became.
4. Only after the commit :meth:`ImapMailbox.mark_seen`. A crash before the
   commit leaves nothing behind: the next poll fetches the message again. A
   crash after it leaves the message unseen but at or below ``last_uid``: never
   taken twice, merely not flagged. ``\\Seen`` is a courtesy to the people
   reading the mailbox, never the poller's memory: a message someone read by
   hand is still taken.

The session never deletes or expunges: it ends with LOGOUT, not CLOSE (which
would expunge what someone else flagged ``\\Deleted``). ``timeout`` bounds each
network operation, not a whole poll: the Celery task's time limit does that.
"""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
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
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


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


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


# --- the connections ------------------------------------------------------------------------------


class _LiteralTooLarge(imaplib.IMAP4.abort):
    pass


class _LiteralCap:
    """imaplib reads a literal (``{n}`` then n bytes) whole, whatever n the server
    announces: a hostile or broken server could ask for gigabytes. A literal above
    ``max_literal`` aborts the session instead."""

    max_literal: int = BASE_LITERAL_BYTES
    file: Any

    def read(self, size: int) -> bytes:
        if size > self.max_literal:
            raise _LiteralTooLarge("literal too large")
        return self.file.read(size)


def _literal_cap(max_bytes: int) -> int:
    """The largest literal accepted while fetching bodies: RFC822.SIZE is the server's
    estimate (some servers count differently), so a body somewhat over it is read and
    then reported as too large rather than blocking the mailbox with an error."""
    return 2 * max_bytes + BASE_LITERAL_BYTES


class _CheckedIMAP4(_LiteralCap, imaplib.IMAP4):
    """imaplib's client whose socket comes from the outbound policy."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return outbound.connect(self.host, self.port, timeout=timeout)


class _CheckedIMAP4SSL(_LiteralCap, imaplib.IMAP4_SSL):
    """imaplib's imaps client whose socket comes from the outbound policy,
    wrapped in TLS for the configured host name (SNI and the certificate check)."""

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = outbound.connect(self.host, self.port, timeout=timeout)
        try:
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _status_word(error: BaseException) -> str | None:
    """The response code a server put first in its answer (``[AUTHENTICATIONFAILED] ...``)."""
    text = error.args[0] if error.args else b""
    if isinstance(text, str):
        text = text.encode("ascii", "replace")
    match = _RESPONSE_CODE.match(text.strip()) if isinstance(text, bytes) else None
    return match.group(1).decode() if match else None


def _connection_reason(exc: BaseException) -> str:
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
    if isinstance(exc, _LiteralTooLarge) or isinstance(exc.__context__, _LiteralTooLarge):  # imaplib re-raises
        return "the server sent far more than it announced"
    if isinstance(exc, (imaplib.IMAP4.abort, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "the server closed the connection"
    return "the connection failed"


class ImapMailbox:
    """One session with one folder: ``with ImapMailbox(settings) as mailbox:`` connects,
    upgrades to TLS (``starttls``), logs in and selects the folder read-write.
    Raises ImapError for every failure; the connection is closed on exit."""

    uidvalidity: int
    uidnext: int | None  # the UID the next message will get, when the server says

    def __init__(self, settings: ImapSettings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self._ssl_context = ssl_context
        self._imap: imaplib.IMAP4 | None = None

    # --- the session -----------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is not None:
            return self._ssl_context
        try:
            return tls_context()
        except (OSError, ssl.SSLError):
            raise ImapError("HELPDESK_MAIL_CA_FILE cannot be read as PEM certificates") from None

    def open(self) -> None:
        settings = self.settings
        folder = encode_folder(settings.folder)
        context = self._context() if settings.security != "none" else None
        try:
            if settings.security == "ssl":
                imap: imaplib.IMAP4 = _CheckedIMAP4SSL(
                    settings.host, settings.port, ssl_context=context, timeout=settings.timeout
                )
            else:
                imap = _CheckedIMAP4(settings.host, settings.port, timeout=settings.timeout)
        except (outbound.OutboundRefused, OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(_connection_reason(exc)) from None
        self._imap = imap
        try:
            if context is not None and settings.security == "starttls":
                self._starttls(imap, context)
            self._login(imap)
            self._select(imap, folder)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Log out politely when the connection still stands; close the socket in any case."""
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            imap.logout()  # not CLOSE: that would expunge messages flagged \Deleted
        except (imaplib.IMAP4.error, OSError):
            pass
        try:
            imap.shutdown()
        except OSError:
            pass

    def _starttls(self, imap: imaplib.IMAP4, context: ssl.SSLContext) -> None:
        if "STARTTLS" not in imap.capabilities:
            raise ImapError("the server does not offer STARTTLS")
        try:
            imap.starttls(context)
        except (OSError, imaplib.IMAP4.error) as exc:
            if isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort):
                raise ImapError("the server refused STARTTLS") from None
            raise ImapError(_connection_reason(exc)) from None

    def _login(self, imap: imaplib.IMAP4) -> None:
        username, password = self.settings.username, self.settings.password
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in username + password):
            raise ImapError("the user name or password holds control characters")
        if "LOGINDISABLED" in imap.capabilities:
            raise ImapError("the server refuses to log in without TLS")
        try:
            if username.isascii() and password.isascii():
                imap.login(imap._quote(username), password)
            elif "AUTH=PLAIN" in imap.capabilities:
                credentials = f"\0{username}\0{password}".encode()
                imap.authenticate("PLAIN", lambda challenge: credentials)
            else:
                raise ImapError("the server cannot take a user name or password beyond ASCII")
        except imaplib.IMAP4.abort as exc:
            raise ImapError(_connection_reason(exc)) from None
        except imaplib.IMAP4.error as exc:
            word = _status_word(exc)
            raise ImapError(f"login failed ({word})" if word else "login failed") from None
        except OSError as exc:
            raise ImapError(_connection_reason(exc)) from None

    def _select(self, imap: imaplib.IMAP4, folder: str) -> None:
        try:
            typ, data = imap.select(folder)
        except imaplib.IMAP4.readonly:
            raise ImapError("the folder is read-only") from None
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise ImapError(_connection_reason(exc)) from None
        except imaplib.IMAP4.error:
            raise ImapError("the folder could not be opened") from None
        if typ != "OK":
            word = _status_word(imaplib.IMAP4.error(data[-1] if data else b""))
            missing = word in (None, "NONEXISTENT", "TRYCREATE")
            raise ImapError("the folder does not exist" if missing else f"the folder could not be opened ({word})")
        _name, values = imap.response("UIDVALIDITY")
        try:
            self.uidvalidity = int(values[-1])
        except (TypeError, ValueError, IndexError):
            raise ImapError("the server did not report the folder's UIDVALIDITY") from None
        _name, values = imap.response("UIDNEXT")
        try:
            self.uidnext = int(values[-1])
        except (TypeError, ValueError, IndexError):
            self.uidnext = None

    def _command(self, what: str, *args: str) -> list:
        """``UID <args>`` on the open session: its data, or ImapError."""
        imap = self._imap
        if imap is None:
            raise ImapError("the mailbox is not open")
        try:
            typ, data = imap.uid(*args)
        except imaplib.IMAP4.abort as exc:
            self.close()
            raise ImapError(_connection_reason(exc)) from None
        except OSError as exc:
            self.close()
            raise ImapError(_connection_reason(exc)) from None
        except imaplib.IMAP4.error as exc:
            word = _status_word(exc)
            raise ImapError(f"{what} failed ({word})" if word else f"{what} failed") from None
        if typ != "OK":
            word = _status_word(imaplib.IMAP4.error(data[-1] if data else b""))
            raise ImapError(f"{what} failed ({word})" if word else f"{what} failed")
        return data

    # --- reading and flagging ----------------------------------------------------------------

    def uids_after(self, last_uid: int) -> list[int]:
        """Every UID above ``last_uid`` in the folder, ascending, read or unread.

        ``UID SEARCH UID n:*`` also answers the highest UID when it is below n
        (``*`` is the largest UID and a range has no direction), so the answer is
        filtered."""
        if isinstance(last_uid, bool) or not isinstance(last_uid, int) or last_uid < 0:
            raise ValueError("last_uid must be a whole number >= 0")
        data = self._command("searching the folder", "SEARCH", "UID", f"{last_uid + 1}:*")
        found: set[int] = set()
        for line in data:
            if isinstance(line, bytes):
                found.update(int(token) for token in line.split() if token.isdigit())
        return sorted(uid for uid in found if uid > last_uid)

    def fetch(self, uids: list[int], *, max_bytes: int) -> Iterator[Fetched]:
        """The messages ``uids`` in ascending UID order, read with ``BODY.PEEK[]``
        (``\\Seen`` is not set). One larger than ``max_bytes`` (by the server's
        RFC822.SIZE, or by its bytes) comes with ``raw`` None and is not
        downloaded. A UID no longer in the folder (expunged meanwhile) is skipped."""
        if not uids:
            return
        wanted = sorted(set(uids))
        sizes: dict[int, int] = {}
        for chunk in _chunks(wanted, COMMAND_BATCH_UIDS):
            for uid, size, _raw in self._fetch_items(uid_set(chunk), "(UID RFC822.SIZE)", "reading message sizes"):
                if size is not None:
                    sizes[uid] = size
        batch: list[int] = []
        batch_bytes = 0
        for uid in wanted:
            if uid not in sizes:
                continue
            if sizes[uid] > max_bytes:
                yield from self._fetch_bodies(batch, max_bytes, sizes)
                batch, batch_bytes = [], 0
                yield Fetched(uid=uid, raw=None, size=sizes[uid])
                continue
            if batch and (len(batch) >= FETCH_BATCH_MESSAGES or batch_bytes + sizes[uid] > FETCH_BATCH_BYTES):
                yield from self._fetch_bodies(batch, max_bytes, sizes)
                batch, batch_bytes = [], 0
            batch.append(uid)
            batch_bytes += sizes[uid]
        yield from self._fetch_bodies(batch, max_bytes, sizes)

    def _fetch_bodies(self, batch: list[int], max_bytes: int, sizes: dict[int, int]) -> Iterator[Fetched]:
        if not batch:
            return
        bodies: dict[int, bytes] = {}
        if isinstance(self._imap, _LiteralCap):
            self._imap.max_literal = _literal_cap(max_bytes)
        try:
            for uid, _size, raw in self._fetch_items(uid_set(batch), "(UID BODY.PEEK[])", "fetching messages"):
                if raw is not None and uid in sizes:
                    bodies[uid] = raw
        finally:
            if self._imap is not None:
                self._imap.max_literal = BASE_LITERAL_BYTES
        for uid in batch:
            raw = bodies.get(uid)
            if raw is None:
                continue  # expunged between the size and the body
            if len(raw) > max_bytes:
                yield Fetched(uid=uid, raw=None, size=len(raw))
            else:
                yield Fetched(uid=uid, raw=raw, size=len(raw))

    def _fetch_items(self, uids: str, items: str, what: str) -> Iterator[tuple[int, int | None, bytes | None]]:
        """(uid, RFC822.SIZE or None, literal or None) per FETCH response.

        imaplib gives a FETCH response with a literal as ``(b'1 (UID 5 BODY[] {n}', literal)``
        followed by the rest of the line (``b')'``, or ``b' UID 5)'`` when the server
        names the UID after the body); a response without a literal is one bytes line.
        Responses without a UID (a flag change the server reports unasked) are skipped."""
        data = self._command(what, "FETCH", uids, items)
        responses: list[tuple[bytes, bytes | None]] = []
        for item in data:
            if isinstance(item, tuple):
                responses.append((item[0], item[1]))
            elif isinstance(item, bytes):
                if item[:1].isdigit() or not responses:
                    responses.append((item, None))
                else:
                    head, literal = responses[-1]
                    responses[-1] = (head + item, literal)
        for head, literal in responses:
            uid_match = _UID.search(head)
            if uid_match is None:
                continue
            size_match = _SIZE.search(head)
            yield int(uid_match.group(1)), int(size_match.group(1)) if size_match else None, literal

    def mark_seen(self, uids: list[int]) -> None:
        """Set ``\\Seen`` on ``uids`` (call only after what they became committed)."""
        if not uids:
            return
        for chunk in _chunks(sorted(set(uids)), COMMAND_BATCH_UIDS):
            self._command("marking messages as read", "STORE", uid_set(chunk), "+FLAGS.SILENT", "(\\Seen)")


def imap_check(settings: ImapSettings, *, ssl_context: ssl.SSLContext | None = None) -> str | None:
    """Connect, log in and open the folder: None when that works, else the reason
    (for "test connection" on the mailbox page)."""
    try:
        with ImapMailbox(settings, ssl_context=ssl_context):
            return None
    except ImapError as exc:
        return exc.reason
