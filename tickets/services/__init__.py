"""Ticket use cases: the one code path for every change to a ticket.

Each service authorises the actor, validates, writes under a row lock, records
the audit event and schedules side effects after commit. The API, the pages,
the admin, the rule engine and the poller all call these functions.

Locking rule: a service that changes a ticket re-reads it with
``select_for_update`` inside its own transaction, so callers may pass a stale
instance; the returned instance is the fresh one.
"""

from tickets.services.attachments import attachment_create, attachment_files_purge, attachments_store
from tickets.services.ccs import CC_MAX, cc_list, ticket_cc_set, ticket_ccs_add_from_message
from tickets.services.known_issues import known_issue_apply
from tickets.services.priority import (
    priority_for,
    priority_matrix,
    priority_matrix_update,
    tickets_raise_levels,
    tickets_reprioritize,
)
from tickets.services.system import ticket_raise_levels, ticket_system_note, ticket_worked_by_human
from tickets.services.tickets import (
    ACTION_ONLY_FIELDS,
    EDITABLE_FIELDS,
    customer_find_or_create,
    system_user,
    ticket_create,
    ticket_update,
)
from tickets.services.workflow import (
    comment_create,
    incident_resolve_linked,
    is_cc,
    next_ticket_claim,
    ticket_assign,
    ticket_claim,
    ticket_deescalate,
    ticket_escalate,
    ticket_transition,
    tickets_autoclose,
)

__all__ = [
    "CC_MAX",
    "ACTION_ONLY_FIELDS",
    "EDITABLE_FIELDS",
    "attachment_create",
    "attachment_files_purge",
    "attachments_store",
    "cc_list",
    "comment_create",
    "customer_find_or_create",
    "incident_resolve_linked",
    "is_cc",
    "known_issue_apply",
    "next_ticket_claim",
    "priority_for",
    "priority_matrix",
    "priority_matrix_update",
    "system_user",
    "ticket_assign",
    "ticket_cc_set",
    "ticket_ccs_add_from_message",
    "ticket_claim",
    "ticket_create",
    "ticket_deescalate",
    "ticket_escalate",
    "ticket_raise_levels",
    "ticket_system_note",
    "ticket_worked_by_human",
    "ticket_transition",
    "ticket_update",
    "tickets_autoclose",
    "tickets_raise_levels",
    "tickets_reprioritize",
]
