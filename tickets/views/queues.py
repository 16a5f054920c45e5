"""Tier queues: a tier's tickets with filters, sorting and a capped count, and
"next ticket"."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from helpdesk import roles
from helpdesk.errors import ServiceError
from helpdesk.pages import agent_required, error_text, paginate, see_other
from helpdesk.text import parse_id
from tickets import services
from tickets.forms import QueueFilterForm
from tickets.models import ACTIVE_STATUSES
from tickets.selectors import scoped

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
    tickets = scoped.ticket_list_for(
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
