"""Page forms of the monitoring pages. They parse input; the rules that involve
several fields or other rows stay in the services (monitoring.services.config)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from catalog.models import Application
from helpdesk.errors import ServiceError
from monitoring.models import Monitor

PERIODS = ((1, "1 hour"), (6, "6 hours"), (24, "24 hours"), (168, "7 days"))
DEFAULT_HOURS = 24
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


class PeriodForm(forms.Form):
    """``?hours=`` of the application page: 1, 6, 24 or 168."""

    hours = forms.TypedChoiceField(choices=PERIODS, coerce=int, required=False, empty_value=DEFAULT_HOURS)


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=LOCAL_INPUT, **kwargs)


class MonitorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Monitor) -> str:
        return f"{obj.application.name}: {obj.name}"


class SilenceForm(forms.Form):
    """A maintenance window. Times are in the page's time zone."""

    application = forms.ModelChoiceField(
        queryset=Application.objects.order_by("name", "id"), required=False, empty_label="All applications"
    )
    monitor = MonitorChoiceField(
        queryset=Monitor.objects.select_related("application").order_by("application__name", "name", "id"),
        required=False,
        empty_label="Every monitor of the application",
    )
    starts_at = forms.DateTimeField(label="Starts", widget=LocalDateTimeInput(), input_formats=[LOCAL_INPUT])
    ends_at = forms.DateTimeField(label="Ends", widget=LocalDateTimeInput(), input_formats=[LOCAL_INPUT])
    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "data" not in kwargs:
            now = timezone.localtime().replace(second=0, microsecond=0)
            kwargs.setdefault("initial", {"starts_at": now, "ends_at": now + timedelta(hours=1)})
        super().__init__(*args, **kwargs)

    def add_service_error(self, error: ServiceError) -> None:
        """Show a service's validation errors next to the fields they name."""
        detail = error.detail if isinstance(error.detail, dict) else {None: [error.detail]}
        for field, messages in detail.items():
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(field if field in self.fields else None, str(message))
