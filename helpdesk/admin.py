from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from helpdesk.models import ApiToken, User
from helpdesk.tokens import api_tokens_revoke_all
from helpdesk.versioning import versioned_save


class ReadOnlyAdminMixin:
    """For what only the code writes (the audit trail, rule firings, the outbox):
    the admin shows it and changes nothing."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class VersionedAdminMixin:
    """For a versioned model saved by the admin itself (not through a service):
    the version is shown, never edited, and a change counts as one edit, so an
    API client holding the old ETag gets a 412. (The admin sends no If-Match:
    its own save is last-write-wins, as before.)"""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*super().get_readonly_fields(request, obj), "version")  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            versioned_save(obj)
        else:
            super().save_model(request, obj, form, change)  # type: ignore[misc]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "is_active")
    list_filter = ("role", "is_active", "is_staff")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Helpdesk", {"fields": ("role",)}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Helpdesk", {"fields": ("role", "email")}))

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # An inactive user's tokens already fail; deleting them keeps a reactivation
        # from bringing them back. (A password change needs nothing: helpdesk.tokens.)
        if change and "is_active" in form.changed_data and not obj.is_active:
            api_tokens_revoke_all(user=obj)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins see who holds tokens and revoke them (delete); keys are never shown (only hashes are kept)."""

    list_display = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "name", "prefix")
    fields = ("user", "name", "prefix", "created_at", "expires_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued through POST /api/v1/auth/token/, where the key is shown once

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
