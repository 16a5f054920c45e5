"""Monitoring pages for agents: thin views over the monitoring selectors."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk.pages import agent_required
from monitoring.models import Application


@agent_required
def applications(request: HttpRequest) -> HttpResponse:
    apps = Application.objects.order_by("name")
    return render(request, "monitoring/applications.html", {"applications": apps})
