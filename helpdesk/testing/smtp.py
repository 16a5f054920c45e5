"""A real SMTP receiver for tests: aiosmtpd in a process of its own.

:func:`smtp_receiver` starts this file as a script (``python -I smtp.py --port N
--directory D``: it imports only the standard library and aiosmtpd, not the
project, and starts in a fraction of a second) on a free port of 127.0.0.1. Every message it accepts lands in the
directory as ``<n>.eml`` (the bytes as received after DATA) and ``<n>.json``
(envelope sender and recipients), the JSON written last and renamed into place,
so a reader never sees half a message. :func:`received` reads them back parsed
with ``email.policy.default``. No AUTH and no STARTTLS: the receiver stands for
a relay on a trusted network.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import smtplib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the receiving process imports nothing of the project
    from helpdesk.testing.processes import Proc

HOST = "127.0.0.1"
START_SECONDS = 15.0


@dataclass(frozen=True)
class Received:
    """One message as the receiver got it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


def received(directory: Path) -> list[Received]:
    """Every message received into ``directory``, in the order they arrived."""
    messages = []
    for meta_path in sorted(directory.glob("*.json"), key=lambda path: int(path.stem)):
        meta = json.loads(meta_path.read_text())
        raw = meta_path.with_suffix(".eml").read_bytes()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        messages.append(Received(mail_from=meta["mail_from"], rcpt_tos=meta["rcpt_tos"], raw=raw, message=parsed))
    return messages


@dataclass
class SmtpReceiver:
    """A running receiver: send to ``host``:``port``, read with :meth:`messages`."""

    host: str
    port: int
    directory: Path
    proc: Proc

    def messages(self) -> list[Received]:
        return received(self.directory)

    def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        """The messages once at least ``count`` arrived."""
        from helpdesk.testing.waiting import wait_until

        wait_until(
            lambda: len(self.messages()) >= count,
            f"{count} message(s) received",
            seconds,
            check=self.proc.assert_alive,
            details=lambda: self.proc.log()[-2000:],
        )
        return self.messages()

    def stop(self) -> None:
        self.proc.stop()


def _answers(host: str, port: int) -> bool:
    try:
        with smtplib.SMTP(host, port, timeout=1) as client:
            return client.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


@contextmanager
def smtp_receiver(directory: Path) -> Iterator[SmtpReceiver]:
    """A receiver of this block's own writing into ``directory``/``messages``; stopped on exit."""
    from helpdesk.testing.network import free_port
    from helpdesk.testing.processes import Proc
    from helpdesk.testing.waiting import wait_until

    inbox = directory / "messages"
    inbox.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # -I: the script's own directory (helpdesk/testing) stays off sys.path, so its modules shadow nothing
    command = [sys.executable, "-I", str(Path(__file__).resolve()), "--port", str(port), "--directory", str(inbox)]
    proc = Proc.start("smtp receiver", command, None, directory / "smtp.log")
    try:
        wait_until(
            lambda: _answers(HOST, port),
            f"SMTP receiver answering on {HOST}:{port}",
            START_SECONDS,
            check=proc.assert_alive,
            details=lambda: proc.log()[-2000:],
        )
        yield SmtpReceiver(host=HOST, port=port, directory=inbox, proc=proc)
    finally:
        proc.stop()


# --- the receiving process --------------------------------------------------------------------------


class _Writer:
    """aiosmtpd handler: each message to a file pair, numbered in arrival order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        number = next(self.numbers)
        (self.directory / f"{number}.eml").write_bytes(envelope.original_content or envelope.content)
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "received_at": time.time()}
        partial = self.directory / f"{number}.json.part"
        partial.write_text(json.dumps(meta))
        os.replace(partial, self.directory / f"{number}.json")
        return "250 Message accepted for delivery"


def _serve(port: int, directory: Path) -> None:
    from aiosmtpd.smtp import SMTP

    handler = _Writer(directory)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True, hostname="receiver.test"), HOST, port)
    )
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Receive SMTP into a directory (tests).")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", type=Path, required=True)
    arguments = parser.parse_args()
    _serve(arguments.port, arguments.directory)
