"""Ticket pages: the L1 console, the ticket page and its actions, the tier
queues and the customer portal. Thin views over the ticket selectors and
services, the same code paths as the API; service errors become the page's
status (400, 403, 404, 409) with the message shown."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from helpdesk import roles
from helpdesk.errors import ServiceError
from helpdesk.pages import (
    agent_required,
    customer_required,
    error_text,
    login_required,
    manager_required,
    paginate,
    see_other,
)
from helpdesk.text import parse_id
from helpdesk.versioning import versioned_update
from tickets import selectors, services
from tickets.forms import (
    ApplyKnownIssueForm,
    CommentForm,
    ConsoleForm,
    DeescalateForm,
    EscalateForm,
    KnownIssueForm,
    KnownIssueSearchForm,
    LinkForm,
    MajorForm,
    PortalTicketForm,
    QueueFilterForm,
    ResolveLinkedForm,
    TransitionForm,
)
from tickets.models import ACTIVE_STATUSES, KnownIssue, Level, Ticket

# --- the L1 console ------------------------------------------------------------------------------


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
                parent = selectors.ticket_get_for(user=request.user, ticket_id=parent_id) if parent_id else None
                ticket = services.ticket_create(actor=request.user, parent=parent, **data)
            except ServiceError as error:
                _form_errors(form, error)
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
    incidents = list(selectors.open_incidents_for(application_id=application_id)[:5]) if application_id else []
    context = {
        "form": form,
        "created": created,
        "incidents": incidents,
        "preview": selectors.priority_preview(urgency=urgency, impact=impact),
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
        return selectors.ticket_get_for(user=request.user, ticket_id=ticket_id)
    except ServiceError:
        return None


@agent_required
@require_GET
def console_preview(request: HttpRequest) -> HttpResponse:
    """The priority and SLA due times that urgency and impact give, as they change."""
    urgency, impact = request.GET.get("urgency", ""), request.GET.get("impact", "")
    if urgency not in Level.values or impact not in Level.values:
        return HttpResponseBadRequest("urgency and impact must be high, medium or low")
    preview = selectors.priority_preview(urgency=urgency, impact=impact)
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
        incidents = list(selectors.open_incidents_for(application_id=application_id)[:5])
    return render(request, "tickets/partials/incident_banner.html", {"incidents": incidents})


@agent_required
@require_GET
def console_suggestions(request: HttpRequest) -> HttpResponse:
    """Known issues that the title and description being typed suggest."""
    text = f"{request.GET.get('title', '')} {request.GET.get('description', '')}"[:5000]
    application_id = parse_id(request.GET.get("application"))
    suggestions = selectors.known_issue_suggestions_for(user=request.user, text=text, application_id=application_id)
    return render(request, "tickets/partials/known_issue_suggestions.html", {"suggestions": suggestions})


@agent_required
@require_GET
def console_requesters(request: HttpRequest) -> HttpResponse:
    """Customers matching what was typed, as <option>s of the e-mail field's datalist."""
    customers = selectors.customer_search(query=request.GET.get("requester_email", ""))
    return render(request, "tickets/partials/requester_options.html", {"customers": customers})


# --- the ticket page ---------------------------------------------------------------------------


@login_required
def ticket_page(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = _visible_ticket(request, ticket_id)
    return _render_ticket(request, ticket)


def _visible_ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    try:
        return selectors.ticket_page_get(user=request.user, ticket_id=ticket_id)
    except ServiceError:
        raise Http404 from None


def _render_ticket(
    request: HttpRequest, ticket: Ticket, *, status: int = 200, forms: dict[str, Any] | None = None
) -> HttpResponse:
    agent = roles.is_agent(request.user)
    context: dict[str, Any] = {
        "ticket": ticket,
        "agent": agent,
        "timeline": selectors.ticket_timeline_for(user=request.user, ticket=ticket),
        "comment_form": CommentForm(),
        "attachment_max_mb": settings.HELPDESK_ATTACHMENT_MAX_MB,
    }
    if agent:
        context.update(
            handover=selectors.handover_for(ticket=ticket),
            can_work=roles.can_work_tier(request.user, ticket.tier),
            escalate_form=EscalateForm(initial={"to_tier": min(ticket.tier + 1, roles.max_tier())}),
            deescalate_form=DeescalateForm(initial={"to_tier": max(ticket.tier - 1, 1)}),
            transition_form=TransitionForm(),
            link_form=LinkForm(),
            major_form=MajorForm(initial={"major": ticket.major}),
            resolve_linked_form=ResolveLinkedForm(),
            allowed_statuses=selectors.allowed_statuses(ticket=ticket),
            applied=selectors.known_issues_applied_to(ticket=ticket),
            suggestions=selectors.known_issue_suggestions_for(
                user=request.user, text=f"{ticket.title} {ticket.description}", application_id=ticket.application_id
            ),
            now=timezone.now(),
        )
    context.update(forms or {})
    return render(request, "tickets/ticket.html", context, status=status)


def _form_errors(form, error: ServiceError) -> None:
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
            _form_errors(form, error)
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
            ticket=ticket, actor=request.user, body=data["body"], internal=data["internal"]
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
    incident = selectors.ticket_get_for(user=request.user, ticket_id=data["incident"])
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


ticket_claim = _ticket_action(None, "", _claim)
ticket_resolve_linked = _ticket_action(ResolveLinkedForm, "resolve_linked_form", _resolve_linked)
ticket_apply_known_issue = _ticket_action(ApplyKnownIssueForm, "apply_form", _apply_known_issue)
ticket_comment = _ticket_action(CommentForm, "comment_form", _comment)
ticket_escalate = _ticket_action(EscalateForm, "escalate_form", _escalate)
ticket_deescalate = _ticket_action(DeescalateForm, "deescalate_form", _deescalate)
ticket_transition = _ticket_action(TransitionForm, "transition_form", _transition)
ticket_link = _ticket_action(LinkForm, "link_form", _link)
ticket_major = _ticket_action(MajorForm, "major_form", _major)


# --- tier queues -------------------------------------------------------------------------------

# A queue counts its tickets up to this many; past it the page says "more than".
QUEUE_COUNT_CAP = 1000


@agent_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """A tier's tickets with filters, sorting and pagination, and "next ticket"."""
    tier = _queue_tier(request)
    form = QueueFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "tickets/queue.html", {"form": form, "tier": tier, "tiers": roles.tiers()}, status=400)
    data = form.cleaned_data
    filters = {
        "tier": tier,
        "status": data["status"] or ",".join(ACTIVE_STATUSES),
        "priority": data["priority"] or "",
        "assignee": data["assignee"],
        "breached": data["breached"],
        "q": data["q"],
        "ordering": data["ordering"] or "priority,resolution_due_at",
    }
    tickets = selectors.ticket_list_for(
        user=request.user, filters={k: v for k, v in filters.items() if v not in ("", None)}
    )
    # The long texts are not shown in the list: not read either.
    rows = tickets.select_related("assignee", "requester", "application").defer("description", "resolution")
    page = paginate(request, rows, cap=QUEUE_COUNT_CAP)
    context = {
        "form": form,
        "tier": tier,
        "tiers": roles.tiers(),
        "page": page,
        "can_take": roles.can_work_tier(request.user, tier),
    }
    return render(request, "tickets/queue.html", context)


def _queue_tier(request: HttpRequest) -> int:
    tier = parse_id(request.GET.get("tier"))
    if tier in roles.tiers():
        return tier
    return roles.tier_of(request.user) or 1


@agent_required
@require_POST
def queue_next(request: HttpRequest) -> HttpResponse:
    """Claim the best unassigned ticket of the tier (never the same one to two agents)."""
    tier = parse_id(request.POST.get("tier"))
    try:
        ticket = services.next_ticket_claim(actor=request.user, tier=tier)
    except ServiceError as error:
        messages.error(request, error_text(error))
        return see_other(f"{reverse('queue')}?tier={tier or ''}")
    if ticket is None:
        messages.info(request, "The queue is empty: nothing to take.")
        return see_other(f"{reverse('queue')}?tier={tier or ''}")
    messages.success(request, f"You now work on {ticket.number}.")
    return see_other(reverse("ticket-page", args=[ticket.pk]))


# --- customer portal ---------------------------------------------------------------------------


@customer_required
@require_GET
def portal(request: HttpRequest) -> HttpResponse:
    tickets = selectors.ticket_list_for(user=request.user, filters={"ordering": "-created_at"})
    return render(request, "tickets/portal.html", {"page": paginate(request, tickets)})


@customer_required
def portal_new(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = PortalTicketForm(request.POST)
        if form.is_valid():
            try:
                ticket = services.ticket_create(actor=request.user, **form.cleaned_data)
            except ServiceError as error:
                _form_errors(form, error)
                status = error.status_code
            else:
                messages.success(request, f"Your request is {ticket.number}. We will answer here and by e-mail.")
                return see_other(reverse("ticket-page", args=[ticket.pk]))
        else:
            status = 400
    else:
        form = PortalTicketForm()
    return render(request, "tickets/portal_new.html", {"form": form}, status=status)


# --- known issues ------------------------------------------------------------------------------


@agent_required
@require_GET
def known_issues(request: HttpRequest) -> HttpResponse:
    """The knowledge base: search as you type, most used first."""
    form = KnownIssueSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "tickets/known_issues.html", {"form": form}, status=400)
    query = form.cleaned_data["q"]
    filters = {"q": query} if query else {"ordering": "-usage_count"}
    issues = selectors.known_issue_list_for(user=request.user, filters=filters).select_related(
        "application", "category"
    )
    context = {"form": form, "page": paginate(request, issues), "can_edit": roles.is_manager(request.user)}
    if request.htmx:
        return render(request, "tickets/partials/known_issue_results.html", context)
    return render(request, "tickets/known_issues.html", context)


@manager_required
def known_issue_edit(request: HttpRequest, known_issue_id: int | None = None) -> HttpResponse:
    issue = None
    if known_issue_id is not None:
        issue = KnownIssue.objects.filter(pk=known_issue_id).first()
        if issue is None:
            raise Http404
    form = KnownIssueForm(request.POST or None, instance=issue)
    if request.method == "POST":
        if form.is_valid():
            # An edit counts in the version (API clients holding the old ETag get a 412).
            saved = (
                versioned_update(instance=issue, changes={f: form.cleaned_data[f] for f in form.changed_data})
                if issue is not None
                else form.save()
            )
            messages.success(request, f"Known issue “{saved.title}” saved.")
            return see_other(f"{reverse('known-issues')}?q=")
        return render(request, "tickets/known_issue_form.html", {"form": form, "issue": issue}, status=400)
    return render(request, "tickets/known_issue_form.html", {"form": form, "issue": issue})
