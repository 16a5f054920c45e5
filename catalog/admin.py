"""Admin for the catalogue: applications are plain configuration, versioned like the API."""

from __future__ import annotations

from django.contrib import admin

from catalog.models import Application
from helpdesk.admin import VersionedAdminMixin


@admin.register(Application)
class ApplicationAdmin(VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "environment", "criticality", "owner_tier", "slug")
    list_filter = ("environment", "criticality", "owner_tier")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name", "environment")}
