from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from helpdesk.errors import ServiceError
from helpdesk.models import ApiToken, User
from helpdesk.services import user_save
from helpdesk.versioning import versioned_save


def add_service_errors(form: forms.BaseForm, error: ServiceError) -> None:
    """A service's refusal shown on the admin form, field by field, as the API names them."""
    detail = error.detail if isinstance(error.detail, dict) else {"detail": [error.detail]}
    for field, messages_ in detail.items():
        target = field if field in form.fields else None
        for message in messages_ if isinstance(messages_, list) else [messages_]:
            form.add_error(target, str(message))


class ServiceForm(forms.ModelForm):
    """An admin form whose whole-object rules are the entity's service's: once every
    field is valid, :meth:`validate` runs over the form's fields and a refusal shows
    as form errors, as the API names them."""

    def validate(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors:
            try:
                self.validate({field: data.get(field) for field in self.fields})
            except ServiceError as error:
                add_service_errors(self, error)
        return data


class ServiceAdminMixin:
    """Saves through the entity's services (with a :class:`ServiceForm`): the form's
    values go to ``service_create`` or ``service_update``, which validate again under
    their lock and count the edit."""

    def service_create(self, request: HttpRequest, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def service_update(self, request: HttpRequest, obj: Any, values: dict[str, Any]) -> Any:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        values = {field: form.cleaned_data.get(field) for field in form.fields}  # not the read-only ones
        saved = self.service_update(request, obj, values) if change else self.service_create(request, values)
        obj.pk, form.instance = saved.pk, saved


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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Derived from the role by the service, never set by hand.
        return (*super().get_readonly_fields(request, obj), "is_staff", "is_superuser")

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        try:
            user_save(actor=request.user, user=obj, changed=form.changed_data if change else ())
        except ServiceError as error:
            # The one refusal is a role the actor may not give; only admins reach this page.
            raise PermissionDenied(str(error.detail)) from error


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
