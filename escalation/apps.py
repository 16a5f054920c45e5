from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process, so web requests can enqueue them by name,
        # and the webhook channel's sender with the outbox (notifications, a floor below:
        # it delivers the rows, escalation holds the endpoints and their secrets).
        from escalation import tasks  # noqa: F401
        from escalation.webhook_sender import send_webhook
        from notifications import channels
        from notifications.models import Channel

        channels.register(Channel.WEBHOOK, send_webhook)
