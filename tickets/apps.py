from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process, so web requests can enqueue them by name,
        # and this app's figures on /metrics (the core's endpoint names no app).
        from helpdesk.ops import register_collector
        from tickets import tasks  # noqa: F401
        from tickets.metrics import TicketCollector

        register_collector(TicketCollector())
