"""Monitoring pages for agents: thin views over the monitoring selectors and services.

Every write goes through the service the API uses (alert_acknowledge,
silence_create, silence_expire), so a page and an API call behave alike.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from catalog.models import Application
from helpdesk import roles
from helpdesk.errors import Conflict, InvalidInput
from helpdesk.pages import agent_required, manager_required, paginate
from monitoring import selectors
from monitoring.forms import DEFAULT_HOURS, PERIODS, PeriodForm, SilenceForm
from monitoring.models import Alert, AlertState, Severity, Silence
from monitoring.monitor_charts import monitor_chart
from monitoring.services import alerts as alert_services
from monitoring.services import config

# Longer periods are drawn from hourly buckets, shorter ones per minute.
HOURLY_FROM_HOURS = 48


def _back(request: HttpRequest, default: str) -> str:
    """Where a POST returns to: the page it came from (``next``), if it is ours."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@agent_required
def applications(request: HttpRequest) -> HttpResponse:
    page = paginate(request, Application.objects.order_by("name", "id"))
    return render(
        request,
        "monitoring/applications.html",
        {"page": page, "overviews": selectors.application_overviews(list(page.object_list)), "section": "applications"},
    )


@agent_required
def application_detail(request: HttpRequest, application_id: int) -> HttpResponse:
    application = get_object_or_404(Application, pk=application_id)
    period = PeriodForm(request.GET)
    hours = period.cleaned_data["hours"] if period.is_valid() else DEFAULT_HOURS
    end = timezone.now()
    start = end - timedelta(hours=hours)
    page = paginate(request, application.monitors.order_by("name", "id"))
    monitors = list(page.object_list)
    bucket = "hour" if hours >= HOURLY_FROM_HOURS else "minute"
    series = selectors.monitor_series(monitors=monitors, since=start, until=end, bucket=bucket)
    context = {
        "application": application,
        "health": selectors.application_health(application),
        "period": period,
        "hours": hours,
        "bucket": bucket,
        "periods": PERIODS,
        "page": page,
        "panels": [{"monitor": m, "chart": monitor_chart(m, series[m.pk], start=start, end=end)} for m in monitors],
        "section": "applications",
    }
    return render(request, "monitoring/application.html", context, status=200 if period.is_valid() else 400)


@agent_required
def alert_list(request: HttpRequest) -> HttpResponse:
    try:
        queryset, errors = selectors.alert_list(filters=request.GET), {}
    except InvalidInput as error:
        queryset, errors = Alert.objects.none(), error.detail
    context = {
        "page": paginate(request, queryset),
        "errors": errors,
        "applications": Application.objects.order_by("name", "id").only("name", "environment"),
        "states": AlertState.choices,
        "severities": Severity.choices,
        "section": "alerts",
    }
    return render(request, "monitoring/alerts.html", context, status=400 if errors else 200)


@agent_required
@require_POST
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_services.alert_acknowledge(alert=get_object_or_404(Alert, pk=alert_id), actor=request.user)
    messages.success(request, f"Acknowledged: {alert.name}.")
    return redirect(_back(request, reverse("monitoring-alerts")))


@agent_required
@require_http_methods(["GET", "POST"])
def silence_list(request: HttpRequest) -> HttpResponse:
    """Silences for every agent; the form to create one for managers only."""
    is_manager = roles.is_manager(request.user)
    form, status = (SilenceForm() if is_manager else None), 200
    if request.method == "POST":
        if not is_manager:
            raise Http404  # as the API: a write a role may not make does not exist for it
        form = SilenceForm(request.POST)
        if form.is_valid():
            try:
                config.silence_create(actor=request.user, **form.cleaned_data)
            except InvalidInput as error:
                form.add_service_error(error)
            else:
                messages.success(request, "Silence created.")
                return redirect("monitoring-silences")
        status = 400
    try:
        queryset, errors = selectors.silence_list(filters=request.GET), {}
    except InvalidInput as error:
        queryset, errors = Silence.objects.none(), error.detail
        status = 400
    context = {
        "page": paginate(request, queryset),
        "errors": errors,
        "form": form,
        "can_manage": is_manager,
        "now": timezone.now(),
        "section": "silences",
    }
    return render(request, "monitoring/silences.html", context, status=status)


@manager_required
@require_POST
def silence_expire(request: HttpRequest, silence_id: int) -> HttpResponse:
    silence = get_object_or_404(Silence, pk=silence_id)
    try:
        kept = config.silence_expire(silence=silence)
    except Conflict as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(request, "Silence ended." if kept else "Silence withdrawn before it started.")
    return redirect(_back(request, reverse("monitoring-silences")))
