from django.apps import AppConfig


class MailConfig(AppConfig):
    """Conversations by e-mail: mailboxes in, customer and agent mail out (docs/EMAIL.md)."""

    name = "mail"
    label = "mail"
    default_auto_field = "django.db.models.BigAutoField"
