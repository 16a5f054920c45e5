"""Mail benchmark: messages in through a real IMAP server, messages out to a real SMTP receiver.

    python -m bench.mail --messages 1000 --outbound 1000

Goal (issue 13): one worker ingests 1,000 messages (a fifth with attachments,
half of them replies) at >= 100 messages/s end to end with no duplicate after a
rerun, and delivers 1,000 outbound messages at >= 200 messages/s.

What it does, bounded in time (it stops by itself):

1. drops, creates and migrates a database of its own (``helpdesk_bench_mail`` on
   the PostgreSQL of ``BENCH_MAIL_DATABASE_URL``);
2. starts a Dovecot (``helpdesk.testing.dovecot``), an aiosmtpd receiver
   (``helpdesk.testing.smtp``) and one real Celery worker
   (``helpdesk.testing.workers``, prefork, one pool process) with the
   production settings, ``EMAIL_HOST`` pointing at the receiver and a Redis
   database of its own (``BENCH_MAIL_BROKER_URL``, default db 12); makes one
   IMAP mailbox with ``mail.services.mailboxes.mailbox_create``;
3. inbound, round *new*: appends N/2 first messages of N/2 customers over IMAP
   (a fifth of all messages carries a 50-200 KB PDF), runs the dispatcher
   (``mailboxes_dispatch_due``: the poll task goes to the worker through the
   broker) and waits for the poll; round *replies*: appends a reply per ticket,
   written as a mail client answers the acknowledgement (to the ticket's reply
   address, In-Reply-To the acknowledgement's Message-ID, References the
   thread) and polls again. Measured per round: from the dispatch to the
   commit of the last message (end to end), the ingest time of each message
   (its ``received_at`` to the row trigger that fires in its transaction just
   before the commit), CPU of the worker, Dovecot and PostgreSQL;
4. rerun: the mailbox forgets where it was (``last_uid`` 0, as after a lost
   state or a rebuilt folder) and a tenth of the messages is appended again as
   copies; polled until the folder is read: no new ticket, comment or inbound
   row, one thread message per Message-ID;
5. SQL per message: a second mailbox (a second Dovecot user) with a sample of
   the same mix polled in this process (``mailbox_poll``) with a statement
   counter (``--profile``: with cProfile as well);
6. outbound: 1,000 public agent comments on the e-mail tickets in one
   transaction (the real path: ``comment_create`` -> the audit trail -> the
   customer mail in the outbox, handed to the worker on commit); measured from
   the commit to the last message the receiver got;
7. the physical limits next to the figures: commits per second of this
   PostgreSQL (a loop of one-row INSERT transactions, each a WAL flush), raw
   IMAP fetch rate of the same messages (imaplib, no ingest) and raw SMTP send
   rate to the same receiver (smtplib, one connection).

Writes the section ``## Mail`` of ``docs/PERFORMANCE.md`` (``--no-doc`` to skip).
Exit status 1 when a goal is missed or a duplicate is found.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import platform
import pstats
import random
import re
import shutil
import smtplib
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from bench.common import (
    PERFORMANCE_DOC,
    configure_django,
    cpu_description,
    database_create,
    doc_section_write,
    git_revision,
    load_average,
    say,
    sql_execute,
    sql_rows,
    sql_scalar,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_mail"
DEFAULT_BROKER = "redis://127.0.0.1:6379/12"
OUTBOUND_ALLOW = "127.0.0.0/8"
TARGET_INBOUND = 100.0  # messages per second, end to end
TARGET_OUTBOUND = 200.0  # messages delivered per second
SECTION_START = "<!-- bench:mail:start -->"
SECTION_END = "<!-- bench:mail:end -->"
MAILBOX_ADDRESS = "support@helpdesk.example"
SAMPLE_ADDRESS = "sample@helpdesk.example"
USERS = {"support": "bench-support-secret", "sample": "bench-sample-secret"}
QUEUE_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex", "_kombu.binding.celery")
WAIT_SECONDS = 600
WORDS = (
    "printer invoice login password screen network slow error report export account access server "
    "update mail calendar license laptop phone backup folder share permission vpn meeting order"
).split()


# --- the messages ----------------------------------------------------------------------------------


def _text(rng: random.Random, lines: int) -> str:
    return "\n".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "." for _ in range(lines)
    )


def _pdf(rng: random.Random) -> bytes:
    """50-200 KB that pass the attachment rules' signature check for .pdf."""
    size = rng.randint(50 * 1024, 200 * 1024)
    return b"%PDF-1.4\n" + rng.randbytes(size - 9)


def _message(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    rng: random.Random,
    attach: bool,
    in_reply_to: str | None = None,
    references: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = references or in_reply_to
    message["User-Agent"] = "Bench Mail 1.0"
    message.set_content(body)
    message.add_alternative(
        "<html><body>" + "".join(f"<p>{line}</p>" for line in body.splitlines()) + "</body></html>", subtype="html"
    )
    if attach:
        message.add_attachment(
            _pdf(rng), maintype="application", subtype="pdf", filename=f"report-{rng.randint(1, 9999)}.pdf"
        )
    return message.as_bytes()


def _customer(index: int, prefix: str) -> tuple[str, str]:
    return f"Customer {prefix}{index:05d}", f"{prefix}customer{index:05d}@client{index % 37}.example"


def new_messages(count: int, attachments: int, rng: random.Random, *, to: str, prefix: str = "") -> list[bytes]:
    """``count`` first messages of ``count`` customers; the first ``attachments`` (spread) carry a PDF."""
    every = count / attachments if attachments else None
    attach_at = {int(i * every) for i in range(attachments)} if every else set()
    out = []
    for i in range(count):
        name, address = _customer(i, prefix)
        out.append(
            _message(
                sender=f"{name} <{address}>",
                to=to,
                subject=f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} does not work ({i})",
                body=f"Hello,\n\n{_text(rng, rng.randint(3, 12))}\n\nRegards,\n{name}\n",
                message_id=make_msgid(idstring=f"new{i}", domain=address.split("@")[1]),
                rng=rng,
                attach=i in attach_at,
            )
        )
    return out


def reply_messages(threads: list[dict], attachments: int, rng: random.Random) -> list[bytes]:
    """A reply per thread as a mail client answers the acknowledgement: to its Reply-To
    (the reply address with the token), In-Reply-To its Message-ID, quoting it."""
    every = len(threads) / attachments if attachments else None
    attach_at = {int(i * every) for i in range(attachments)} if every else set()
    out = []
    for i, thread in enumerate(threads):
        refs = " ".join(f"<{mid}>" for mid in thread["references"])
        quoted = "\n".join(f"> {line}" for line in _text(rng, 4).splitlines())
        out.append(
            _message(
                sender=f"{thread['name']} <{thread['email']}>",
                to=thread["reply_to"],
                subject=f"Re: {thread['subject']}",
                body=f"Thanks, some more detail:\n\n{_text(rng, rng.randint(2, 8))}\n\nOn Monday you wrote:\n{quoted}\n",
                message_id=make_msgid(idstring=f"re{i}", domain=thread["email"].split("@")[1]),
                rng=rng,
                attach=i in attach_at,
                in_reply_to=f"<{thread['answering']}>",
                references=refs,
            )
        )
    return out


def threads_to_answer(mailbox_id: int, address: str = MAILBOX_ADDRESS) -> list[dict]:
    """Per ticket of the mailbox: what a reply needs (reply address, the message it answers)."""
    from email.utils import formataddr

    from mail.models import Direction, MailThread, ThreadMessage

    local, _, domain = address.partition("@")
    by_ticket: dict[int, list[tuple[str, str]]] = {}
    for ticket_id, message_id, direction in ThreadMessage.objects.order_by("id").values_list(
        "ticket_id", "message_id", "direction"
    ):
        by_ticket.setdefault(ticket_id, []).append((message_id, direction))
    out = []
    threads = MailThread.objects.filter(mailbox_id=mailbox_id).select_related("ticket__requester").order_by("ticket_id")
    for thread in threads:
        messages = by_ticket.get(thread.ticket_id, [])
        sent = [mid for mid, direction in messages if direction == Direction.OUT]
        requester = thread.ticket.requester
        out.append(
            {
                "name": requester.get_full_name() or requester.email,
                "email": requester.email,
                "reply_to": formataddr(("Support", f"{local}+{thread.token}@{domain}")),
                "subject": f"[{thread.ticket.number}] {thread.ticket.title}",
                "answering": (sent or [messages[-1][0]])[-1],
                "references": [mid for mid, _ in messages],
            }
        )
    return out


def imap_append(server, user: str, messages: list[bytes]) -> list[int]:
    """Deliver ``messages`` into the user's INBOX over one IMAP session; their UIDs."""
    uids = []
    with server.client(user) as imap:
        for raw in messages:
            typ, data = imap.append("INBOX", None, None, raw)
            assert typ == "OK", data
            uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", data[-1]).group(1)))
    return uids


# --- the database ------------------------------------------------------------------------------------


def triggers_install() -> None:
    """When each inbound row was last written in its transaction (clock_timestamp()):
    its outcome is set last thing before the commit."""
    sql_execute(
        "CREATE UNLOGGED TABLE IF NOT EXISTS bench_mail_done (message_id bigint NOT NULL, at timestamptz NOT NULL)",
        """
        CREATE OR REPLACE FUNCTION bench_mail_done() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO bench_mail_done VALUES (NEW.id, clock_timestamp());
            RETURN NULL;
        END $$
        """,
        "DROP TRIGGER IF EXISTS bench_mail_done ON mail_inboundmessage",
        "CREATE TRIGGER bench_mail_done AFTER INSERT OR UPDATE ON mail_inboundmessage "
        "FOR EACH ROW EXECUTE FUNCTION bench_mail_done()",
    )


def mailbox_make(*, name: str, address: str, user: str, port: int):
    from mail.services.mailboxes import mailbox_create

    mailbox, _ = mailbox_create(
        name=name,
        address=address,
        kind="imap",
        host="127.0.0.1",
        port=port,
        security="none",
        username=user,
        password=USERS[user],
        folder="INBOX",
        poll_interval_seconds=3600,
        acknowledge=True,
    )
    return mailbox


def agent_make():
    from helpdesk.models import User

    return User.objects.create_user(
        username="bench-agent",
        email="agent@helpdesk.example",
        password=None,
        role="l1",
        first_name="Alex",
        last_name="Agent",
    )


DB_STATS = ("xact_commit", "tup_inserted", "tup_updated", "blks_read")


def db_stats(db_name: str) -> dict[str, float]:
    row = sql_rows(f"SELECT {', '.join(DB_STATS)} FROM pg_stat_database WHERE datname = %s", [db_name])[0]
    return {name: float(value or 0) for name, value in zip(DB_STATS, row, strict=True)}


# --- measuring ---------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class Round:
    label: str
    messages: int
    attachments: int
    bytes: int
    seconds: float = 0.0  # dispatch -> last commit
    ingest_window: float = 0.0  # first message taken -> last commit
    ingest_ms: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    db: dict[str, float] = field(default_factory=dict)
    load: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def _wait(what: str, condition, procs, seconds: float = WAIT_SECONDS, every: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return
        for proc in procs:
            if not proc.alive():
                raise SystemExit(f"{proc.name} exited while waiting for {what}:\n{proc.log()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}:\n" + "\n".join(p.log()[-2000:] for p in procs))
        time.sleep(every)


def poll_through_worker(mailbox_id: int, procs) -> float:
    """Run the dispatcher (the poll task goes to the worker through the broker) and
    wait until the poll recorded its health; returns the dispatch instant (epoch)."""
    from django.db import connection

    from mail.models import Mailbox
    from mail.services.polling import mailboxes_dispatch_due

    Mailbox.objects.filter(pk=mailbox_id).update(next_poll_at=None)
    before = Mailbox.objects.filter(pk=mailbox_id).values_list("last_polled_at", flat=True).first()
    started = time.time()
    assert mailboxes_dispatch_due() == [mailbox_id]

    def polled() -> bool:
        connection.close()  # a fresh snapshot, and no idle transaction held
        return Mailbox.objects.filter(pk=mailbox_id).values_list("last_polled_at", flat=True).first() != before

    _wait("the poll", polled, procs)
    error = Mailbox.objects.filter(pk=mailbox_id).values_list("last_error", flat=True).first()
    if error:
        raise SystemExit(f"the poll failed: {error}")
    return started


def round_measure(label: str, mailbox_id: int, raws: list[bytes], server, procs, meter_sessions, db_name) -> Round:
    from bench.polling.cpu import CpuMeter
    from mail.models import InboundMessage

    attachments = sum(1 for raw in raws if b"application/pdf" in raw)
    rnd = Round(label, len(raws), attachments, sum(len(r) for r in raws), load=load_average())
    imap_append(server, "support", raws)
    mark = sql_scalar("SELECT coalesce(max(id), 0) FROM mail_inboundmessage")
    meter = CpuMeter(meter_sessions, os.environ["DATABASE_URL"], db_name)
    db_before = db_stats(db_name)
    meter.begin()
    started = poll_through_worker(mailbox_id, procs)
    rnd.cpu = meter.end()
    time.sleep(1.1)  # statistics are flushed at most once a second
    after = db_stats(db_name)
    rnd.db = {k: after[k] - db_before[k] for k in DB_STATS}
    rows = sql_rows(
        "SELECT m.id, m.outcome, extract(epoch FROM m.received_at), max(extract(epoch FROM d.at)) "
        "FROM mail_inboundmessage m JOIN bench_mail_done d ON d.message_id = m.id WHERE m.id > %s "
        "GROUP BY m.id, m.outcome, m.received_at",
        [mark],
    )
    if len(rows) != len(raws):
        raise SystemExit(f"{label}: {len(rows)} inbound rows for {len(raws)} messages")
    for _, outcome, _, _ in rows:
        rnd.outcomes[outcome] = rnd.outcomes.get(outcome, 0) + 1
    first = min(float(r[2]) for r in rows)
    last = max(float(r[3]) for r in rows)
    rnd.seconds = last - started
    rnd.ingest_window = last - first
    rnd.ingest_ms = [(float(done) - float(received)) * 1000 for _, _, received, done in rows]
    assert InboundMessage.objects.filter(id__gt=mark).count() == len(raws)
    say(
        f"{label}: {rnd.messages} messages in {rnd.seconds:.2f} s end to end = {rnd.rate:.1f}/s "
        f"(ingest p50 {_pct(rnd.ingest_ms, 0.5):.1f} ms, p95 {_pct(rnd.ingest_ms, 0.95):.1f} ms); {rnd.outcomes}"
    )
    return rnd


def outbox_drained() -> bool:
    from django.db import connection

    connection.close()
    return not sql_scalar("SELECT count(*) FROM escalation_notification WHERE status = 'pending'")


@dataclass
class Rerun:
    appended: int = 0
    polls: int = 0
    seconds: float = 0.0
    fetched: int = 0
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)
    duplicate_ids: int = 0

    @property
    def clean(self) -> bool:
        return self.counts_before == self.counts_after and self.duplicate_ids == 0


def counts() -> dict[str, int]:
    return {
        "tickets": sql_scalar("SELECT count(*) FROM tickets_ticket"),
        "comments": sql_scalar("SELECT count(*) FROM tickets_comment"),
        "inbound rows": sql_scalar("SELECT count(*) FROM mail_inboundmessage"),
        "attachments": sql_scalar("SELECT count(*) FROM tickets_attachment"),
        "thread messages in": sql_scalar("SELECT count(*) FROM mail_threadmessage WHERE direction = 'in'"),
    }


def rerun(mailbox_id: int, copies: list[bytes], server, procs) -> Rerun:
    """The mailbox forgets where it was; copies are appended; poll until the folder is read."""
    from mail.models import Mailbox

    result = Rerun(appended=len(copies), counts_before=counts())
    imap_append(server, "support", copies)
    Mailbox.objects.filter(pk=mailbox_id).update(last_uid=0)
    with server.client("support") as imap:
        imap.select("INBOX", readonly=True)
        highest = max(int(u) for u in imap.uid("SEARCH", "ALL")[1][0].split())
    started = time.time()
    while Mailbox.objects.filter(pk=mailbox_id).values_list("last_uid", flat=True).first() < highest:
        poll_through_worker(mailbox_id, procs)
        result.polls += 1
    result.seconds = time.time() - started
    result.fetched = highest
    result.counts_after = counts()
    result.duplicate_ids = sql_scalar(
        "SELECT count(*) FROM (SELECT message_id FROM mail_threadmessage WHERE direction = 'in' "
        "GROUP BY message_id HAVING count(*) > 1) d"
    ) + sql_scalar(
        "SELECT count(*) FROM (SELECT mailbox_id, message_key FROM mail_inboundmessage "
        "GROUP BY 1, 2 HAVING count(*) > 1) d"
    )
    say(
        f"rerun: {result.fetched} messages read again in {result.polls} polls, {result.seconds:.1f} s; "
        f"before {result.counts_before}, after {result.counts_after}, duplicated ids {result.duplicate_ids}"
    )
    return result


# --- SQL per message, in this process ---------------------------------------------------------------


@dataclass
class Sample:
    messages: int = 0
    seconds: float = 0.0
    statements: int = 0
    commits: int = 0
    kinds: dict[str, list[float]] = field(default_factory=dict)
    profile: str = ""


class Counter:
    def __init__(self) -> None:
        self.statements = 0
        self.kinds: dict[str, list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements += 1
            kind = self.kinds.setdefault(_kind(sql), [0, 0.0])
            kind[0] += 1
            kind[1] += time.perf_counter() - start


def _kind(sql: str) -> str:
    words = sql.split()
    verb = words[0].upper() if words else "?"
    table = next((w.strip('"(') for w in words if w.startswith('"') and "_" in w), "")
    if verb == "SELECT":
        match = re.search(r'\bFROM\s+"([^"]+)"', sql)
        table = match.group(1) if match else table
    elif verb in ("INSERT", "UPDATE", "DELETE"):
        match = re.search(r'(?:INTO|UPDATE|FROM)\s+"([^"]+)"', sql)
        table = match.group(1) if match else table
    return f"{verb} {table}".strip()


def sql_sample(server, port: int, size: int, rng: random.Random, *, profile: bool) -> Sample:
    """A second mailbox with ``size`` messages of the same mix (half new, half
    replies), polled in this process with a statement counter."""
    from django.db import connection

    from mail.services.polling import mailbox_poll

    mailbox = mailbox_make(name="Bench sample", address=SAMPLE_ADDRESS, user="sample", port=port)
    half = size // 2
    raws = new_messages(half, max(size // 10, 1) if size >= 10 else 0, rng, to=SAMPLE_ADDRESS, prefix="s")
    imap_append(server, "sample", raws)
    sample = Sample()
    profiler = cProfile.Profile() if profile else None

    def commit_counted(original):
        def timed():
            sample.commits += 1
            return original()

        return timed

    for batch in ("new", "replies"):
        if batch == "replies":
            threads = threads_to_answer(mailbox.pk, SAMPLE_ADDRESS)
            raws = reply_messages(threads, max(size // 10, 1) if size >= 10 else 0, rng)
            imap_append(server, "sample", raws)
        counter = Counter()
        original = connection._commit
        connection._commit = commit_counted(original)
        try:
            with connection.execute_wrapper(counter):
                if profiler:
                    profiler.enable()
                start = time.perf_counter()
                result = mailbox_poll(mailbox_id=mailbox.pk)
                sample.seconds += time.perf_counter() - start
                if profiler:
                    profiler.disable()
        finally:
            del connection._commit
        if result.error:
            raise SystemExit(f"sample poll failed: {result.error}")
        sample.messages += result.fetched
        sample.statements += counter.statements
        for kind, (count, seconds) in counter.kinds.items():
            total = sample.kinds.setdefault(kind, [0, 0.0])
            total[0] += count
            total[1] += seconds
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        sample.profile = out.getvalue()
    say(
        f"sample in-process: {sample.messages} messages, {sample.statements / max(sample.messages, 1):.1f} "
        f"statements and {sample.commits / max(sample.messages, 1):.2f} commits per message, "
        f"{sample.messages / sample.seconds:.1f}/s"
    )
    return sample


# --- outbound ---------------------------------------------------------------------------------------


@dataclass
class Outbound:
    messages: int = 0
    write_seconds: float = 0.0
    seconds: float = 0.0  # commit -> last message received
    received: int = 0
    sent_rows: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    acks_received: int = 0
    tasks: int = 0  # deliver tasks the worker ran for these rows

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def outbound_measure(count: int, mailbox_id: int, receiver, procs, meter_sessions, db_name) -> Outbound:
    """``count`` public agent comments on the mailbox's tickets in one transaction:
    the customer mail lands in the outbox and goes to the worker on commit."""
    from django.db import transaction

    from bench.polling.cpu import CpuMeter
    from mail.models import MailThread
    from tickets.services import comment_create

    agent = agent_make()
    tasks_before = Path(procs[0].log_path).read_text(errors="replace").count("escalation.deliver_notifications[") // 2
    tickets = list(
        MailThread.objects.filter(mailbox_id=mailbox_id).order_by("ticket_id").values_list("ticket_id", flat=True)
    )
    result = Outbound(messages=count, acks_received=len(list(receiver.directory.glob("*.json"))))
    before_received = result.acks_received
    mark = sql_scalar("SELECT coalesce(max(id), 0) FROM escalation_notification")
    meter = CpuMeter(meter_sessions, os.environ["DATABASE_URL"], db_name)
    start = time.perf_counter()
    with transaction.atomic():
        for i in range(count):
            comment_create(
                ticket=tickets[i % len(tickets)],
                actor=agent,
                body=f"Hello,\n\nwe looked into it (answer {i}). Could you **restart** the device and tell us?\n\nAlex",
            )
        written = sql_scalar("SELECT count(*) FROM escalation_notification WHERE id > %s AND channel = 'email'", [mark])
        meter.begin()
        committed_at = time.time()
    result.write_seconds = time.perf_counter() - start
    if written != count:
        raise SystemExit(f"outbound: {written} outbox rows for {count} comments")
    expected = before_received + count
    _wait(
        f"{count} messages at the receiver",
        lambda: len(list(receiver.directory.glob("*.json"))) >= expected,
        procs,
        every=0.05,
    )
    result.cpu = meter.end()
    import json

    last = max(
        json.loads(p.read_text())["received_at"]
        for p in receiver.directory.glob("*.json")
        if int(p.stem) > before_received
    )
    result.seconds = last - committed_at
    result.received = len(list(receiver.directory.glob("*.json"))) - before_received
    _wait("the outbox rows sent", outbox_drained, procs)
    log = Path(procs[0].log_path).read_text(errors="replace")
    result.tasks = log.count("escalation.deliver_notifications[") // 2 - tasks_before
    result.sent_rows = sql_scalar(
        "SELECT count(*) FROM escalation_notification WHERE id > %s AND status = 'sent'", [mark]
    )
    say(
        f"outbound: {count} rows written in {result.write_seconds:.1f} s; delivered in {result.seconds:.2f} s "
        f"= {result.rate:.1f}/s; receiver got {result.received}, rows sent {result.sent_rows}"
    )
    return result


# --- physical limits -------------------------------------------------------------------------------


@dataclass
class Limits:
    commits_per_second: float = 0.0
    imap_messages_per_second: float = 0.0
    imap_mb_per_second: float = 0.0
    smtp_messages_per_second: float = 0.0
    settings: str = ""


def limit_commits(n: int = 500) -> float:
    """One-row INSERT transactions on a logged table, autocommit: each commit flushes the WAL."""
    import psycopg2

    conn = psycopg2.connect(os.environ["DATABASE_URL"])
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigserial PRIMARY KEY, at timestamptz)")
            start = time.perf_counter()
            for _ in range(n):
                cursor.execute("INSERT INTO bench_commit_probe (at) VALUES (now())")
            seconds = time.perf_counter() - start
            cursor.execute("DROP TABLE bench_commit_probe")
    finally:
        conn.close()
    return n / seconds


def limit_imap(server, user: str) -> tuple[float, float]:
    """Every message of the folder fetched with BODY.PEEK[] in batches of 25, no ingest."""
    with server.client(user) as imap:
        imap.select("INBOX", readonly=True)
        uids = imap.uid("SEARCH", "ALL")[1][0].split()
        start = time.perf_counter()
        total = 0
        for i in range(0, len(uids), 25):
            chunk = b",".join(uids[i : i + 25]).decode()
            _, data = imap.uid("FETCH", chunk, "(UID BODY.PEEK[])")
            total += sum(len(item[1]) for item in data if isinstance(item, tuple))
        seconds = time.perf_counter() - start
    return len(uids) / seconds, total / seconds / 2**20


def limit_smtp(receiver, n: int) -> float:
    """``n`` small messages over one smtplib connection to the receiver (its files counted too)."""
    before = len(list(receiver.directory.glob("*.json")))
    message = EmailMessage()
    message["From"] = "probe@helpdesk.example"
    message["To"] = "probe@client.example"
    message["Subject"] = "probe"
    message.set_content("A message of about the size of a customer mail.\n" * 20)
    start = time.perf_counter()
    with smtplib.SMTP(receiver.host, receiver.port, timeout=10) as client:
        for _ in range(n):
            client.send_message(message)
    seconds = time.perf_counter() - start
    receiver.wait_for(before + n, 30)
    return n / seconds


# --- report -------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import celery
    import django

    dovecot = ""
    with contextlib.suppress(Exception):
        import subprocess

        dovecot = subprocess.run(
            ["/usr/sbin/dovecot", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.split()[0]
    aiosmtpd = ""
    with contextlib.suppress(Exception):
        import importlib.metadata

        aiosmtpd = importlib.metadata.version("aiosmtpd")
    return {
        "cpus": cpu_description(),
        "postgresql": str(sql_scalar("SHOW server_version")),
        "postgresql durability": ", ".join(
            f"{name}={sql_scalar(f'SHOW {name}')}" for name in ("fsync", "synchronous_commit", "wal_sync_method")
        ),
        "dovecot": dovecot or "?",
        "aiosmtpd": aiosmtpd or "?",
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
    }


def _f(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"  # NaN


def _cpu_text(cpu: dict[str, float], messages: int) -> str:
    parts = []
    for group, label in (
        ("worker", "worker"),
        ("dovecot", "Dovecot"),
        ("smtp", "SMTP receiver"),
        ("pg_bench", "PostgreSQL (bench backends)"),
    ):
        if group in cpu:
            parts.append(f"{label} {cpu[group]:.2f} s ({cpu[group] / max(messages, 1) * 1000:.1f} ms/message)")
    return "; ".join(parts)


def render(args, info, rounds: list[Round], rr: Rerun, sample: Sample, out: Outbound, limits: Limits, history) -> str:
    total_messages = sum(r.messages for r in rounds)
    total_seconds = sum(r.seconds for r in rounds)
    inbound_rate = total_messages / total_seconds if total_seconds else 0.0
    all_ms = [ms for r in rounds for ms in r.ingest_ms]
    verdict_in = "meets" if inbound_rate >= TARGET_INBOUND else "misses"
    verdict_out = "meets" if out.rate >= TARGET_OUTBOUND else "misses"
    verdict_dup = "no duplicate" if rr.clean else "DUPLICATES FOUND"
    per_message_sql = sample.statements / max(sample.messages, 1)
    worker_ms = sum(r.cpu.get("worker", 0.0) for r in rounds) / max(total_messages, 1) * 1000
    pg_ms = sum(r.cpu.get("pg_bench", 0.0) for r in rounds) / max(total_messages, 1) * 1000
    out_ms = (out.cpu.get("worker", 0.0) + out.cpu.get("smtp", 0.0)) / max(out.messages, 1) * 1000
    out_worker_ms = out.cpu.get("worker", 0.0) / max(out.messages, 1) * 1000
    out_serial = 1000 / (
        out_worker_ms + 1000 / limits.commits_per_second + 1000 / max(limits.smtp_messages_per_second, 0.001)
    )
    lines = [
        SECTION_START,
        "## Mail",
        "",
        f"{total_messages:,} messages (a fifth with a 50-200 KB attachment, half of them replies) ingested through a "
        f"real Dovecot by one Celery worker, then {out.messages:,} customer mails delivered by it to a real SMTP "
        f"receiver. Goal (issue 13): >= {TARGET_INBOUND:g} messages/s end to end in, no duplicate after a rerun, "
        f">= {TARGET_OUTBOUND:g} messages/s out.",
        "",
        f"**Result: in {inbound_rate:.1f} messages/s end to end ({verdict_in} the goal; per message p50 "
        f"{_f(_pct(all_ms, 0.5))} ms, p95 {_f(_pct(all_ms, 0.95))} ms), {verdict_dup} after the rerun; "
        f"out {out.rate:.1f} messages/s ({verdict_out} the goal).**",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at revision {git_revision()}; load average before the "
        f"rounds: {', '.join(r.load for r in rounds)} (a shared machine).",
        "",
        "### Configuration",
        "",
        f"- machine: {info['cpus']}; PostgreSQL {info['postgresql']} ({info['postgresql durability']}), "
        f"Dovecot {info['dovecot']}, aiosmtpd {info['aiosmtpd']}, Python {info['python']}, Django {info['django']}, "
        f"Celery {info['celery']}",
        f"- database `{args.database_url.rsplit('/', 1)[-1]}` (dropped, created and migrated by the benchmark), "
        f"broker `{args.broker}`",
        "- one worker: `celery -A helpdesk worker --pool=prefork --concurrency=1` (`helpdesk.testing.workers`), "
        "`HELPDESK_ENV=production`, `EMAIL_HOST` = the receiver; the poll is dispatched by `mailboxes_dispatch_due` "
        "(what beat runs) and runs as the `mail.poll_mailbox` task; Dovecot (maildir, plain IMAP on 127.0.0.1) and "
        "aiosmtpd (writes each message to a file) of `helpdesk.testing`",
        "- round *new*: first messages of distinct customers (text + HTML alternative, 1-2 KB of text); round "
        "*replies*: one reply per ticket as a mail client answers the acknowledgement (To the reply address with "
        "the ticket's token, In-Reply-To the acknowledgement, References the thread, quoted text); attachments "
        "spread evenly over both rounds; every new ticket's acknowledgement is written to the outbox in the ingest "
        "transaction (and sent by the worker after the poll)",
        "",
        "### Figures",
        "",
        "| measure | value | physical limit on this machine |",
        "| --- | ---: | ---: |",
    ]
    for r in rounds:
        lines.append(
            f"| in, round *{r.label}*: {r.messages:,} messages ({r.attachments} with attachment, "
            f"{r.bytes / 2**20:.1f} MiB), dispatch -> last commit | {r.seconds:.2f} s = **{r.rate:.1f}/s** | "
            f"IMAP fetch alone {limits.imap_messages_per_second:,.0f} messages/s; {limits.commits_per_second:,.0f} "
            "commits/s |"
        )
    lines += [
        f"| in, both rounds | {total_seconds:.2f} s = **{inbound_rate:.1f}/s** | |",
        f"| in, per message (received_at -> its last write before COMMIT): p50 / p95 / max | {_f(_pct(all_ms, 0.5))} / "
        f"{_f(_pct(all_ms, 0.95))} / {_f(max(all_ms) if all_ms else float('nan'))} ms | one commit "
        f"{1000 / limits.commits_per_second:.2f} ms |",
        f"| in, CPU per message: worker / PostgreSQL (bench backends), both rounds | {worker_ms:.1f} / {pg_ms:.1f} ms "
        f"| one worker with a free core: at most {1000 / max(worker_ms + pg_ms, 0.001):.0f} messages/s |",
        f"| in, SQL statements per message (sample of {sample.messages} polled in-process) | {per_message_sql:.1f} "
        f"({sample.commits / max(sample.messages, 1):.2f} commits) | |",
        f"| rerun: `last_uid` 0 + {rr.appended} copies appended, {rr.fetched:,} messages read again in {rr.polls} "
        f"polls | {rr.seconds:.1f} s; tickets {rr.counts_before.get('tickets')} -> {rr.counts_after.get('tickets')}, "
        f"comments {rr.counts_before.get('comments')} -> {rr.counts_after.get('comments')}, inbound rows "
        f"{rr.counts_before.get('inbound rows')} -> {rr.counts_after.get('inbound rows')}, Message-IDs taken twice "
        f"{rr.duplicate_ids} | |",
        f"| out: {out.messages:,} public agent comments -> customer mail, outbox rows written (one transaction) | "
        f"{out.write_seconds:.1f} s | |",
        f"| out: commit -> last message at the receiver | {out.seconds:.2f} s = **{out.rate:.1f}/s** | SMTP alone "
        f"(smtplib, one connection) {limits.smtp_messages_per_second:,.0f} messages/s |",
        f"| out: CPU per message, worker + SMTP receiver | {out_ms:.1f} ms | with a free core each: at most "
        f"{1000 / max(out.cpu.get('worker', 0.0) / max(out.messages, 1) * 1000, 0.001):.0f} messages/s (worker) |",
        "",
        "CPU (user + system from `/proc`, whole window):",
        "",
        *[f"- in, round *{r.label}*: {_cpu_text(r.cpu, r.messages)}" for r in rounds],
        f"- out: {_cpu_text(out.cpu, out.messages)}",
        "",
        f"SQL of the in-process sample ({sample.messages} messages, by statement kind, top 15):",
        "",
        "| statement | count | per message | SQL time (s) |",
        "| --- | ---: | ---: | ---: |",
        *[
            f"| `{kind}` | {count} | {count / max(sample.messages, 1):.2f} | {seconds:.3f} |"
            for kind, (count, seconds) in sorted(sample.kinds.items(), key=lambda item: -item[1][0])[:15]
        ],
        "",
        "What limits the figures:",
        "",
        f"- **In: the worker's CPU per message, not IMAP and not the disk.** Each message is parsed (MIME, the "
        f"reply text), claimed (its inbound row), routed (thread match, the ticket or comment with its audit "
        f"events, the acknowledgement rendered into the outbox) under a savepoint of its own, 20 messages "
        f"to a commit: {per_message_sql:.0f} SQL statements per message. That is {worker_ms:.1f} ms of worker CPU and "
        f"{pg_ms:.1f} ms of PostgreSQL CPU per message, done one after the other by one worker: at most "
        f"{1000 / max(worker_ms + pg_ms, 0.001):.0f} messages/s with a core to itself, and the two cores of "
        "this machine are shared with other work (see the load averages). The commit's WAL flush costs "
        f"{1000 / limits.commits_per_second:.1f} ms ({limits.commits_per_second:,.0f} commits/s) and IMAP "
        f"delivers {limits.imap_messages_per_second:,.0f} messages/s: neither is near the limit. Exactly once "
        "is kept as it is (each message's inbound row commits with its ticket or comment, `\\Seen` after the commit); "
        "more throughput comes from fewer statements and less Python per message, or from several mailboxes "
        "polled by several worker processes at once (one mailbox is read by one poll at a time). One message "
        f"after the other, CPU ({worker_ms + pg_ms:.1f} ms) "
        f"allows at most {1000 / (worker_ms + pg_ms):.0f} messages/s on an "
        f"idle machine; {TARGET_INBOUND:g}/s needs at most {1000 / TARGET_INBOUND:g} ms per message in all.",
        f"- **Out: the worker's work per row.** Each row is locked, built into a MIME message, handed over "
        f"with SMTP DATA and saved in its own transaction ({out_ms:.1f} ms of worker and receiver CPU per "
        "message); the rows of a transaction go to the worker in batches of 100 whose messages share one SMTP "
        f"connection. smtplib alone reaches {limits.smtp_messages_per_second:,.0f} messages/s against this "
        "receiver (which writes a file per message). One row after the other, worker CPU, its commit's WAL flush "
        f"and the SMTP exchange ({out_worker_ms:.1f} + {1000 / limits.commits_per_second:.1f} + "
        f"{1000 / limits.smtp_messages_per_second:.1f} ms) allow at most {out_serial:.0f} messages/s on an idle "
        f"machine; the rest of the wall time here is waiting for a core. Beyond that the rows of a batch would "
        "have to be marked sent in one transaction (one flush for 100 rows), which this change does not do: "
        "each row keeps its own lock and commit.",
        "",
        "*End to end* runs from the dispatcher's call (the task still has to reach the worker, connect, log in and "
        "search the folder) to the last message's write before its COMMIT, logged with `clock_timestamp()` by a row "
        "trigger the benchmark adds to its own database; *per message* runs from the `received_at` the ingest "
        "stamps (before parsing) to that write. *Commits/s* is a loop of one-row INSERT transactions "
        "(each a WAL flush) on this PostgreSQL (a poll commits every 20 messages, so it is far from the "
        "limit); *IMAP fetch alone* is imaplib fetching the same messages "
        "(`BODY.PEEK[]`, 25 per command) without ingesting them; *SMTP alone* is smtplib sending small messages "
        "over one connection to the same receiver.",
    ]
    tasks = out.tasks
    history = [
        *history,
        "| out: the rows of one transaction handed to the worker in one hand-over (batches of 100), the messages "
        f"of a batch over one SMTP connection (686b28e) | {OUTBOUND_BEFORE} | {tasks:,} deliver tasks: "
        f"{out.rate:.1f} messages/s, worker CPU {out.cpu.get('worker', 0.0) / max(out.messages, 1) * 1000:.1f} ms "
        "per message (this run) |",
    ]
    if history:
        lines += [
            "",
            "### Changes for speed",
            "",
            "| change | before | after |",
            "| --- | --- | --- |",
            *history,
        ]
    lines += [
        "",
        "### Rerun",
        "",
        "```sh",
        "make bench-mail     # = python -m bench.mail --messages 1000 --outbound 1000",
        "```",
        "",
        "`BENCH_MAIL_DATABASE_URL` / `--database-url` and `BENCH_MAIL_BROKER_URL` / `--broker` select the database "
        "(its name must contain `bench`; it is dropped) and the Redis database; `--sample` the size of the "
        "in-process SQL sample, `--profile` prints its cProfile; `--no-doc` leaves this file alone. Process logs "
        "are kept in `var/bench-mail/`. The command exits 1 when a goal is missed or a message was taken twice.",
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


# Lines of the "Changes for speed" table, kept by hand from the runs that measured them
# (wall times on this shared machine move with its load; statements and CPU per message less so).
HISTORY: list[str] = [
    "| in: the mailboxes read once per poll (own addresses, reply-token match, reply mailbox), the new "
    "ticket's thread passed to its acknowledgement (0bbfcdc) | 28.0 SQL statements per message; worker CPU "
    "18.0 (new) / 15.2 (replies) ms per message; PostgreSQL 6.6 / 6.1 ms | 23.5 statements; worker 15.2 / 14.5 ms; "
    "PostgreSQL 5.7 / 5.7 ms |",
    "| in: a poll commits 20 messages together, each under its own savepoint, then flags and counts them "
    "(one commit and one outbox hand-over per 20 messages instead of per message; exactly once unchanged) | "
    "1.00 commits per message | 0.08 commits per message; 66.3 messages/s end to end on a quiet machine "
    "(load 0.9), worker CPU 9.6 ms, PostgreSQL 3.5 ms per message |",
    "| in: a new ticket's thread inserted without looking first; the comments an announcement names read once "
    "| 25.5 statements per message, 66.3 messages/s | 23.4 statements, 69.8 messages/s |",
]
# The outbound change is measured against the first run (89c99c7): 1,000 tasks of one row, a connection each.
OUTBOUND_BEFORE = (
    "1,000 deliver tasks of one row, an SMTP connection each: 32.9 messages/s, worker CPU 7.2 ms per message"
)


# --- main --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mail", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="inbound messages (half new, half replies)")
    parser.add_argument("--outbound", type=int, default=1000, help="outbound customer mails")
    parser.add_argument("--sample", type=int, default=100, help="messages of the in-process SQL sample")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_MAIL_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--broker", default=os.environ.get("BENCH_MAIL_BROKER_URL", DEFAULT_BROKER))
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/PERFORMANCE.md")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the in-process sample")
    parser.add_argument("--log-dir", default=str(ROOT / "var" / "bench-mail"))
    parser.add_argument(
        "--no-goals", action="store_true", help="exit status for correctness only (tiny runs in the tests)"
    )
    args = parser.parse_args(argv)
    if not re.search(r"bench", args.database_url.rsplit("/", 1)[-1]):
        parser.error("the database name must contain 'bench': it is dropped")
    if args.messages < 4 or args.messages % 2 or args.outbound < 1 or args.sample < 2:
        parser.error("need an even --messages >= 4, --outbound >= 1, --sample >= 2")
    if not args.broker.startswith("redis://"):
        parser.error("--broker must be a Redis URL")
    return args


def broker_clear(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(QUEUE_KEYS) + [k.decode() for k in client.scan_iter("_kombu.*")]
        client.delete(*keys)
    finally:
        client.close()


@dataclass
class Report:
    rounds: list[Round]
    rerun: Rerun
    sample: Sample
    outbound: Outbound
    limits: Limits
    section: str = ""

    @property
    def inbound_rate(self) -> float:
        seconds = sum(r.seconds for r in self.rounds)
        return sum(r.messages for r in self.rounds) / seconds if seconds else 0.0

    @property
    def passed(self) -> bool:
        return self.rerun.clean and self.inbound_rate >= TARGET_INBOUND and self.outbound.rate >= TARGET_OUTBOUND


def run(args: argparse.Namespace) -> Report:
    from django.core.management import call_command
    from django.db import connections

    from helpdesk.testing.dovecot import dovecot_server
    from helpdesk.testing.processes import process_stop
    from helpdesk.testing.smtp import smtp_receiver
    from helpdesk.testing.workers import start_celery_worker

    log_dir = Path(args.log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)
    var_dir = log_dir / "var"
    var_dir.mkdir(parents=True)
    rng = random.Random(args.seed)
    db_name = args.database_url.rsplit("/", 1)[-1].split("?")[0]

    database_create(args.database_url, drop=True)
    call_command("migrate", interactive=False, verbosity=0)
    triggers_install()
    broker_clear(args.broker)
    info = machine()

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(dovecot_server(log_dir / "dovecot", users=USERS))
        receiver = stack.enter_context(smtp_receiver(log_dir / "smtp"))
        mailbox = mailbox_make(name="Bench support", address=MAILBOX_ADDRESS, user="support", port=server.port)
        connections.close_all()
        worker = start_celery_worker(
            broker_url=args.broker,
            log_path=log_dir / "worker.log",
            name=f"bench-mail-{os.getpid()}",
            concurrency=1,
            HELPDESK_ENV="production",
            SECRET_KEY="bench-mail-not-a-secret-" + "x" * 32,
            ALLOWED_HOSTS="localhost",
            DEBUG="false",
            HELPDESK_OUTBOUND_ALLOW=OUTBOUND_ALLOW,
            HELPDESK_VAR_DIR=str(var_dir),
            HELPDESK_ATTACHMENT_ROOT=str(var_dir / "attachments"),
            EMAIL_HOST=receiver.host,
            EMAIL_PORT=str(receiver.port),
            HELPDESK_EMAIL_FROM=f"Support <{MAILBOX_ADDRESS}>",
        )
        stack.callback(process_stop, worker.process)
        procs = [worker, server.proc, receiver.proc]
        sessions = {worker.process.pid: "worker", server.proc.process.pid: "dovecot", receiver.proc.process.pid: "smtp"}
        say(f"dovecot on {server.port}, SMTP receiver on {receiver.port}, worker pid {worker.process.pid}")

        half = args.messages // 2
        with_attachment = args.messages // 5
        first = new_messages(half, with_attachment // 2, rng, to=MAILBOX_ADDRESS)
        rounds = [round_measure("new", mailbox.pk, first, server, procs, sessions, db_name)]
        _wait("the acknowledgements sent", outbox_drained, procs)
        threads = threads_to_answer(mailbox.pk)
        if len(threads) != half:
            raise SystemExit(f"{len(threads)} threads for {half} new messages")
        replies = reply_messages(threads, with_attachment - with_attachment // 2, rng)
        rounds.append(round_measure("replies", mailbox.pk, replies, server, procs, sessions, db_name))
        _wait("the outbox drained", outbox_drained, procs)

        copies = first[: max(half // 10, 1)] + replies[: max(half // 10, 1)]
        rr = rerun(mailbox.pk, copies, server, procs)

        limits = Limits()
        limits.imap_messages_per_second, limits.imap_mb_per_second = limit_imap(server, "support")
        sample = sql_sample(server, server.port, args.sample, rng, profile=args.profile)
        _wait("the outbox drained", outbox_drained, procs)

        out = outbound_measure(args.outbound, mailbox.pk, receiver, procs, sessions, db_name)
        limits.smtp_messages_per_second = limit_smtp(receiver, min(args.outbound, 1000))
        limits.commits_per_second = limit_commits()
        say(
            f"limits: {limits.commits_per_second:.0f} commits/s, IMAP fetch {limits.imap_messages_per_second:.0f} "
            f"messages/s ({limits.imap_mb_per_second:.1f} MiB/s), SMTP {limits.smtp_messages_per_second:.0f} messages/s"
        )
        connections.close_all()
    report = Report(rounds, rr, sample, out, limits)
    report.section = render(args, info, rounds, rr, sample, out, limits, HISTORY)
    if sample.profile:
        print(sample.profile)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ["HELPDESK_OUTBOUND_ALLOW"] = OUTBOUND_ALLOW
    attachments = Path(tempfile.mkdtemp(prefix="bench-mail-attachments-"))
    os.environ["HELPDESK_ATTACHMENT_ROOT"] = str(attachments)
    os.environ["HELPDESK_EMAIL_FROM"] = f"Support <{MAILBOX_ADDRESS}>"
    configure_django(database_url=args.database_url, broker=args.broker)
    try:
        report = run(args)
    finally:
        shutil.rmtree(attachments, ignore_errors=True)
    print(report.section)
    if not args.no_doc:
        doc_section_write(report.section, start=SECTION_START, end=SECTION_END)
        say(f"wrote the section 'Mail' of {PERFORMANCE_DOC.relative_to(ROOT)}")
    if not report.rerun.clean:
        say("FAIL: a message was taken twice")
        return 2
    say("PASS" if report.passed else ("goals missed (--no-goals)" if args.no_goals else "FAIL"))
    return 0 if report.passed or args.no_goals else 1


if __name__ == "__main__":
    sys.exit(main())
