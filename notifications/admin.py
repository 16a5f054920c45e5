"""Admin: the notification outbox to inspect, and failed rows to send again."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from helpdesk.admin import ReadOnlyAdminMixin
from notifications.delivery import notifications_retry
from notifications.models import DeliveryStatus, Notification


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "channel", "target", "subject", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "channel")
    search_fields = ("target", "subject")
    raw_id_fields = ("ticket",)
    actions = ["retry_now"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_notification")

    @admin.action(description="Retry now (failed notifications)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        ids = list(queryset.filter(status=DeliveryStatus.FAILED).values_list("id", flat=True))
        reset = notifications_retry(ids=ids)
        skipped = queryset.count() - reset
        messages.success(request, f"{reset} notification(s) queued to be sent again.")
        if skipped:
            messages.warning(request, f"{skipped} selected notification(s) were not failed and were left alone.")
