from django.contrib import admin

from monitoring.models import Application


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("name", "environment", "criticality", "owner_tier", "slug")
    list_filter = ("environment", "criticality", "owner_tier")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name", "environment")}
