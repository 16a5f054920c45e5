"""The customer portal: a customer's own tickets and the form for a new one."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from helpdesk.errors import ServiceError
from helpdesk.pages import customer_required, paginate, see_other
from tickets import services
from tickets.forms import PortalTicketForm
from tickets.selectors import scoped
from tickets.views.ticket import form_errors


@customer_required
@require_GET
def portal(request: HttpRequest) -> HttpResponse:
    tickets = scoped.ticket_list_for(user=request.user, filters={"ordering": "-created_at"})
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
                form_errors(form, error)
                status = error.status_code
            else:
                messages.success(request, f"Your request is {ticket.number}. We will answer here and by e-mail.")
                return see_other(reverse("ticket-page", args=[ticket.pk]))
        else:
            status = 400
    else:
        form = PortalTicketForm()
    return render(request, "tickets/portal_new.html", {"form": form}, status=status)
