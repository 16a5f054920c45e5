"""The IMAP client against a real Dovecot (helpdesk.testing.dovecot): plaintext, imaps
and STARTTLS with the test CA trusted or not, the failures a manager sees (wrong
password, missing folder, policy, a server that goes away), and the semantics the
poller's exactly-once rests on (UIDs above a mark, fetching without \\Seen, \\Seen
only when asked, UIDVALIDITY)."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator

import pytest

from helpdesk.testing.dovecot import DovecotServer, dovecot_server
from helpdesk.testing.network import free_port
from mail.imap import Fetched, ImapError, ImapMailbox, ImapSettings, imap_check, session
from mail.imap.wire import encode_folder, uid_set

PASSWORD = 's3cret-"quoted"-\\back'
USERS = {"support": PASSWORD, "umlaut": "pässwörd-ß"}


def message(subject: str, body: str = "Hello.\r\n", *, extra: str = "") -> bytes:
    return (
        f"From: Customer <customer@example.com>\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@example.com>\r\n{extra}\r\n{body}"
    ).encode()


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory) -> Iterator[DovecotServer]:
    """One Dovecot for the module, with TLS (STARTTLS on ``port``, imaps on ``ssl_port``)
    and a certificate for ``localhost`` only: TLS tests connect by that name."""
    directory = tmp_path_factory.mktemp("dovecot")
    with dovecot_server(directory, users=USERS, tls=True, certificate_names=["localhost"]) as server:
        yield server


@pytest.fixture(scope="module")
def plain_dovecot(tmp_path_factory) -> Iterator[DovecotServer]:
    """A Dovecot without TLS at all (``ssl = no``: no STARTTLS, no imaps)."""
    with dovecot_server(tmp_path_factory.mktemp("plain-dovecot"), users=USERS) as server:
        yield server


_folders = itertools.count(1)


@pytest.fixture
def folder(dovecot) -> str:
    """A folder of this test's own, so tests do not see each other's messages."""
    name = f"Test{next(_folders)}"
    dovecot.create_folder("support", name)
    return name


def plain(server: DovecotServer, folder: str = "INBOX", **overrides) -> ImapSettings:
    values = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": "support",
        "password": PASSWORD,
        "folder": folder,
        "timeout": 5.0,
    }
    return ImapSettings(**{**values, **overrides})


# --- connecting -----------------------------------------------------------------------------------


def test_plaintext_login_selects_the_folder_and_reads_its_uidvalidity(dovecot, folder, outbound_allow_loopback):
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        assert mailbox.uidvalidity == dovecot.uidvalidity("support", folder=folder)
        assert mailbox.uids_after(0) == []


def test_imaps_with_the_test_ca_trusted(dovecot, folder, outbound_allow_loopback):
    uid = dovecot.append("support", message("over imaps"), folder=folder)
    settings = plain(dovecot, folder, host="localhost", port=dovecot.ssl_port, security="ssl")
    with ImapMailbox(settings, ssl_context=dovecot.trusting_context()) as mailbox:
        assert mailbox.uids_after(0) == [uid]
        assert mailbox._imap.sock.version().startswith("TLS")


def test_starttls_with_the_ca_from_the_setting(dovecot, folder, outbound_allow_loopback, settings):
    settings.HELPDESK_MAIL_CA_FILE = str(dovecot.ca_path)
    with ImapMailbox(plain(dovecot, folder, host="localhost", security="starttls")) as mailbox:
        assert mailbox._imap._tls_established
        assert mailbox._imap.sock.version().startswith("TLS")
        assert mailbox.uidvalidity > 0


def test_an_unreadable_ca_file_is_a_reason_not_a_crash(dovecot, outbound_allow_loopback, settings, tmp_path):
    settings.HELPDESK_MAIL_CA_FILE = str(tmp_path / "missing.pem")
    settings_ = plain(dovecot, host="localhost", port=dovecot.ssl_port, security="ssl")
    assert imap_check(settings_) == "HELPDESK_MAIL_CA_FILE cannot be read as PEM certificates"
    (tmp_path / "garbage.pem").write_text("not a certificate")
    settings.HELPDESK_MAIL_CA_FILE = str(tmp_path / "garbage.pem")
    assert imap_check(settings_) == "HELPDESK_MAIL_CA_FILE cannot be read as PEM certificates"
    assert imap_check(plain(dovecot)) is None  # plaintext needs no CA


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_an_untrusted_certificate_is_refused(dovecot, security, outbound_allow_loopback):
    port = dovecot.ssl_port if security == "ssl" else dovecot.port
    settings = plain(dovecot, host="localhost", port=port, security=security)
    with pytest.raises(ImapError) as caught:
        ImapMailbox(settings).open()  # the system's trust store knows nothing of the test CA
    assert caught.value.reason.startswith("the server's certificate could not be verified")
    assert imap_check(settings) == caught.value.reason


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_a_certificate_for_another_name_is_refused(dovecot, security, outbound_allow_loopback):
    """The certificate names localhost; the same server reached as 127.0.0.1 is not trusted."""
    port = dovecot.ssl_port if security == "ssl" else dovecot.port
    context = dovecot.trusting_context()
    assert imap_check(plain(dovecot, host="localhost", port=port, security=security), ssl_context=context) is None
    reason = imap_check(plain(dovecot, host="127.0.0.1", port=port, security=security), ssl_context=context)
    assert reason.startswith("the server's certificate could not be verified (IP address mismatch")


def test_starttls_on_a_server_without_tls(plain_dovecot, outbound_allow_loopback):
    assert imap_check(plain(plain_dovecot, security="starttls")) == "the server does not offer STARTTLS"


def test_imaps_against_a_plaintext_port_fails_the_handshake(plain_dovecot, outbound_allow_loopback):
    assert imap_check(plain(plain_dovecot, security="ssl")) == "the TLS handshake failed"


def test_a_wrong_password_is_refused_without_showing_it(dovecot, outbound_allow_loopback):
    settings = plain(dovecot, password="wrong-" + PASSWORD)
    with pytest.raises(ImapError) as caught:
        ImapMailbox(settings).open()
    assert caught.value.reason == "login failed (AUTHENTICATIONFAILED)"
    assert "wrong" not in str(caught.value) and PASSWORD not in repr(settings)
    assert caught.value.__context__ is None or PASSWORD not in str(caught.value.__context__)


def test_an_unknown_user_is_refused_like_a_wrong_password(dovecot, outbound_allow_loopback):
    assert imap_check(plain(dovecot, username="nobody-here")) == "login failed (AUTHENTICATIONFAILED)"


def test_a_password_beyond_ascii_logs_in_with_authenticate_plain(dovecot, outbound_allow_loopback):
    settings = plain(dovecot, username="umlaut", password=USERS["umlaut"])
    assert imap_check(settings) is None
    assert imap_check(plain(dovecot, username="umlaut", password="pässwort")) == "login failed (AUTHENTICATIONFAILED)"


def test_control_characters_in_credentials_never_reach_the_server(dovecot, outbound_allow_loopback):
    reason = imap_check(plain(dovecot, password='x"\r\na2 DELETE INBOX'))
    assert reason == "the user name or password holds control characters"


def test_a_missing_folder(dovecot, outbound_allow_loopback):
    assert imap_check(plain(dovecot, folder="Does Not Exist")) == "the folder does not exist"


def test_a_folder_name_beyond_ascii(dovecot, outbound_allow_loopback):
    dovecot.create_folder("support", '"Eing&AOQ-nge Kunden"')  # "Eingänge Kunden" in modified UTF-7
    with ImapMailbox(plain(dovecot, "Eingänge Kunden")) as mailbox:
        assert mailbox.uidvalidity == dovecot.uidvalidity("support", folder='"Eing&AOQ-nge Kunden"')


def test_the_outbound_policy_refuses_loopback_before_connecting(dovecot):
    """Without ``outbound_allow_loopback`` the policy is the product's: no connection is made."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings = plain(dovecot, port=listener.getsockname()[1])
        with pytest.raises(ImapError) as caught:
            ImapMailbox(settings).open()
        assert caught.value.reason == "refused by the outbound policy: loopback address"
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert imap_check(plain(dovecot)) == "refused by the outbound policy: loopback address"


def test_the_products_own_broker_is_refused_even_with_loopback_allowed(dovecot, outbound_allow_loopback, settings):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        assert imap_check(plain(dovecot, port=port)) == "refused by the outbound policy: this server's own broker"
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_a_host_that_does_not_resolve():
    settings = ImapSettings(host="mail.helpdesk-test.invalid", port=993, security="ssl", username="u", password="p")
    assert imap_check(settings) == "the host name does not resolve"


def test_nothing_listening(outbound_allow_loopback):
    settings = ImapSettings(host="127.0.0.1", port=free_port(), security="none", username="u", password="p")
    assert imap_check(settings) == "the connection was refused"


def test_a_server_that_never_greets_times_out(outbound_allow_loopback):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        settings = ImapSettings(
            host="127.0.0.1", port=listener.getsockname()[1], security="none", username="u", password="p", timeout=0.5
        )
        assert imap_check(settings) == "the server did not answer in time"


def test_a_server_that_speaks_something_else(outbound_allow_loopback):
    """An HTTP server (or anything not IMAP) at the address: a short reason, no server text."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def greet() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request secret-server-banner\r\n\r\n")

        thread = threading.Thread(target=greet, daemon=True)
        thread.start()
        settings = ImapSettings(
            host="127.0.0.1", port=listener.getsockname()[1], security="none", username="u", password="p", timeout=2
        )
        reason = imap_check(settings)
        thread.join(timeout=5)
    assert reason == "the server closed the connection"


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_the_server_going_away_mid_session(tmp_path, how, outbound_allow_loopback):
    with dovecot_server(tmp_path / "dovecot", users=USERS) as server:
        uid = server.append("support", message("before the end"))
        mailbox = ImapMailbox(plain(server))
        mailbox.open()
        assert mailbox.uids_after(0) == [uid]
        server.stop() if how == "stop" else server.kill()
        with pytest.raises(ImapError) as caught:
            mailbox.uids_after(0)
        assert caught.value.reason == "the server closed the connection"
        with pytest.raises(ImapError, match="not open"):
            mailbox.mark_seen([uid])
        mailbox.close()  # closing again is harmless


# --- reading and flagging ---------------------------------------------------------------------


def test_uids_after_lists_every_uid_above_the_mark_read_or_not(dovecot, folder, outbound_allow_loopback):
    first = dovecot.append("support", message("first"), folder=folder)
    second = dovecot.append("support", message("second"), ["\\Seen"], folder=folder)
    third = dovecot.append("support", message("third"), folder=folder)
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        assert mailbox.uids_after(0) == [first, second, third]
        assert mailbox.uids_after(first) == [second, third]
        # "UID n:*" with n above every UID still matches the highest one: filtered out.
        assert mailbox.uids_after(third) == []
        assert mailbox.uids_after(third + 100) == []
        assert mailbox.uidnext == third + 1  # "from now on" starts at uidnext - 1
        with pytest.raises(ValueError):
            mailbox.uids_after(-1)


def test_fetch_reads_the_bytes_without_setting_seen_and_mark_seen_sets_it(dovecot, folder, outbound_allow_loopback):
    raws = [message(f"message {n}", f"Body {n} \u00e9t\u00e9\r\n".encode().decode("latin-1")) for n in range(3)]
    uids = [dovecot.append("support", raw, folder=folder) for raw in raws]
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        fetched = list(mailbox.fetch(list(reversed(uids)), max_bytes=1_000_000))
        assert [item.uid for item in fetched] == uids  # ascending, whatever the order asked
        assert [item.raw for item in fetched] == raws
        assert all(item.size == len(item.raw) and not item.too_large for item in fetched)
        assert all("\\Seen" not in dovecot.flags("support", uid, folder=folder) for uid in uids)

        mailbox.mark_seen(uids[:2])
        mailbox.mark_seen([])
    assert ["\\Seen" in dovecot.flags("support", uid, folder=folder) for uid in uids] == [True, True, False]


def test_a_message_over_max_bytes_is_reported_not_downloaded(dovecot, folder, outbound_allow_loopback):
    small = dovecot.append("support", message("small"), folder=folder)
    big_raw = message("big", "x" * 5000 + "\r\n")
    big = dovecot.append("support", big_raw, folder=folder)
    after = dovecot.append("support", message("after"), folder=folder)
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        fetched = list(mailbox.fetch([small, big, after], max_bytes=4000))
    assert [(item.uid, item.raw is None) for item in fetched] == [(small, False), (big, True), (after, False)]
    assert fetched[1] == Fetched(uid=big, raw=None, size=len(big_raw))
    assert fetched[1].too_large
    assert "\\Seen" not in dovecot.flags("support", big, folder=folder)


def test_a_literal_beyond_the_cap_ends_the_session(dovecot, folder, outbound_allow_loopback, monkeypatch):
    """imaplib would read whatever size a server announces; past the cap the session ends
    (a server claiming a small RFC822.SIZE and sending gigabytes)."""
    uid = dovecot.append("support", message("announced small", "y" * 2000 + "\r\n"), folder=folder)
    monkeypatch.setattr(session, "literal_cap", lambda max_bytes: 100)
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        with pytest.raises(ImapError) as caught:
            list(mailbox.fetch([uid], max_bytes=100_000))
        assert caught.value.reason == "the server sent far more than it announced"
    assert "\\Seen" not in dovecot.flags("support", uid, folder=folder)


def test_fetch_in_batches_keeps_the_order(dovecot, folder, outbound_allow_loopback, monkeypatch):
    monkeypatch.setattr(session, "FETCH_BATCH_MESSAGES", 2)
    monkeypatch.setattr(session, "COMMAND_BATCH_UIDS", 3)
    raws = [message(f"batch {n}") for n in range(7)]
    uids = [dovecot.append("support", raw, folder=folder) for raw in raws]
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        fetched = list(mailbox.fetch(uids, max_bytes=100_000))
        mailbox.mark_seen(uids)
    assert [(item.uid, item.raw) for item in fetched] == list(zip(uids, raws, strict=True))
    assert all("\\Seen" in dovecot.flags("support", uid, folder=folder) for uid in uids)


def test_fetch_skips_uids_that_are_not_there(dovecot, folder, outbound_allow_loopback):
    uid = dovecot.append("support", message("there"), folder=folder)
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        assert [item.uid for item in mailbox.fetch([uid, uid + 1, uid + 50], max_bytes=100_000)] == [uid]
        assert list(mailbox.fetch([], max_bytes=100_000)) == []


def test_the_session_never_expunges(dovecot, folder, outbound_allow_loopback):
    """A message someone flagged \\Deleted stays: the session ends with LOGOUT, not CLOSE."""
    uid = dovecot.append("support", message("deleted by a person"), ["\\Deleted"], folder=folder)
    with ImapMailbox(plain(dovecot, folder)) as mailbox:
        assert mailbox.uids_after(0) == [uid]
        mailbox.mark_seen([uid])
    assert dovecot.count("support", folder=folder) == 1
    assert {"\\Deleted", "\\Seen"} <= dovecot.flags("support", uid, folder=folder)


def test_a_recreated_folder_has_a_new_uidvalidity(dovecot, outbound_allow_loopback):
    """What the poller watches for: UIDs start again, the stored last_uid means nothing."""
    dovecot.create_folder("support", "Recreated")
    dovecot.append("support", message("old"), folder="Recreated")
    with ImapMailbox(plain(dovecot, "Recreated")) as mailbox:
        before = mailbox.uidvalidity
    dovecot.delete_folder("support", "Recreated")
    dovecot.create_folder("support", "Recreated")
    uid = dovecot.append("support", message("new"), folder="Recreated")
    with ImapMailbox(plain(dovecot, "Recreated")) as mailbox:
        assert mailbox.uidvalidity != before
        assert mailbox.uids_after(0) == [uid]


# --- pure pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("INBOX", '"INBOX"'),
        ("Eingänge", '"Eing&AOQ-nge"'),
        ("A&B", '"A&-B"'),
        ("~peter/mail/台北/日本語", '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'),  # RFC 3501 5.1.3
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
    ],
)
def test_encode_folder(name, encoded):
    assert encode_folder(name) == encoded


@pytest.mark.parametrize("name", ["", "a\r\nb", "tab\there"])
def test_encode_folder_refuses(name):
    with pytest.raises(ImapError):
        encode_folder(name)


def test_uid_set():
    assert uid_set([9, 1, 2, 3, 7, 10, 3]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


def test_settings_validate_and_hide_the_password():
    with pytest.raises(ValueError):
        ImapSettings(host="h", port=993, security="tls", username="u", password="p")
    with pytest.raises(ValueError):
        ImapSettings(host="h", port=0, security="ssl", username="u", password="p")
    assert "p4ss" not in repr(ImapSettings(host="h", port=993, security="ssl", username="u", password="p4ss"))
