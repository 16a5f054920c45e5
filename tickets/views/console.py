"""The L1 console: log a request while the customer is on the phone, with the
priority preview, the open-incident banner, known-issue suggestions and requester
search that update as the agent types."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from helpdesk.errors import ServiceError
from helpdesk.pages import agent_required, error_text
from helpdesk.text import parse_id
from tickets import services
from tickets.forms import ConsoleForm
from tickets.models import Level, Ticket
from tickets.selectors import pages, scoped
from tickets.views.ticket import form_errors


@agent_required
def console(request: HttpRequest) -> HttpResponse:
    """Log a request while the customer is on the phone; after saving, the
    console is ready for the next call and shows the new ticket's number."""
    status = 200
    if request.method == "POST":
        form = ConsoleForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            parent_id = data.pop("parent")
            try:
                parent = scoped.ticket_get_for(user=request.user, ticket_id=parent_id) if parent_id else None
                ticket = services.ticket_create(actor=request.user, parent=parent, **data)
            except ServiceError as error:
                form_errors(form, error)
                status = error.status_code
            else:
                _apply_from_console(request, ticket)
                return redirect(f"{reverse('console')}?created={ticket.pk}")
        else:
            status = 400
    else:
        form = ConsoleForm()
    created = _created_ticket(request)
    urgency = form["urgency"].value() or Level.MEDIUM
    impact = form["impact"].value() or Level.MEDIUM
    if urgency not in Level.values or impact not in Level.values:
        urgency = impact = Level.MEDIUM
    application_id = parse_id(form["application"].value())
    incidents = list(scoped.open_incidents_for(application_id=application_id)[:5]) if application_id else []
    context = {
        "form": form,
        "created": created,
        "incidents": incidents,
        "preview": pages.priority_preview(urgency=urgency, impact=impact),
    }
    return render(request, "tickets/console.html", context, status=status)


def _apply_from_console(request: HttpRequest, ticket: Ticket) -> None:
    """A suggestion's "Apply" (or "Apply and resolve") button saved the ticket:
    apply that known issue to it now. The ticket is saved either way."""
    known_issue = parse_id(request.POST.get("apply_resolve") or request.POST.get("apply"))
    if known_issue is None:
        return
    try:
        services.known_issue_apply(
            ticket=ticket, actor=request.user, known_issue=known_issue, resolve=bool(request.POST.get("apply_resolve"))
        )
    except ServiceError as error:
        messages.error(request, f"{ticket.number} was saved, but the known issue was not applied: {error_text(error)}")


def _created_ticket(request: HttpRequest) -> Ticket | None:
    ticket_id = parse_id(request.GET.get("created"))
    if ticket_id is None:
        return None
    try:
        return scoped.ticket_get_for(user=request.user, ticket_id=ticket_id)
    except ServiceError:
        return None


@agent_required
@require_GET
def console_preview(request: HttpRequest) -> HttpResponse:
    """The priority and SLA due times that urgency and impact give, as they change."""
    urgency, impact = request.GET.get("urgency", ""), request.GET.get("impact", "")
    if urgency not in Level.values or impact not in Level.values:
        return HttpResponseBadRequest("urgency and impact must be high, medium or low")
    preview = pages.priority_preview(urgency=urgency, impact=impact)
    return render(request, "tickets/partials/priority_preview.html", {"preview": preview})


@agent_required
@require_GET
def console_incidents(request: HttpRequest) -> HttpResponse:
    """The banner of open incidents for the chosen application."""
    raw = request.GET.get("application", "")
    incidents = []
    if raw:
        application_id = parse_id(raw)
        if application_id is None:
            return HttpResponseBadRequest("application must be an id")
        incidents = list(scoped.open_incidents_for(application_id=application_id)[:5])
    return render(request, "tickets/partials/incident_banner.html", {"incidents": incidents})


@agent_required
@require_GET
def console_suggestions(request: HttpRequest) -> HttpResponse:
    """Known issues that the title and description being typed suggest."""
    text = f"{request.GET.get('title', '')} {request.GET.get('description', '')}"[:5000]
    application_id = parse_id(request.GET.get("application"))
    suggestions = pages.known_issue_suggestions_for(user=request.user, text=text, application_id=application_id)
    return render(request, "tickets/partials/known_issue_suggestions.html", {"suggestions": suggestions})


@agent_required
@require_GET
def console_requesters(request: HttpRequest) -> HttpResponse:
    """Customers matching what was typed, as <option>s of the e-mail field's datalist."""
    customers = pages.customer_search(query=request.GET.get("requester_email", ""))
    return render(request, "tickets/partials/requester_options.html", {"customers": customers})
