"""Admin for monitoring configuration. Sources, monitors and silences are saved
through the configuration services, so the admin validates like the API;
alerts are read-only (they belong to the poller and the webhooks)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from helpdesk.admin import ServiceAdminMixin, ServiceForm, add_service_errors
from helpdesk.errors import ServiceError
from helpdesk.text import CLEAN_JSON_FORMFIELDS
from monitoring.models import Alert, MetricSource, Monitor, Silence
from monitoring.services import config


class MetricSourceForm(forms.ModelForm):
    # The stored credential is never rendered; leaving the box empty keeps it.
    token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        max_length=500,
        help_text="Bearer token sent to a pull source. Leave empty to keep the current one.",
    )
    clear_token = forms.BooleanField(required=False, help_text="Remove the stored token.")

    class Meta:
        model = MetricSource
        fields = ("name", "kind", "base_url", "token", "options", "poll_interval_seconds", "timeout_seconds", "enabled")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        values = {field: data.get(field) for field in config.SOURCE_FIELDS if field in self.fields}
        if self.instance.pk and not data.get("token") and not data.get("clear_token"):
            values["token"] = self.instance.token  # kept, unless the host changes (config.source_update)
        if any(field in self.errors for field in values):
            return data
        if values.get("options") is None:
            values["options"] = {}
        try:
            if self.instance.pk and values["kind"] != self.instance.kind:
                raise ValidationError({"kind": "The kind of a source cannot change; create another source."})
            config.source_validate(values, stored_url=self.instance.base_url if self.instance.pk else None)
        except ServiceError as error:
            add_service_errors(self, error)
        return data


@admin.register(MetricSource)
class MetricSourceAdmin(admin.ModelAdmin):
    form = MetricSourceForm
    formfield_overrides = CLEAN_JSON_FORMFIELDS
    list_display = (
        "name",
        "kind",
        "base_url",
        "poll_interval_seconds",
        "enabled",
        "consecutive_failures",
        "last_polled_at",
    )
    list_filter = ("kind", "enabled")
    search_fields = ("name", "base_url")
    readonly_fields = ("consecutive_failures", "last_error", "last_polled_at")
    actions = ["issue_push_token"]

    def save_model(self, request: HttpRequest, obj: MetricSource, form: forms.ModelForm, change: bool) -> None:
        data = {field: form.cleaned_data.get(field) for field in config.SOURCE_FIELDS}
        data["options"] = data["options"] or {}
        if change:
            data.pop("kind")
            if not data["token"] and not form.cleaned_data.get("clear_token"):
                data.pop("token")  # an empty box keeps the stored token (for the same host)
            updated = config.source_update(source=obj, changes=data)
            form.instance = updated
            return
        created, push_token = config.source_create(**data)
        obj.pk = created.pk
        form.instance = created
        if push_token:
            self.message_user(request, f"Push token for {created.name} (shown once): {push_token}", messages.WARNING)

    @admin.action(description="Issue a new push token (the old one stops working)")
    def issue_push_token(self, request: HttpRequest, queryset: QuerySet[MetricSource]) -> None:
        for source in queryset:
            try:
                token = config.source_push_token_rotate(source=source)
            except ServiceError as error:
                self.message_user(request, f"{source.name}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"Push token for {source.name} (shown once): {token}", messages.WARNING)


class MonitorForm(ServiceForm):
    class Meta:
        model = Monitor
        fields = config.MONITOR_FIELDS

    def validate(self, values: dict[str, Any]) -> None:
        config.monitor_validate(values)


@admin.register(Monitor)
class MonitorAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = MonitorForm
    list_display = ("name", "application", "source", "query", "baseline_kind", "state", "last_value", "enabled")
    list_filter = ("state", "baseline_kind", "enabled", "source__kind")
    search_fields = ("name", "query", "application__name")
    list_select_related = ("application", "source")
    readonly_fields = ("state", "last_value", "last_polled_at", "next_poll_at")

    def service_create(self, request: HttpRequest, values: dict[str, Any]) -> Monitor:
        return config.monitor_create(**values)

    def service_update(self, request: HttpRequest, obj: Monitor, values: dict[str, Any]) -> Monitor:
        return config.monitor_update(monitor=obj, changes=values)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("name", "severity", "state", "acknowledged", "application", "started_at", "resolved_at", "ticket")
    list_filter = ("state", "severity", "acknowledged")
    search_fields = ("name", "fingerprint")
    list_select_related = ("application", "ticket")
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SilenceForm(ServiceForm):
    class Meta:
        model = Silence
        fields = config.SILENCE_FIELDS

    def validate(self, values: dict[str, Any]) -> None:
        config.silence_validate(values)


@admin.register(Silence)
class SilenceAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = SilenceForm
    list_display = ("starts_at", "ends_at", "application", "monitor", "reason", "created_by")
    list_select_related = ("application", "monitor", "created_by")
    readonly_fields = ("created_by",)

    def service_create(self, request: HttpRequest, values: dict[str, Any]) -> Silence:
        return config.silence_create(actor=request.user, **values)

    def service_update(self, request: HttpRequest, obj: Silence, values: dict[str, Any]) -> Silence:
        return config.silence_update(silence=obj, changes=values)
