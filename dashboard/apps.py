from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The top floor: what reads tickets and monitoring together (the manager
    dashboard) and the demo loader that fills every app."""

    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
