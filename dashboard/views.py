"""The manager dashboard page (the JSON twin is dashboard.api.views)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from dashboard.selectors import manager_dashboard_for
from helpdesk import svg_charts
from helpdesk.pages import manager_required


@manager_required
def manager_dashboard(request: HttpRequest) -> HttpResponse:
    """The whole page, or only its figures for the page's own htmx refresh."""
    data = manager_dashboard_for()
    context = {
        "data": data,
        "flow_chart": svg_charts.bar_chart(data["daily"], title="Tickets created, resolved and escalated per day"),
        "refresh_seconds": settings.HELPDESK_DASHBOARD_REFRESH_SECONDS,
    }
    template = "dashboard/_dashboard_figures.html" if request.htmx else "dashboard/dashboard.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))  # a cache must not serve the fragment as the page
    return response
