"""Ticket pages: the L1 console, ticket pages, tier queues and the customer portal."""

from django.urls import path

from tickets import views

urlpatterns = [
    path("console/", views.console, name="console"),
    path("console/preview/", views.console_preview, name="console-preview"),
    path("console/incidents/", views.console_incidents, name="console-incidents"),
    path("console/requesters/", views.console_requesters, name="console-requesters"),
    path("console/suggestions/", views.console_suggestions, name="console-suggestions"),
    path("queue/", views.queue, name="queue"),
    path("queue/next/", views.queue_next, name="queue-next"),
    path("portal/", views.portal, name="portal"),
    path("portal/new/", views.portal_new, name="portal-new"),
    path("tickets/<int:ticket_id>/", views.ticket_page, name="ticket-page"),
    path("tickets/<int:ticket_id>/claim/", views.ticket_claim, name="ticket-claim"),
    path("tickets/<int:ticket_id>/comment/", views.ticket_comment, name="ticket-comment"),
    path("tickets/<int:ticket_id>/escalate/", views.ticket_escalate, name="ticket-escalate"),
    path("tickets/<int:ticket_id>/deescalate/", views.ticket_deescalate, name="ticket-deescalate"),
    path("tickets/<int:ticket_id>/transition/", views.ticket_transition, name="ticket-transition"),
    path("tickets/<int:ticket_id>/link/", views.ticket_link, name="ticket-link"),
    path("tickets/<int:ticket_id>/major/", views.ticket_major, name="ticket-major"),
    path("tickets/<int:ticket_id>/apply-known-issue/", views.ticket_apply_known_issue, name="ticket-apply-known-issue"),
    path("tickets/<int:ticket_id>/resolve-linked/", views.ticket_resolve_linked, name="ticket-resolve-linked"),
    path("known-issues/", views.known_issues, name="known-issues"),
    path("known-issues/new/", views.known_issue_edit, name="known-issue-new"),
    path("known-issues/<int:known_issue_id>/edit/", views.known_issue_edit, name="known-issue-edit"),
]
