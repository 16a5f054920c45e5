from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The tasks in every process (web requests enqueue them by name), the e-mail
        # channel's sender (webhooks are escalation's, registered in its ready()),
        # and the outbox's figure on /metrics (the core's endpoint names no app).
        from helpdesk.ops import register_collector
        from notifications import channels, tasks  # noqa: F401
        from notifications.email_sender import send_email
        from notifications.metrics import OutboxCollector
        from notifications.models import Channel

        channels.register(Channel.EMAIL, send_email)
        register_collector(OutboxCollector())
