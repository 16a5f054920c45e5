"""Admin: escalation rules and webhook endpoints to configure, firings to inspect (the
outbox's admin is in notifications/admin.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from escalation import services
from escalation.models import EscalationRule, RuleFiring, WebhookEndpoint
from escalation.notify import _webhook_url_problem
from escalation.webhooks import webhook_endpoint_rules, webhook_endpoint_update, webhook_secret_rotate
from helpdesk.admin import ReadOnlyAdminMixin, ServiceAdminMixin, ServiceForm, VersionedAdminMixin
from helpdesk.text import CLEAN_JSON_FORMFIELDS


class EscalationRuleForm(ServiceForm):
    class Meta:
        model = EscalationRule
        fields = services.RULE_FIELDS

    def validate(self, values: dict[str, Any]) -> None:
        services.rule_validate(values, stored=self.instance if self.instance.pk else None)


@admin.register(EscalationRule)
class EscalationRuleAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = EscalationRuleForm
    formfield_overrides = CLEAN_JSON_FORMFIELDS
    list_display = ("name", "enabled", "order", "trigger", "threshold", "escalate_to_tier", "updated_at")
    list_filter = ("enabled", "trigger")
    search_fields = ("name",)
    raw_id_fields = ("assign_to",)
    readonly_fields = ("version",)

    def service_create(self, request: HttpRequest, values: dict[str, Any]) -> EscalationRule:
        return services.rule_create(**values)

    def service_update(self, request: HttpRequest, obj: EscalationRule, values: dict[str, Any]) -> EscalationRule:
        return services.rule_update(rule=obj, changes=values)

    def delete_model(self, request: HttpRequest, obj: EscalationRule) -> None:
        services.rule_delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[EscalationRule]) -> None:
        for rule in queryset:
            services.rule_delete(rule=rule)


class WebhookEndpointForm(forms.ModelForm):
    class Meta:
        model = WebhookEndpoint
        fields = ("name", "url")

    def clean_url(self) -> str:
        url = (self.cleaned_data.get("url") or "").strip()
        if problem := _webhook_url_problem(url):
            raise forms.ValidationError(problem)
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(VersionedAdminMixin, admin.ModelAdmin):
    """The secret is never displayed (it is not a form field): the page after adding
    an endpoint and the rotate action show a new one once."""

    form = WebhookEndpointForm
    list_display = ("name", "url", "created_at", "secret_rotated_at", "previous_secret_expires_at")
    search_fields = ("name", "url")
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fixed = ("url",) if obj is not None else ()  # rules and queued notifications find it by its URL
        return (*super().get_readonly_fields(request, obj), *fixed, "secret_rotated_at", "previous_secret_expires_at")

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if change:  # only the name: a whole-row save would write back a secret rotated meanwhile
            webhook_endpoint_update(endpoint=obj, changes={"name": obj.name})
        else:
            super().save_model(request, obj, form, change)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        # A rule notifying an endpoint protects it, as the API's 409 does.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for endpoint in objs:
            rules = webhook_endpoint_rules(url=endpoint.url)
            protected += [f"Escalation rule: {rule.name} (notifies {endpoint.name})" for rule in rules]
        return deleted, counts, perms_needed, protected

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None) -> Any:
        return self._show_secrets(request, [obj], "Webhook endpoint added")

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("escalation.change_webhookendpoint")

    @admin.action(description="Rotate the signing secret (the old one stops at once)", permissions=["rotate"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> HttpResponse:
        rotated = [webhook_secret_rotate(endpoint=endpoint) for endpoint in queryset]
        return self._show_secrets(request, rotated, "New webhook secrets")

    def _show_secrets(self, request: HttpRequest, endpoints: list[WebhookEndpoint], title: str) -> HttpResponse:
        """A page of its own, not a message: messages may travel in a cookie."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "endpoints": endpoints,
        }
        return TemplateResponse(request, "admin/escalation/webhook_secrets.html", context)


@admin.register(RuleFiring)
class RuleFiringAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("fired_at", "rule", "ticket", "episode")
    list_filter = ("rule",)
    raw_id_fields = ("ticket",)
    list_select_related = ("rule", "ticket")
