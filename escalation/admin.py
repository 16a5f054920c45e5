"""Admin: escalation rules to configure, firings and the notification outbox to inspect."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from escalation.models import DeliveryStatus, EscalationRule, Notification, RuleFiring
from escalation.notifications import notifications_retry, validate_notify_spec
from helpdesk.admin import VersionedAdminMixin
from tickets.admin import ReadOnlyAdminMixin


class EscalationRuleForm(forms.ModelForm):
    class Meta:
        model = EscalationRule
        fields = (
            "name", "enabled", "order", "tiers", "priorities", "statuses", "kinds", "applications", "categories",
            "trigger", "threshold", "escalate_to_tier", "raise_urgency", "assign_to", "notify", "note",
        )  # fmt: skip

    def clean_notify(self) -> list[str]:
        notify = self.cleaned_data.get("notify") or []
        if not isinstance(notify, list):
            raise forms.ValidationError('A list of notify targets, e.g. ["tier:2", "role:manager"].')
        problems = [problem for spec in notify if (problem := validate_notify_spec(spec))]
        if problems:
            raise forms.ValidationError(problems)
        return notify


@admin.register(EscalationRule)
class EscalationRuleAdmin(VersionedAdminMixin, admin.ModelAdmin):
    form = EscalationRuleForm
    list_display = ("name", "enabled", "order", "trigger", "threshold", "escalate_to_tier", "updated_at")
    list_filter = ("enabled", "trigger")
    search_fields = ("name",)
    raw_id_fields = ("assign_to",)


@admin.register(RuleFiring)
class RuleFiringAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("fired_at", "rule", "ticket", "episode")
    list_filter = ("rule",)
    raw_id_fields = ("ticket",)
    list_select_related = ("rule", "ticket")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "channel", "target", "subject", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "channel")
    search_fields = ("target", "subject")
    raw_id_fields = ("ticket", "rule")
    actions = ["retry_now"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("escalation.change_notification")

    @admin.action(description="Retry now (failed notifications)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        ids = list(queryset.filter(status=DeliveryStatus.FAILED).values_list("id", flat=True))
        reset = notifications_retry(ids=ids)
        skipped = queryset.count() - reset
        messages.success(request, f"{reset} notification(s) queued to be sent again.")
        if skipped:
            messages.warning(request, f"{skipped} selected notification(s) were not failed and were left alone.")
