"""Ticket pages: thin views over the ticket selectors and services."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk.pages import agent_required, login_required
from tickets import selectors


@agent_required
def console(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/console.html", {})


@agent_required
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/queue.html", {})


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/portal.html", {})


@login_required
def portal_new(request: HttpRequest) -> HttpResponse:
    return render(request, "tickets/portal.html", {})


@login_required
def ticket_page(request: HttpRequest, ticket_id: int) -> HttpResponse:
    ticket = selectors.ticket_get_for(user=request.user, ticket_id=ticket_id)
    return render(request, "tickets/ticket.html", {"ticket": ticket})
