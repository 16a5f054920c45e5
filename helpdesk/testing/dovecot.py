"""A throw-away Dovecot IMAP server (Debian's ``dovecot-imapd``) for tests.

:func:`dovecot_server` starts ``/usr/sbin/dovecot -F -c <conf>`` on free ports of
127.0.0.1 with everything of its own: base and state directories, a log file,
a passwd-file of users with plain passwords, maildirs. It never touches a system
Dovecot (which the package may have started on 143 and 993): its ports, sockets
and pid file are its own, so any number run side by side.

With ``tls`` the server also speaks TLS: STARTTLS on the plain port and an imaps
port, with a certificate for ``localhost`` and ``127.0.0.1`` signed by a test
CA of its own (``ca_path``; trust it with ``ssl.create_default_context(cafile=...)``).
Without it (``ssl = no``) the server offers no STARTTLS.

The helpers (:meth:`DovecotServer.append`, :meth:`~DovecotServer.flags`, ...)
talk IMAP with imaplib as a mail client would, on the plain port; they are the
test's own hands, not the code under test, and ignore the outbound policy.

Dovecot refuses to run its login processes and the mail of a user as root. As
root (CI) the login processes run as ``nobody`` and the mail belongs to
``nobody``; otherwise everything runs as the current user.
"""

from __future__ import annotations

import getpass
import imaplib
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from helpdesk.testing.network import free_port
from helpdesk.testing.processes import Proc
from helpdesk.testing.waiting import wait_until

BINARY = "/usr/sbin/dovecot"
HOST = "127.0.0.1"
START_SECONDS = 10.0  # it starts in well under a second; the margin is for a loaded CI machine
DEFAULT_USERS = {"support": "support-secret"}


def require_dovecot() -> str:
    """The dovecot binary; skip without it on a developer's machine, fail in CI (``.ci/run`` installs it)."""
    import pytest

    binary = shutil.which("dovecot", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")) or BINARY
    if not os.access(binary, os.X_OK):
        message = f"needs Dovecot at {BINARY} (apt-get install dovecot-imapd)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


# --- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A test CA and a server certificate it signed (PEM files)."""

    ca_path: Path
    cert_path: Path
    key_path: Path


def make_certificates(directory: Path, *, names: Iterable[str] = ("localhost", HOST)) -> Certificates:
    """A CA and a server certificate for ``names`` (host names and IP addresses)
    with ``openssl`` (EC keys: milliseconds)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_path = directory / "ca.key", directory / "ca.pem"
    key_path, csr_path, cert_path = directory / "server.key", directory / "server.csr", directory / "server.pem"
    extensions = directory / "server.ext"
    alt_names = [f"IP:{name}" if _is_address(name) else f"DNS:{name}" for name in names]
    extensions.write_text(
        f"subjectAltName={','.join(alt_names)}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        ["openssl", "req", "-x509", *new_key, "-days", "2", "-subj", "/CN=helpdesk test CA",
         "-keyout", ca_key, "-out", ca_path,
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *new_key, "-subj", "/CN=localhost", "-keyout", key_path, "-out", csr_path],
        ["openssl", "x509", "-req", "-in", csr_path, "-CA", ca_path, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-extfile", extensions, "-out", cert_path],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=30)
    return Certificates(ca_path=ca_path, cert_path=cert_path, key_path=key_path)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


# --- the server -----------------------------------------------------------------------------------


def _quoted(mailbox: str) -> str:
    """An IMAP mailbox argument: quoted unless the caller quoted it already (modified UTF-7 names)."""
    if mailbox.startswith('"'):
        return mailbox
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class DovecotServer:
    """A running Dovecot: ``port`` plain (STARTTLS too with TLS), ``ssl_port`` imaps
    (None without TLS), ``users`` name -> password, ``ca_path`` the CA to trust."""

    host: str
    port: int
    ssl_port: int | None
    users: dict[str, str]
    ca_path: Path | None
    proc: Proc
    runtime_dir: Path
    log_path: Path
    _stopped: bool = field(default=False, repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def assert_alive(self) -> None:
        self.proc.assert_alive()

    def trusting_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's test CA (and verifies host names)."""
        assert self.ca_path is not None, "started without tls"
        return ssl.create_default_context(cafile=str(self.ca_path))

    @contextmanager
    def client(self, user: str) -> Iterator[imaplib.IMAP4]:
        """An imaplib session logged in as ``user`` on the plain port."""
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            imap.login(user, self.users[user])
            yield imap
        finally:
            try:
                imap.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def append(self, user: str, raw: bytes, flags: Iterable[str] = (), *, folder: str = "INBOX") -> int:
        """Deliver ``raw`` into ``folder`` of ``user`` with ``flags`` (``"\\\\Seen"``, ...); its UID."""
        with self.client(user) as imap:
            flag_list = "(" + " ".join(flags) + ")" if flags else None
            typ, data = imap.append(_quoted(folder), flag_list, None, raw)
            assert typ == "OK", data
            match = re.search(rb"APPENDUID \d+ (\d+)", data[-1])
            assert match, data
            return int(match.group(1))

    def flags(self, user: str, uid: int, *, folder: str = "INBOX") -> set[str]:
        """The flags of message ``uid`` (without changing them: the mailbox is EXAMINEd)."""
        with self.client(user) as imap:
            typ, _ = imap.select(_quoted(folder), readonly=True)
            assert typ == "OK"
            typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
            assert typ == "OK" and data and data[0], (typ, data)
            match = re.search(rb"FLAGS \(([^)]*)\)", data[0])
            assert match, data
            return {flag.decode() for flag in match.group(1).split()}

    def count(self, user: str, *, folder: str = "INBOX") -> int:
        """How many messages ``folder`` of ``user`` holds."""
        with self.client(user) as imap:
            typ, data = imap.status(_quoted(folder), "(MESSAGES)")
            assert typ == "OK", data
            return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))

    def uidvalidity(self, user: str, *, folder: str = "INBOX") -> int:
        with self.client(user) as imap:
            typ, data = imap.status(_quoted(folder), "(UIDVALIDITY)")
            assert typ == "OK", data
            return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))

    def create_folder(self, user: str, folder: str) -> None:
        """Create ``folder`` (a plain name, or one already quoted in modified UTF-7)."""
        with self.client(user) as imap:
            typ, data = imap.create(_quoted(folder))
            assert typ == "OK", data

    def delete_folder(self, user: str, folder: str) -> None:
        """Delete ``folder``; created again it gets a new UIDVALIDITY."""
        with self.client(user) as imap:
            typ, data = imap.delete(_quoted(folder))
            assert typ == "OK", data

    def stop(self) -> None:
        """SIGTERM to the server's process group (SIGKILL if it lingers); idempotent."""
        if not self._stopped:
            self._stopped = True
            self.proc.stop()

    def kill(self) -> None:
        """SIGKILL to the process group of the master's pid: the master and every session vanish without a goodbye."""
        if not self._stopped:
            self._stopped = True
            try:
                os.killpg(self.proc.process.pid, signal.SIGKILL)  # the group: the sessions die too
            except ProcessLookupError:
                pass
            self.proc.process.wait(timeout=10)


def _greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _config(
    *,
    runtime: Path,
    log_path: Path,
    users_path: Path,
    port: int,
    ssl_port: int | None,
    certificates: Certificates | None,
) -> str:
    if os.geteuid() == 0:
        mail_owner = pwd.getpwnam("nobody")
        login_user, internal_user = mail_owner.pw_name, "root"
        login_chroot = ""  # the default: chroot into base_dir/login, so nobody reaches its sockets
    else:
        mail_owner = pwd.getpwuid(os.getuid())
        login_user = internal_user = getpass.getuser()
        login_chroot = "  chroot =\n"  # only root may chroot
    mail = runtime / "mail"
    lines = [
        f"base_dir = {runtime / 'run'}",
        f"state_dir = {runtime / 'state'}",
        f"instance_name = helpdesk-test-{port}",
        f"listen = {HOST}",
        "protocols = imap",
        f"log_path = {log_path}",
        f"default_internal_user = {internal_user}",
        f"default_login_user = {login_user}",
        "first_valid_uid = 1",
        "disable_plaintext_auth = no",
        "auth_mechanisms = plain login",
        "auth_failure_delay = 0",
        f"mail_location = maildir:{mail}/%n/Maildir",
        "passdb {",
        "  driver = passwd-file",
        f"  args = scheme=PLAIN username_format=%n {users_path}",
        "}",
        "userdb {",
        "  driver = passwd-file",
        f"  args = username_format=%n {users_path}",
        f"  default_fields = uid={mail_owner.pw_uid} gid={mail_owner.pw_gid} home={mail}/%n",
        "}",
        "service imap-login {",
        login_chroot.rstrip("\n"),
        "  inet_listener imap {",
        f"    address = {HOST}",
        f"    port = {port}",
        "  }",
    ]
    if certificates is not None and ssl_port is not None:
        lines += ["  inet_listener imaps {", f"    address = {HOST}", f"    port = {ssl_port}", "    ssl = yes", "  }"]
    lines += ["}"]
    # No growing delay after failed logins from 127.0.0.1 (the tests fail logins on purpose).
    lines += ["service anvil {", "  unix_listener anvil-auth-penalty {", "    mode = 0", "  }", "}"]
    if certificates is not None:
        lines += ["ssl = yes", f"ssl_cert = <{certificates.cert_path}", f"ssl_key = <{certificates.key_path}"]
    else:
        lines += ["ssl = no"]
    return "\n".join(line for line in lines if line) + "\n"


@contextmanager
def dovecot_server(
    directory: Path,
    *,
    users: dict[str, str] | None = None,
    tls: bool = False,
    certificate_names: Iterable[str] = ("localhost", HOST),
) -> Iterator[DovecotServer]:
    """A Dovecot of this block's own, answering IMAP on 127.0.0.1, stopped (and its
    mail removed) on exit. Its configuration and log stay in ``directory``. With
    ``tls`` its certificate holds ``certificate_names`` (leave one out to see a
    client refuse the name it connected to)."""
    binary = require_dovecot()
    users = dict(users or DEFAULT_USERS)
    directory.mkdir(parents=True, exist_ok=True)
    # Sockets live under base_dir and a unix socket path holds 107 bytes: a short
    # directory of its own, not the test's deep tmp_path.
    runtime = Path(tempfile.mkdtemp(prefix="hd-dovecot-"))
    server: DovecotServer | None = None
    try:
        os.chmod(runtime, 0o711)  # the mail owner (nobody under root) passes through to mail/
        (runtime / "mail").mkdir()
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(runtime / "mail", nobody.pw_uid, nobody.pw_gid)
        certificates = make_certificates(directory / "tls", names=certificate_names) if tls else None
        users_path = directory / "users"
        users_path.write_text("".join(f"{name}:{{PLAIN}}{password}::::::\n" for name, password in users.items()))
        port = free_port()
        ssl_port = free_port() if tls else None
        log_path = directory / "dovecot.log"
        config_path = directory / "dovecot.conf"
        config_path.write_text(
            _config(
                runtime=runtime,
                log_path=log_path,
                users_path=users_path,
                port=port,
                ssl_port=ssl_port,
                certificates=certificates,
            )
        )
        proc = Proc.start("dovecot", [binary, "-F", "-c", str(config_path)], None, directory / "dovecot.out")
        server = DovecotServer(
            host=HOST,
            port=port,
            ssl_port=ssl_port,
            users=users,
            ca_path=certificates.ca_path if certificates else None,
            proc=proc,
            runtime_dir=runtime,
            log_path=log_path,
        )
        wait_until(
            lambda: _greets(HOST, port) and (ssl_port is None or _greets_tls(HOST, ssl_port)),
            f"dovecot answering on {HOST}:{port}",
            START_SECONDS,
            check=proc.assert_alive,
            details=lambda: server.log()[-3000:] + proc.log()[-1000:],
        )
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def _greets_tls(host: str, port: int) -> bool:
    """The imaps port accepts connections (the handshake itself is what the tests exercise)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
