"""Mail out: to customers (the requester and the ticket's CCs) and to agents.

Triggered by the audit trail: ``tickets.events`` announces each batch of events it
writes (``tickets.signals.events_recorded``) inside the transaction of the change,
and the receivers here write the messages into the notification outbox in that
same transaction. So a message exists exactly when its change committed, and
Celery delivers it after the commit, retrying until it is sent.

Customers hear (docs/EMAIL.md "Customers"): the acknowledgement of a new ticket
(``acknowledgement_send``, called by whoever opened it: the mail ingest, the
console, the portal), every public agent comment, ``pending`` and ``resolved``.
Never an internal note, never the system's own notes. Each message carries a
stored Message-ID, In-Reply-To and References chaining the ticket's thread, the
ticket's reply address as Reply-To, and ``[HD-000123] <title>`` as its subject.

Agents hear, each behind a switch on their settings page: a ticket assigned to
them, a customer reply on a ticket they hold, a ticket escalated into their tier.
What a person does is announced here; what an escalation rule does is announced by
the rule's own notify list (escalation.notify), so nobody hears of it twice.
Escalations are announced once per agent and batch (a list, not one message each).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from helpdesk import markdown, roles
from helpdesk.models import User
from mail.models import Direction, MailThread, ThreadMessage
from mail.parsing import subject_for
from mail.services.addresses import thread_for, ticket_mailbox
from notifications.models import Channel
from notifications.outbox import TARGET_MAX, OutboxRow, notifications_insert, one_line
from tickets.models import Comment, EventKind, Status, Ticket

# References name the thread's first message and its latest ones (RFC 5322 lets us shorten).
REFERENCES_MAX = 10
AUTO = "auto-replied"


@dataclass(frozen=True)
class Outgoing:
    """One message before it becomes an outbox row."""

    to: str
    cc: tuple[str, ...]
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    sender: str
    ticket_id: int
    message_id: str
    comment_id: int | None = None


def _team() -> str:
    return parseaddr(settings.HELPDESK_EMAIL_FROM)[0] or "The support team"


def _sender(mailbox) -> str:
    name = _team()
    return formataddr((name, mailbox.address)) if mailbox is not None else settings.HELPDESK_EMAIL_FROM


def _domain(mailbox) -> str:
    address = mailbox.address if mailbox is not None else parseaddr(settings.HELPDESK_EMAIL_FROM)[1]
    return address.rpartition("@")[2] or "localhost"


def _thread_headers(ticket_id: int, message_id: str, reply_to: str, automatic: bool) -> dict[str, str]:
    known = list(
        ThreadMessage.objects.filter(ticket_id=ticket_id).order_by("id").values_list("message_id", "direction")
    )
    ids = [mid for mid, _ in known]
    references = ids[:1] + ids[1:][-(REFERENCES_MAX - 1) :] if ids else []
    headers = {"Message-ID": f"<{message_id}>", "Reply-To": reply_to}
    received = [mid for mid, direction in known if direction == Direction.IN]
    answering = received[-1] if received else (ids[-1] if ids else None)
    if answering:
        headers["In-Reply-To"] = f"<{answering}>"
        headers["References"] = " ".join(f"<{mid}>" for mid in references)
    if automatic:
        headers["Auto-Submitted"] = AUTO
    return headers


def _customer_recipients(ticket: Ticket) -> tuple[str | None, tuple[str, ...]]:
    """(requester's address, CCs' addresses) of a ticket; None when it has no one to write to."""
    requester = ticket.requester
    if not requester.email or roles.is_agent(requester) or requester.username == settings.HELPDESK_SYSTEM_USERNAME:
        return None, ()
    ccs = tuple(ticket.ccs.values_list("email", flat=True))
    return requester.email, tuple(a for a in ccs if a != requester.email.lower())


def _customer_message(
    ticket: Ticket,
    template: str,
    context: dict[str, Any],
    *,
    automatic: bool,
    comment_id: int | None = None,
    thread: MailThread | None = None,
) -> Outgoing | None:
    to, cc = _customer_recipients(ticket)
    if to is None:
        return None
    thread, mailbox = ticket_mailbox(ticket, thread)
    if mailbox is None:
        return None  # no mailbox: the helpdesk does not talk by e-mail
    if thread is None or thread.mailbox_id is None:
        thread = thread_for(ticket, mailbox=mailbox)
    local, _, domain = mailbox.address.partition("@")
    reply_to = formataddr((_team(), f"{local}+{thread.token}@{domain}"))
    message_id = make_msgid(idstring=f"hd{ticket.pk}", domain=_domain(mailbox))[1:-1]
    subject = subject_for(ticket.number, ticket.title)
    full = {
        "name": ticket.requester.get_full_name() or ticket.requester.email,
        "number": ticket.number,
        "title": ticket.title,
        "team": _team(),
        "subject": subject,
        **context,
    }
    return Outgoing(
        to=to,
        cc=cc,
        subject=subject,
        text=render_to_string(f"mail/customer/{template}.txt", full).strip() + "\n",
        html=render_to_string(f"mail/customer/{template}.html", full),
        headers=_thread_headers(ticket.pk, message_id, reply_to, automatic),
        sender=_sender(mailbox),
        ticket_id=ticket.pk,
        message_id=message_id,
        comment_id=comment_id,
    )


def email_row(
    *, to: str, subject: str, text: str, html: str, sender: str, headers: dict[str, str], cc=(), ticket_id=None
) -> OutboxRow:
    """An outbox row for one finished message (the e-mail sender sends it as written)."""
    payload = {"from": sender, "headers": headers, "html": html, "verbatim": True, "cc": list(cc)}
    return OutboxRow(Channel.EMAIL, to[:TARGET_MAX], one_line(subject), text, payload, ticket_id)


def _write(messages: list[Outgoing | None]) -> None:
    """Outbox rows and the thread's record of each message, in the caller's transaction."""
    messages = [m for m in messages if m is not None]
    if not messages:
        return
    ids = notifications_insert(
        rows=[
            email_row(
                to=m.to,
                subject=m.subject,
                text=m.text,
                html=m.html,
                sender=m.sender,
                headers=m.headers,
                cc=m.cc,
                ticket_id=m.ticket_id,
            )
            for m in messages
        ]
    )
    ThreadMessage.objects.bulk_create(
        [
            ThreadMessage(
                ticket_id=m.ticket_id,
                message_id=m.message_id,
                direction=Direction.OUT,
                comment_id=m.comment_id,
                notification_id=notification_id,
                address=m.to,
            )
            for m, notification_id in zip(messages, ids, strict=True)
        ]
    )


# --- customers ---------------------------------------------------------------------------


def acknowledgement_send(*, ticket: Ticket, thread: MailThread | None = None) -> bool:
    """Tell the requester their new ticket's number, unless its mailbox switched
    acknowledgements off. ``thread``: the ticket's, when the caller holds it.
    Returns whether a message was written."""
    thread, mailbox = ticket_mailbox(ticket, thread)
    if mailbox is None or not mailbox.acknowledge:
        return False
    message = _customer_message(ticket, "acknowledgement", {}, automatic=True, thread=thread)
    _write([message])
    return message is not None


def on_created(rows: list[tuple[int, int | None, dict]]) -> None:
    """The acknowledgement of tickets opened in the pages or the API; the mail
    ingest acknowledges its own once the ticket's thread knows its mailbox."""
    for ticket_id, _, data in rows:
        if data.get("via") != "email":
            ticket = Ticket.objects.select_related("requester").get(pk=ticket_id)
            acknowledgement_send(ticket=ticket)


def _public_comments(rows: list[tuple[int, int | None, dict]]) -> list[Comment]:
    """The public comments an announcement names, with author, requester and assignee (one query)."""
    ids = [data.get("comment") for _, _, data in rows if not data.get("internal")]
    ids = [i for i in ids if isinstance(i, int)]
    if not ids:
        return []
    return list(
        Comment.objects.filter(pk__in=ids, internal=False).select_related(
            "author", "ticket__requester", "ticket__assignee"
        )
    )


def on_commented(rows: list[tuple[int, int | None, dict]]) -> None:
    """Public agent comments go to the customer; customer replies to the assignee."""
    comments = _public_comments(rows)
    messages = []
    for comment in comments:
        if not roles.is_agent(comment.author):
            continue
        context = {
            "body": comment.body,
            "body_html": markdown.render(comment.body),
            "author": comment.author.get_full_name() or comment.author.username,
        }
        messages.append(_customer_message(comment.ticket, "comment", context, automatic=False, comment_id=comment.pk))
    _write(messages)
    agent_customer_replies(comments)


def on_status_changed(rows: list[tuple[int, int | None, dict]]) -> None:
    wanted = {
        pk: data
        for pk, _, data in rows
        if (data.get("after") or {}).get("status") in (Status.PENDING, Status.RESOLVED)
        and (data.get("before") or {}).get("status") != (data.get("after") or {}).get("status")
    }
    if not wanted:
        return
    messages = []
    for ticket in Ticket.objects.filter(pk__in=list(wanted)).select_related("requester"):
        data = wanted[ticket.pk]
        if data["after"]["status"] == Status.PENDING:
            messages.append(_customer_message(ticket, "pending", {}, automatic=True))
        else:
            resolution = data.get("resolution") or ticket.resolution
            context = {
                "resolution": resolution,
                "resolution_html": markdown.render(resolution),
                "reopen_days": settings.HELPDESK_REOPEN_DAYS,
            }
            messages.append(_customer_message(ticket, "resolved", context, automatic=True))
    _write(messages)


# --- agents --------------------------------------------------------------------------------


def _url(path: str) -> str:
    return settings.HELPDESK_BASE_URL.rstrip("/") + path


def _agent_context(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "title": ticket.title,
        "priority": ticket.priority,
        "tier": ticket.tier,
        "status": ticket.status,
        "url": _url(f"/tickets/{ticket.pk}/"),
        "settings_url": _url("/account/"),
    }


def _agent_row(user: User, subject: str, template: str, context: dict[str, Any], ticket_id: int | None) -> OutboxRow:
    text = render_to_string(f"mail/agent/{template}.txt", context).strip() + "\n"
    return email_row(
        to=user.email,
        subject=subject,
        text=text,
        html=render_to_string("mail/agent/message.html", {"text": text, "subject": subject}),
        sender=settings.HELPDESK_EMAIL_FROM,
        headers={"Auto-Submitted": "auto-generated"},
        ticket_id=ticket_id,
    )


def _person(user: User | None) -> str:
    return (user.get_full_name() or user.username) if user else "The helpdesk"


def on_assigned(rows: list[tuple[int, int | None, dict]]) -> None:
    """ "Assigned to you" for each new assignee who did not assign themselves."""
    wanted = {
        pk: (actor_id, (data.get("after") or {}).get("assignee"))
        for pk, actor_id, data in rows
        if actor_id is not None and (data.get("after") or {}).get("assignee") not in (None, actor_id)
    }
    if not wanted:
        return
    # Assignees and the people who assigned, in one query.
    people = User.objects.in_bulk({a for _, a in wanted.values()} | {actor for actor, _ in wanted.values()})
    tickets = Ticket.objects.in_bulk(list(wanted))
    out = []
    for pk, (actor_id, assignee_id) in wanted.items():
        user = people.get(assignee_id)
        if user is None or not user.email or not user.notify_assigned or not user.is_active:
            continue
        ticket = tickets[pk]
        context = {**_agent_context(ticket), "actor": _person(people.get(actor_id))}
        out.append(_agent_row(user, f"[{ticket.number}] assigned to you: {ticket.title}", "assigned", context, pk))
    if out:
        notifications_insert(rows=out)


def agent_customer_replies(comments: list[Comment]) -> None:
    """ "The customer replied" to the assignee of each ticket a customer commented on."""
    out = []
    for comment in comments:
        holder = comment.ticket.assignee
        if not roles.is_customer(comment.author) or holder is None or not holder.email:
            continue
        if not holder.notify_customer_reply or not holder.is_active:
            continue
        ticket = comment.ticket
        context = {**_agent_context(ticket), "actor": _person(comment.author), "body": comment.body}
        subject = f"[{ticket.number}] customer reply: {ticket.title}"
        out.append(_agent_row(holder, subject, "customer_reply", context, ticket.pk))
    if out:
        notifications_insert(rows=out)


def on_escalated(rows: list[tuple[int, int | None, dict]]) -> None:
    """ "Escalated into your tier" to the agents of each target tier: one message
    per agent and batch, listing up to 100 of the batch's tickets."""
    by_tier: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, actor_id, data in rows:
        if actor_id is None:
            continue  # the engine's: a rule names whom it notifies (escalation.notify)
        tier = (data.get("after") or {}).get("tier")
        if isinstance(tier, int):
            by_tier[tier].append((pk, data.get("reason") or ""))
    out = []
    for tier, entries in by_tier.items():
        agents = list(
            User.objects.filter(role=roles.TIER_ROLE.get(tier), is_active=True, notify_escalated=True)
            .exclude(email="")
            .only("id", "email")
        )
        if not agents:
            continue
        ids = [pk for pk, _ in entries]
        shown = list(Ticket.objects.filter(pk__in=ids[:100]).only("id", "title").order_by("id"))
        tickets = [{"number": t.number, "title": t.title, "url": _url(f"/tickets/{t.pk}/")} for t in shown]
        reasons = {reason for _, reason in entries}
        context = {
            "tier": tier,
            "tickets": tickets,
            "count": len(ids),
            "reason": reasons.pop() if len(reasons) == 1 else "",
            "queue_url": _url(f"/queue/{tier}/"),
            "settings_url": _url("/account/"),
        }
        if len(ids) == 1:
            subject = f"[{tickets[0]['number']}] escalated to tier {tier}: {tickets[0]['title']}" if tickets else ""
        else:
            subject = f"{len(ids)} tickets escalated to tier {tier}"
        single = ids[0] if len(ids) == 1 else None
        out.extend(_agent_row(agent, subject, "escalated", context, single) for agent in agents)
    if out:
        notifications_insert(rows=out)


RECEIVERS = {
    EventKind.CREATED: on_created,
    EventKind.COMMENTED: on_commented,
    EventKind.STATUS_CHANGED: on_status_changed,
    EventKind.ASSIGNED: on_assigned,
    EventKind.ESCALATED: on_escalated,
}


def on_events_recorded(sender: Any, *, kind: str, rows: list[tuple[int, int | None, dict]], **kwargs: Any) -> None:
    """The receiver of ``tickets.signals.events_recorded`` (connected in MailConfig.ready)."""
    receiver = RECEIVERS.get(kind)
    if receiver is not None and rows:
        receiver(rows)
