"""One IMAP session (mail.imap.ImapMailbox) and the configuration check."""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from types import TracebackType

from helpdesk import outbound
from mail.imap.wire import (
    BASE_LITERAL_BYTES,
    COMMAND_BATCH_UIDS,
    FETCH_BATCH_BYTES,
    FETCH_BATCH_MESSAGES,
    SIZE_PATTERN,
    UID_PATTERN,
    CheckedIMAP4,
    CheckedIMAP4SSL,
    Fetched,
    ImapError,
    ImapSettings,
    LiteralCap,
    chunks,
    connection_reason,
    encode_folder,
    literal_cap,
    status_word,
    tls_context,
    uid_set,
)


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
                imap: imaplib.IMAP4 = CheckedIMAP4SSL(
                    settings.host, settings.port, ssl_context=context, timeout=settings.timeout
                )
            else:
                imap = CheckedIMAP4(settings.host, settings.port, timeout=settings.timeout)
        except (outbound.OutboundRefused, OSError, imaplib.IMAP4.error) as exc:
            raise ImapError(connection_reason(exc)) from None
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
            raise ImapError(connection_reason(exc)) from None

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
            raise ImapError(connection_reason(exc)) from None
        except imaplib.IMAP4.error as exc:
            word = status_word(exc)
            raise ImapError(f"login failed ({word})" if word else "login failed") from None
        except OSError as exc:
            raise ImapError(connection_reason(exc)) from None

    def _select(self, imap: imaplib.IMAP4, folder: str) -> None:
        try:
            typ, data = imap.select(folder)
        except imaplib.IMAP4.readonly:
            raise ImapError("the folder is read-only") from None
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise ImapError(connection_reason(exc)) from None
        except imaplib.IMAP4.error:
            raise ImapError("the folder could not be opened") from None
        if typ != "OK":
            word = status_word(imaplib.IMAP4.error(data[-1] if data else b""))
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
            raise ImapError(connection_reason(exc)) from None
        except OSError as exc:
            self.close()
            raise ImapError(connection_reason(exc)) from None
        except imaplib.IMAP4.error as exc:
            word = status_word(exc)
            raise ImapError(f"{what} failed ({word})" if word else f"{what} failed") from None
        if typ != "OK":
            word = status_word(imaplib.IMAP4.error(data[-1] if data else b""))
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
        for chunk in chunks(wanted, COMMAND_BATCH_UIDS):
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
        if isinstance(self._imap, LiteralCap):
            self._imap.max_literal = literal_cap(max_bytes)
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
            uid_match = UID_PATTERN.search(head)
            if uid_match is None:
                continue
            size_match = SIZE_PATTERN.search(head)
            yield int(uid_match.group(1)), int(size_match.group(1)) if size_match else None, literal

    def mark_seen(self, uids: list[int]) -> None:
        """Set ``\\Seen`` on ``uids`` (call only after what they became committed)."""
        if not uids:
            return
        for chunk in chunks(sorted(set(uids)), COMMAND_BATCH_UIDS):
            self._command("marking messages as read", "STORE", uid_set(chunk), "+FLAGS.SILENT", "(\\Seen)")


def imap_check(settings: ImapSettings, *, ssl_context: ssl.SSLContext | None = None) -> str | None:
    """Connect, log in and open the folder: None when that works, else the reason
    (for "test connection" on the mailbox page)."""
    try:
        with ImapMailbox(settings, ssl_context=ssl_context):
            return None
    except ImapError as exc:
        return exc.reason
