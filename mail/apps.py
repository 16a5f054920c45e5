from django.apps import AppConfig


class MailConfig(AppConfig):
    """Conversations by e-mail: mailboxes in, customer and agent mail out (docs/EMAIL.md)."""

    name = "mail"
    label = "mail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import inbound

        from mail import (
            providers,
            tasks,  # noqa: F401  (the tasks in every process: beat and web requests name them)
        )
        from mail.services import outbound
        from mail.timeline import original_message_links
        from tickets import timeline_links
        from tickets.signals import events_recorded

        events_recorded.connect(outbound.on_events_recorded, dispatch_uid="mail.outbound")
        # Providers' inbound webhooks (anymail) -> the one ingest path.
        inbound.connect(providers.inbound_received, dispatch_uid="mail.providers")
        # The ticket page links a comment that came by e-mail to its original message.
        timeline_links.register("mail.original", original_message_links)
