from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process, so web requests can enqueue them by name,
        # and this app's figures on /metrics (the core's endpoint names no app).
        from escalation import tasks  # noqa: F401
        from escalation.metrics import OutboxCollector
        from helpdesk.ops import register_collector

        register_collector(OutboxCollector())
