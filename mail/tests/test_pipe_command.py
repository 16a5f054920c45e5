"""The MTA's pipe as an MTA runs it: ``python manage.py mail_ingest --mailbox NAME``
in a process of its own on the test database, the message on standard input, the
exit status what the MTA acts on (0 stored, 67 no such mailbox)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.testing.workers import celery_env, require_postgresql
from mail.models import InboundMessage, Outcome
from mail.services.mailboxes import mailbox_create
from mail.tests.factories import raw_message
from tickets.models import Ticket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


def pipe(mailbox: str, raw: bytes, tmp_path: Path) -> tuple[int, str]:
    env = celery_env(broker_url="memory://", HELPDESK_VAR_DIR=str(tmp_path))
    env["LOG_LEVEL"] = "ERROR"
    done = subprocess.run(
        [sys.executable, str(MANAGE), "mail_ingest", "--mailbox", mailbox, "--json"],
        input=raw,
        env=env,
        capture_output=True,
        timeout=60,
    )
    return done.returncode, done.stdout.decode()


def test_the_pipe_takes_a_message_once_and_answers_the_mta(tmp_path):
    require_postgresql()
    mailbox_create(name="Support", address="support@helpdesk.example", kind="http", acknowledge=False)
    raw = raw_message(to="support@helpdesk.example", subject="Piped in")

    status, out = pipe("Support", raw, tmp_path)
    assert status == 0, out
    answer = json.loads(out)
    assert answer["outcome"] == Outcome.CREATED
    assert Ticket.objects.get(pk=answer["ticket"]).title == "Piped in"

    status, out = pipe("support@helpdesk.example", raw, tmp_path)  # the MTA delivers it again
    assert (status, json.loads(out)["outcome"], json.loads(out)["ticket"]) == (0, Outcome.DUPLICATE, answer["ticket"])

    status, out = pipe("Support", b"\x00\xff garbage \x00", tmp_path)  # stored, so the MTA must not retry
    assert (status, json.loads(out)["outcome"]) == (0, Outcome.QUARANTINED)

    status, _ = pipe("nobody", raw, tmp_path)
    assert status == 67  # EX_NOUSER: the MTA bounces it
    assert InboundMessage.objects.count() == 2
