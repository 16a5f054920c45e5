"""Applying a known issue to a ticket (the knowledge base for L1, docs/PRODUCT.md "Known issues")."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from helpdesk import roles
from helpdesk.errors import Conflict, NotAllowed, field_error
from helpdesk.models import User
from tickets import events
from tickets.models import KnownIssue, KnownIssueLink, Status, Ticket
from tickets.services.base import check_version, lock_ticket, require_active, require_worker
from tickets.services.workflow import comment_create, ticket_transition


def known_issue_apply(
    *,
    ticket: Ticket | int,
    actor: User,
    known_issue: KnownIssue | int,
    resolve: bool = False,
    expected_version: int | None = None,
) -> Ticket:
    """Post the known issue's resolution steps as a public comment, link it to the
    ticket, count the use and, with ``resolve``, resolve the ticket with the steps
    as its resolution. All of it or nothing, in one transaction.

    Agents who may work the ticket's tier apply known issues to active tickets.
    A known issue is applied to a ticket once: a second apply is a 409 and
    changes nothing (it would post the same steps to the customer again).

    Locking: the ticket row is locked first, so concurrent applies to one ticket
    run one after the other; ``usage_count`` is incremented with an F()
    expression, so applies on different tickets never lose a count.
    """
    if not roles.is_agent(actor):
        raise NotAllowed("Only agents apply known issues.")
    with transaction.atomic():
        ticket = lock_ticket(ticket)
        require_worker(actor, ticket)
        check_version(ticket, expected_version)
        known_issue_id = known_issue.pk if isinstance(known_issue, KnownIssue) else known_issue
        known_issue = KnownIssue.objects.filter(pk=known_issue_id).first()
        if known_issue is None:
            raise field_error("known_issue", "No such known issue.")
        # Before the status check: a retried "apply and resolve" learns it already happened.
        applied = KnownIssueLink.objects.filter(ticket=ticket, known_issue=known_issue).first()
        if applied is not None:
            raise Conflict(
                "This known issue was already applied to this ticket.",
                known_issue=known_issue.pk,
                applied_at=applied.applied_at.isoformat(),
            )
        require_active(ticket, "apply a known issue to")
        if not known_issue.is_active:
            raise field_error("known_issue", "That known issue is retired.")

        steps = known_issue.resolution_steps
        comment = comment_create(ticket=ticket, actor=actor, body=steps, internal=False)
        KnownIssueLink.objects.create(ticket=ticket, known_issue=known_issue, applied_by=actor, comment=comment)
        KnownIssue.objects.filter(pk=known_issue.pk).update(usage_count=F("usage_count") + 1)
        events.known_issue_applied(ticket, actor, known_issue, comment.pk, resolve)
        if resolve:
            return ticket_transition(ticket=ticket, actor=actor, status=Status.RESOLVED, resolution=steps)
        return lock_ticket(ticket)
