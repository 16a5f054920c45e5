"""IMAP exactly once with real processes (docs/EMAIL.md, mail/services/polling.py):
a Dovecot of the test's own (helpdesk.testing.dovecot), a redis-server of its own,
real Celery workers on the test database.

Messages appended over IMAP become exactly one ticket or comment each and end
\\Seen on the server; a worker killed with SIGKILL in the middle of a poll loses
nothing and takes nothing twice, and never leaves a message \\Seen whose row did
not commit; a rebuilt folder (new UIDVALIDITY) and a re-appended copy are
duplicates.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from django.utils import timezone

from helpdesk.celery import app as celery_app
from helpdesk.testing.brokers import celery_broker
from helpdesk.testing.dovecot import DovecotServer, dovecot_server
from helpdesk.testing.waiting import wait_until
from helpdesk.testing.workers import (
    OUTBOUND_ALLOW_LOOPBACK,
    CeleryProcesses,
    kill_worker,
    require_postgresql,
)
from mail.models import InboundMessage, Mailbox, MailThread, Outcome
from mail.services.mailboxes import mailbox_create
from mail.tests.factories import raw_message
from tickets.models import Comment, Ticket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "imap-secret"
ADDRESS = "support@helpdesk.example"
_folders = itertools.count(1)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory) -> Iterator[DovecotServer]:
    with dovecot_server(tmp_path_factory.mktemp("dovecot"), users={"support": PASSWORD}) as server:
        yield server


@pytest.fixture
def folder(dovecot) -> str:
    name = f"Poll{next(_folders)}"
    dovecot.create_folder("support", name)
    return name


@pytest.fixture
def mailbox(folder, dovecot, outbound_allow_loopback) -> Mailbox:
    mailbox, _ = mailbox_create(
        name="Support",
        address=ADDRESS,
        kind="imap",
        host=dovecot.host,
        port=dovecot.port,
        security="none",
        username="support",
        password=PASSWORD,
        folder=folder,
        acknowledge=False,  # mail out has its own test (test_smtp_conversation.py)
    )
    return mailbox


@pytest.fixture
def workers(private_redis, tmp_path, monkeypatch) -> Iterator[CeleryProcesses]:
    """Real workers on the test database and a broker of the test's own; this
    process publishes to it (no eager tasks)."""
    require_postgresql()
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    processes = CeleryProcesses(private_redis.url, tmp_path, {"HELPDESK_OUTBOUND_ALLOW": OUTBOUND_ALLOW_LOOPBACK})
    with celery_broker(private_redis.url):
        try:
            yield processes
        finally:
            processes.stop()


def server_state(dovecot: DovecotServer, folder: str) -> dict[int, tuple[str, bool]]:
    """UID -> (Message-ID without brackets, \\Seen) of every message in ``folder``, read-only."""
    with dovecot.client("support") as imap:
        typ, _ = imap.select(f'"{folder}"', readonly=True)
        assert typ == "OK"
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "OK", data
    state = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, header = item
        uid = int(re.search(rb"UID (\d+)", meta).group(1))
        seen = b"\\Seen" in re.search(rb"FLAGS \(([^)]*)\)", meta).group(1)
        message_id = re.search(rb"<([^>]+)>", header).group(1).decode()
        state[uid] = (message_id, seen)
    return state


def message_id_of(raw: bytes) -> str:
    return re.search(rb"Message-ID: <([^>]+)>", raw).group(1).decode()


def rows_by_message_id() -> Counter:
    return Counter(key.removeprefix("mid:") for key in InboundMessage.objects.values_list("message_key", flat=True))


def poll(mailbox: Mailbox) -> None:
    """What beat's dispatch does for a due mailbox: a poll task through the broker."""
    celery_app.send_task("mail.poll_mailbox", kwargs={"mailbox_id": mailbox.pk})


def polled_up_to(mailbox: Mailbox, uid: int, since) -> bool:
    mailbox.refresh_from_db()
    return mailbox.last_uid >= uid and mailbox.last_success_at is not None and mailbox.last_success_at >= since


def test_new_requests_and_replies_become_one_ticket_or_comment_each(dovecot, folder, mailbox, workers):
    worker = workers.worker("poller")
    requests = [
        raw_message(sender=f"Customer {n} <c{n}@customer.example>", to=ADDRESS, subject=f"Request {n}")
        for n in range(3)
    ]
    uids = [dovecot.append("support", raw, folder=folder) for raw in requests]
    assert not any(seen for _, seen in server_state(dovecot, folder).values())

    # Beat's dispatch claims the due mailbox and enqueues its poll.
    since = timezone.now()
    celery_app.send_task("mail.dispatch_due_mailboxes")
    wait_until(lambda: polled_up_to(mailbox, uids[-1], since), "the first poll", 20, check=worker.assert_alive)
    assert Ticket.objects.count() == 3
    assert sorted(Ticket.objects.values_list("title", flat=True)) == ["Request 0", "Request 1", "Request 2"]
    assert all(seen for _, seen in server_state(dovecot, folder).values())

    # Replies to the tickets' reply addresses, one copy of a request delivered again.
    tickets = {t.title: t for t in Ticket.objects.select_related("requester")}
    replies = []
    for n in range(2):
        ticket = tickets[f"Request {n}"]
        token = MailThread.objects.get(ticket=ticket).token
        replies.append(
            raw_message(
                sender=f"c{n}@customer.example",
                to=f"support+{token}@helpdesk.example",
                subject=f"Re: [{ticket.number}] Request {n}",
                body=f"Reply {n}.\n",
                in_reply_to=f"<{message_id_of(requests[n])}>",
            )
        )
    more = [dovecot.append("support", raw, folder=folder) for raw in [*replies, requests[2]]]
    since = timezone.now()
    poll(mailbox)
    wait_until(lambda: polled_up_to(mailbox, more[-1], since), "the second poll", 20, check=worker.assert_alive)

    assert Ticket.objects.count() == 3
    for n in range(2):
        [comment] = Comment.objects.filter(ticket=tickets[f"Request {n}"])
        assert (comment.body.strip(), comment.internal, comment.via) == (f"Reply {n}.", False, "email")
    assert not Comment.objects.filter(ticket=tickets["Request 2"]).exists()
    outcomes = Counter(InboundMessage.objects.values_list("outcome", flat=True))
    assert outcomes == {Outcome.CREATED: 3, Outcome.APPENDED: 2}  # the copy answered duplicate, no row
    state = server_state(dovecot, folder)
    assert len(state) == 6 and all(seen for _, seen in state.values())

    # The folder rebuilt with the same messages (a new UIDVALIDITY): nothing is taken twice.
    old_validity = dovecot.uidvalidity("support", folder=folder)
    dovecot.delete_folder("support", folder)
    dovecot.create_folder("support", folder)
    assert dovecot.uidvalidity("support", folder=folder) != old_validity
    again = [dovecot.append("support", raw, folder=folder) for raw in [*requests, *replies]]
    since = timezone.now()
    poll(mailbox)
    wait_until(
        lambda: polled_up_to(mailbox, again[-1], since), "the poll of the new folder", 20, check=worker.assert_alive
    )
    mailbox.refresh_from_db()
    assert mailbox.uidvalidity == dovecot.uidvalidity("support", folder=folder)
    assert (Ticket.objects.count(), Comment.objects.count(), InboundMessage.objects.count()) == (3, 2, 5)
    assert all(seen for _, seen in server_state(dovecot, folder).values())


MESSAGES = 150


def test_a_worker_killed_mid_poll_loses_nothing_and_takes_nothing_twice(dovecot, folder, mailbox, workers):
    # Senders of their own: the hourly limit per sender stays out of the way.
    raws = [
        raw_message(
            sender=f"c{n}@customer.example",
            to=ADDRESS,
            subject=f"Batch {n}",
            body=f"Message {n}.\n" + "Details of the problem. " * 400,
        )
        for n in range(MESSAGES)
    ]
    with dovecot.client("support") as imap:  # one session: 150 APPENDs in well under a second
        for raw in raws:
            typ, data = imap.append(f'"{folder}"', None, None, raw)
            assert typ == "OK", data
    expected = {message_id_of(raw) for raw in raws}

    first = workers.worker("first")
    poll(mailbox)
    # Between fetch and commit: some rows exist, not all.
    wait_until(
        lambda: InboundMessage.objects.count() >= MESSAGES // 3,
        "a third of the poll",
        30,
        check=first.assert_alive,
        every=0.02,
    )
    kill_worker(first)
    taken = InboundMessage.objects.count()
    assert taken < MESSAGES, "the poll finished before the kill: make the batch bigger"

    # No message \Seen on the server without its row committed.
    rows = rows_by_message_id()
    state = server_state(dovecot, folder)
    seen = {message_id for message_id, is_seen in state.values() if is_seen}
    assert seen <= set(rows), seen - set(rows)
    assert 0 < len(seen) < MESSAGES  # some batches flagged, not all

    second = workers.worker("second")
    since = timezone.now()
    poll(mailbox)
    wait_until(
        lambda: polled_up_to(mailbox, max(state), since), "the poll after the kill", 60, check=second.assert_alive
    )

    rows = rows_by_message_id()
    assert set(rows) == expected and set(rows.values()) == {1}, "a message lost or taken twice"
    titles = Counter(Ticket.objects.values_list("title", flat=True))
    assert titles == Counter(f"Batch {n}" for n in range(MESSAGES))
    assert all(is_seen for _, is_seen in server_state(dovecot, folder).values())
    assert Outcome.QUARANTINED not in set(InboundMessage.objects.values_list("outcome", flat=True))
    print(f"killed after {taken} of {MESSAGES} rows; {len(seen)} were \\Seen")  # noqa: T201 (shown with -s)


def test_two_polls_at_once_take_each_message_once(dovecot, folder, mailbox, workers):
    """A slow poll overlapping the next one (two pool processes, two poll tasks at once)."""
    raws = [raw_message(sender=f"p{n}@customer.example", to=ADDRESS, subject=f"Overlap {n}") for n in range(60)]
    with dovecot.client("support") as imap:
        for raw in raws:
            typ, data = imap.append(f'"{folder}"', None, None, raw)
            assert typ == "OK", data
    worker = workers.worker("pair", concurrency=2)
    since = timezone.now()
    poll(mailbox)
    poll(mailbox)
    wait_until(lambda: polled_up_to(mailbox, 60, since), "both polls", 30, check=worker.assert_alive)
    wait_until(lambda: worker.log().count(" succeeded in ") >= 2, "both tasks done", 30)

    rows = rows_by_message_id()
    assert set(rows) == {message_id_of(raw) for raw in raws} and set(rows.values()) == {1}
    assert Counter(Ticket.objects.values_list("title", flat=True)) == Counter(f"Overlap {n}" for n in range(60))
    assert all(is_seen for _, is_seen in server_state(dovecot, folder).values())
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 60
