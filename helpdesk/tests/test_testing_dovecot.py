"""The throw-away Dovecot of the test support (helpdesk.testing.dovecot): quick to start,
its own ports and processes, helpers that see what a mail client sees, and nothing left
running after it stops."""

from __future__ import annotations

import imaplib
import ssl
import time

import pytest

from helpdesk.testing.dovecot import dovecot_server
from helpdesk.testing.processes import gone


def test_two_servers_side_by_side_start_quickly_and_leave_nothing_behind(tmp_path):
    started = time.monotonic()
    with (
        dovecot_server(tmp_path / "one", users={"a": "pw-a"}) as one,
        dovecot_server(tmp_path / "two", users={"a": "other-pw"}, tls=True) as two,
    ):
        assert time.monotonic() - started < 3.0
        assert len({one.port, two.port, two.ssl_port}) == 3 and one.ssl_port is None
        uid = one.append("a", b"Subject: one\r\n\r\nbody\r\n")
        assert (one.count("a"), two.count("a")) == (1, 0)  # separate mail
        assert "\\Seen" not in one.flags("a", uid)
        seen = two.append("a", b"Subject: two\r\n\r\nbody\r\n", ["\\Seen", "\\Flagged"])
        assert {"\\Seen", "\\Flagged"} <= two.flags("a", seen)
        assert one.uidvalidity("a") > 0
        pids = [one.proc.process.pid, two.proc.process.pid]
        runtime_dirs = [one.runtime_dir, two.runtime_dir]
    assert all(gone(pid) for pid in pids)
    assert not any(path.exists() for path in runtime_dirs)


def test_tls_speaks_imaps_and_starttls_with_the_test_ca(tmp_path):
    with dovecot_server(tmp_path, users={"a": "pw"}, tls=True) as server:
        with imaplib.IMAP4_SSL("localhost", server.ssl_port, ssl_context=server.trusting_context()) as imaps:
            assert imaps.login("a", "pw")[0] == "OK"
        with imaplib.IMAP4(server.host, server.port) as plain:
            plain.starttls(server.trusting_context())
            assert plain.login("a", "pw")[0] == "OK"
        with pytest.raises(ssl.SSLCertVerificationError):
            imaplib.IMAP4_SSL("localhost", server.ssl_port, ssl_context=ssl.create_default_context())


def test_without_tls_there_is_no_starttls(tmp_path):
    with dovecot_server(tmp_path) as server, imaplib.IMAP4(server.host, server.port) as plain:
        assert "STARTTLS" not in plain.capabilities
        assert server.ca_path is None
