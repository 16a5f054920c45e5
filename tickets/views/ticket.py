"""The ticket page and its POST actions (claim, comment, escalate, transition,
link, major incident, known issue, resolve linked, CCs, the requester's bounce):
each validates its form, runs the service and redirects back, or shows the page
again with the service's status."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from helpdesk import roles
from helpdesk.errors import NotAllowed, ServiceError
from helpdesk.pages import error_text, login_required, see_other
from helpdesk.services import user_email_bounce_clear
from tickets import services
from tickets.forms import (
    ApplyKnownIssueForm,
    CcForm,
    CommentForm,
    DeescalateForm,
    EscalateForm,
    LinkForm,
    MajorForm,
    ResolveLinkedForm,
    TransitionForm,
)
from tickets.models import Status, Ticket, Via
from tickets.selectors import pages, scoped


@login_required
def ticket_page(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _visible_ticket(request, ticket_id)
    return _render_ticket(request, ticket)


def _visible_ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    try:
        return pages.ticket_page_get(user=request.user, ticket_id=ticket_id)
    except ServiceError:
        raise Http404 from None


def _render_ticket(
    request: HttpRequest, ticket: Ticket, *, status: int = 200, forms: dict[str, Any] | None = None
) -> HttpResponse:
    agent = roles.is_agent(request.user)
    can_work = roles.can_work_tier(request.user, ticket.tier)
    context: dict[str, Any] = {
        "ticket": ticket,
        "agent": agent,
        "timeline": pages.ticket_timeline_for(user=request.user, ticket=ticket),
        "comment_form": CommentForm(),
        "attachment_max_mb": settings.HELPDESK_ATTACHMENT_MAX_MB,
        "ccs": services.cc_list(ticket),
        # Agents who may work the ticket edit its CCs (tickets.services.ccs); the requester reads them.
        "can_edit_cc": can_work and ticket.status != Status.CLOSED,
        "cc_form": CcForm(),
        **pages.follow_links_for(user=request.user, ticket=ticket),
    }
    if agent:
        context.update(
            handover=pages.handover_for(ticket=ticket),
            can_work=can_work,
            escalate_form=EscalateForm(initial={"to_tier": min(ticket.tier + 1, roles.max_tier())}),
            deescalate_form=DeescalateForm(initial={"to_tier": max(ticket.tier - 1, 1)}),
            transition_form=TransitionForm(),
            link_form=LinkForm(),
            major_form=MajorForm(initial={"major": ticket.major}),
            resolve_linked_form=ResolveLinkedForm(),
            allowed_statuses=pages.allowed_statuses(ticket=ticket),
            applied=pages.known_issues_applied_to(ticket=ticket),
            suggestions=pages.known_issue_suggestions_for(
                user=request.user, text=f"{ticket.title} {ticket.description}", application_id=ticket.application_id
            ),
            now=timezone.now(),
        )
    context.update(forms or {})
    return render(request, "tickets/ticket.html", context, status=status)


def form_errors(form, error: ServiceError) -> None:
    """A service error on the form: field errors where the field exists, else a general one."""
    detail = error.detail
    if isinstance(detail, dict):
        for field, problems in detail.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(field if field in form.fields else None, str(problem))
    else:
        form.add_error(None, str(detail))


def _ticket_action(form_class, form_name: str, run):
    """A POST action on the ticket page: validate the form, run the service, then
    redirect back (303) or show the page again with the errors and the service's status."""

    @login_required
    @require_POST
    def view(request: HttpRequest, ticket_id: int) -> HttpResponse:
        ticket = _visible_ticket(request, ticket_id)
        form = form_class(request.POST, request.FILES) if form_class else None
        if form is not None and not form.is_valid():
            return _render_ticket(request, ticket, status=400, forms={form_name: form})
        try:
            message = run(request, ticket, form.cleaned_data if form is not None else {})
        except ServiceError as error:
            if form is None:
                messages.error(request, error_text(error))
                return _render_ticket(request, _visible_ticket(request, ticket_id), status=error.status_code)
            form_errors(form, error)
            return _render_ticket(
                request, _visible_ticket(request, ticket_id), status=error.status_code, forms={form_name: form}
            )
        messages.success(request, message)
        return see_other(reverse("ticket-page", args=[ticket.pk]))

    return view


def _claim(request, ticket, data) -> str:
    services.ticket_claim(ticket=ticket, actor=request.user)
    return f"You now work on {ticket.number}."


def _comment(request, ticket, data) -> str:
    # One transaction: a refused file (type, size) leaves no comment behind either.
    with transaction.atomic():
        comment = services.comment_create(
            ticket=ticket, actor=request.user, body=data["body"], internal=data["internal"], via=Via.WEB
        )
        if data.get("file") is not None:
            services.attachment_create(comment=comment, actor=request.user, upload=data["file"])
    return "Internal note added." if data["internal"] else "Comment added."


def _escalate(request, ticket, data) -> str:
    moved = services.ticket_escalate(ticket=ticket, actor=request.user, **data)
    return f"{ticket.number} escalated to L{moved.tier}."


def _deescalate(request, ticket, data) -> str:
    moved = services.ticket_deescalate(ticket=ticket, actor=request.user, **data)
    return f"{ticket.number} sent back to L{moved.tier}."


def _transition(request, ticket, data) -> str:
    changed = services.ticket_transition(
        ticket=ticket, actor=request.user, status=data["status"], resolution=data["resolution"]
    )
    return f"{ticket.number} is now {changed.get_status_display().lower()}."


def _link(request, ticket, data) -> str:
    incident = scoped.ticket_get_for(user=request.user, ticket_id=data["incident"])
    services.ticket_update(ticket=ticket, actor=request.user, changes={"parent": incident})
    return f"{ticket.number} linked to {incident.number}."


def _major(request, ticket, data) -> str:
    services.ticket_update(ticket=ticket, actor=request.user, changes={"major": data["major"]})
    return f"{ticket.number} is {'a' if data['major'] else 'not a'} major incident."


def _apply_known_issue(request, ticket, data) -> str:
    services.known_issue_apply(
        ticket=ticket, actor=request.user, known_issue=data["known_issue"], resolve=data["resolve"]
    )
    return "Known issue applied; its steps were sent to the customer." + (
        " Ticket resolved." if data["resolve"] else ""
    )


def _resolve_linked(request, ticket, data) -> str:
    resolved = services.incident_resolve_linked(incident=ticket, actor=request.user, message=data["message"])
    return f"{len(resolved)} linked ticket{'s' if len(resolved) != 1 else ''} resolved with your message."


def _cc_add(request, ticket, data) -> str:
    current = services.cc_list(ticket)
    services.ticket_cc_set(
        ticket=ticket, actor=request.user, addresses=[*current, data["cc"]], expected_version=data["version"]
    )
    return f"{data['cc'].strip().lower()} is copied on {ticket.number}."


def _cc_remove(request, ticket, data) -> str:
    address = data["cc"].strip().lower()
    current = services.cc_list(ticket)
    services.ticket_cc_set(
        ticket=ticket,
        actor=request.user,
        addresses=[a for a in current if a != address],
        expected_version=data["version"],
    )
    return f"{address} is no longer copied." if address in current else f"{address} was not copied."


def _bounce_clear(request, ticket, data) -> str:
    # The flag is shown to agents (docs/EMAIL.md "Bounces"); any agent who sees the ticket clears it.
    if not roles.is_agent(request.user):
        raise NotAllowed("Only agents clear a bounce.")
    user_email_bounce_clear(user=ticket.requester)
    return f"Mail to {ticket.requester.email} will be sent again."


ticket_claim = _ticket_action(None, "", _claim)
ticket_resolve_linked = _ticket_action(ResolveLinkedForm, "resolve_linked_form", _resolve_linked)
ticket_apply_known_issue = _ticket_action(ApplyKnownIssueForm, "apply_form", _apply_known_issue)
ticket_comment = _ticket_action(CommentForm, "comment_form", _comment)
ticket_escalate = _ticket_action(EscalateForm, "escalate_form", _escalate)
ticket_deescalate = _ticket_action(DeescalateForm, "deescalate_form", _deescalate)
ticket_transition = _ticket_action(TransitionForm, "transition_form", _transition)
ticket_link = _ticket_action(LinkForm, "link_form", _link)
ticket_major = _ticket_action(MajorForm, "major_form", _major)
ticket_cc_add = _ticket_action(CcForm, "cc_form", _cc_add)
ticket_cc_remove = _ticket_action(CcForm, "cc_form", _cc_remove)
ticket_bounce_clear = _ticket_action(None, "", _bounce_clear)
