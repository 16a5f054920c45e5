from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from helpdesk.models import User
from helpdesk.versioning import versioned_save


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
