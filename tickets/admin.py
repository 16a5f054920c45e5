"""Admin for configuration, and a ticket view whose edits go through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from helpdesk import roles
from helpdesk.admin import ReadOnlyAdminMixin, VersionedAdminMixin
from helpdesk.errors import ServiceError
from helpdesk.text import CLEAN_JSON_FORMFIELDS
from tickets import services
from tickets.models import (
    BusinessCalendar,
    Category,
    Comment,
    KnownIssue,
    PriorityMatrixCell,
    SlaPolicy,
    Ticket,
    TicketEvent,
)
from tickets.services import sla


@admin.register(Category)
class CategoryAdmin(VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "scope_tier", "is_active")
    list_filter = ("scope_tier", "is_active")
    search_fields = ("name",)


class ManagersEditMixin:
    """Managers (and admins) edit this through the admin by role, without
    per-model permissions; everyone else does not see it."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return roles.is_manager(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_manager(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_manager(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_manager(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_manager(request.user)


@admin.register(KnownIssue)
class KnownIssueAdmin(VersionedAdminMixin, ManagersEditMixin, admin.ModelAdmin):
    """Applied known issues cannot be deleted (their links protect them): retire them instead."""

    list_display = ("title", "application", "category", "usage_count", "is_active", "updated_at")
    list_filter = ("is_active", "category", "application")
    search_fields = ("title", "symptoms", "resolution_steps")
    list_select_related = ("application", "category")
    fields = ("title", "symptoms", "resolution_steps", "application", "category", "is_active",
              "usage_count", "created_at", "updated_at", "version")  # fmt: skip
    readonly_fields = ("usage_count", "created_at", "updated_at")
    ordering = ("title", "id")


@admin.register(PriorityMatrixCell)
class PriorityMatrixCellAdmin(admin.ModelAdmin):
    """Editing a cell replaces the matrix through the service, which re-prioritises open tickets."""

    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)
    fields = ("impact", "urgency", "priority")
    readonly_fields = ("impact", "urgency")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PriorityMatrixCell, form: Any, change: bool) -> None:
        matrix = services.priority_matrix()
        matrix[(obj.impact, obj.urgency)] = obj.priority
        cells = [{"impact": i, "urgency": u, "priority": p} for (i, u), p in matrix.items()]
        services.priority_matrix_update(actor=request.user, cells=cells)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    """Saving goes through the service, which recomputes due times of active tickets."""

    list_display = ("priority", "first_response_minutes", "resolution_minutes", "business_hours")
    list_editable = ("first_response_minutes", "resolution_minutes", "business_hours")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SlaPolicy, form: Any, change: bool) -> None:
        fields = ("priority", "first_response_minutes", "resolution_minutes", "business_hours")
        sla.sla_policies_update(actor=request.user, policies=[{f: getattr(obj, f) for f in fields}])


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    formfield_overrides = CLEAN_JSON_FORMFIELDS
    list_display = ("timezone", "day_start", "day_end", "working_days", "holiday_country")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not BusinessCalendar.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: BusinessCalendar, form: Any, change: bool) -> None:
        data = {field: form.cleaned_data[field] for field in form.changed_data}
        try:
            sla.business_calendar_update(actor=request.user, data=data)
        except ServiceError as exc:
            messages.error(request, str(exc.detail))


class CommentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Comment
    fields = ("created_at", "author", "internal", "body")
    readonly_fields = fields
    extra = 0


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TicketEvent
    fields = ("at", "actor", "kind", "data")
    readonly_fields = fields
    extra = 0


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "tier", "priority", "assignee", "requester", "created_at")
    list_filter = ("status", "tier", "priority", "kind", "major")
    search_fields = ("title",)
    list_select_related = ("assignee", "requester")
    raw_id_fields = ("parent",)
    fields = (
        "title", "description", "kind", "major", "urgency", "impact", "category", "application", "parent",
        "status", "tier", "priority", "requester", "assignee", "resolution", "version",
        "created_at", "updated_at", "first_responded_at", "resolved_at", "closed_at", "sla_breached",
    )
    readonly_fields = (
        "status", "tier", "priority", "requester", "assignee", "resolution", "version",
        "created_at", "updated_at", "first_responded_at", "resolved_at", "closed_at", "sla_breached",
    )
    inlines = [CommentInline, EventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets are opened through the API and pages, which apply the rules

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit trail keeps every ticket

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in services.EDITABLE_FIELDS}
        try:
            services.ticket_update(ticket=obj.pk, actor=request.user, changes=changes)
        except ServiceError as exc:
            messages.error(request, str(exc.detail))


@admin.register(TicketEvent)
class TicketEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "ticket", "kind", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("ticket",)
    list_select_related = ("actor",)
