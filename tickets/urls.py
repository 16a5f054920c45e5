"""Ticket pages: the L1 console, ticket pages, tier queues and the customer portal."""

from django.urls import path

from tickets.views import console, known_issues, portal, queues, ticket

urlpatterns = [
    path("console/", console.console, name="console"),
    path("console/preview/", console.console_preview, name="console-preview"),
    path("console/incidents/", console.console_incidents, name="console-incidents"),
    path("console/requesters/", console.console_requesters, name="console-requesters"),
    path("console/suggestions/", console.console_suggestions, name="console-suggestions"),
    path("queue/", queues.queue, name="queue"),
    path("queue/next/", queues.queue_next, name="queue-next"),
    path("portal/", portal.portal, name="portal"),
    path("portal/new/", portal.portal_new, name="portal-new"),
    path("tickets/<int:ticket_id>/", ticket.ticket_page, name="ticket-page"),
    path("tickets/<int:ticket_id>/claim/", ticket.ticket_claim, name="ticket-claim"),
    path("tickets/<int:ticket_id>/comment/", ticket.ticket_comment, name="ticket-comment"),
    path("tickets/<int:ticket_id>/escalate/", ticket.ticket_escalate, name="ticket-escalate"),
    path("tickets/<int:ticket_id>/deescalate/", ticket.ticket_deescalate, name="ticket-deescalate"),
    path("tickets/<int:ticket_id>/transition/", ticket.ticket_transition, name="ticket-transition"),
    path("tickets/<int:ticket_id>/link/", ticket.ticket_link, name="ticket-link"),
    path("tickets/<int:ticket_id>/major/", ticket.ticket_major, name="ticket-major"),
    path(
        "tickets/<int:ticket_id>/apply-known-issue/", ticket.ticket_apply_known_issue, name="ticket-apply-known-issue"
    ),
    path("tickets/<int:ticket_id>/resolve-linked/", ticket.ticket_resolve_linked, name="ticket-resolve-linked"),
    path("tickets/<int:ticket_id>/cc/add/", ticket.ticket_cc_add, name="ticket-cc-add"),
    path("tickets/<int:ticket_id>/cc/remove/", ticket.ticket_cc_remove, name="ticket-cc-remove"),
    path("tickets/<int:ticket_id>/requester-bounce/clear/", ticket.ticket_bounce_clear, name="ticket-bounce-clear"),
    path("known-issues/", known_issues.known_issues, name="known-issues"),
    path("known-issues/new/", known_issues.known_issue_edit, name="known-issue-new"),
    path("known-issues/<int:known_issue_id>/edit/", known_issues.known_issue_edit, name="known-issue-edit"),
]
