from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The ground floor above the core: what tickets and monitoring both name."""

    name = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
