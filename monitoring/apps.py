from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process, so the dispatcher can enqueue them by name,
        # and this app's figures on /metrics (the core's endpoint names no app).
        from helpdesk.ops import register_collector
        from monitoring import tasks  # noqa: F401
        from monitoring.metrics import MonitoringCollector

        register_collector(MonitoringCollector())
