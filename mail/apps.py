from django.apps import AppConfig


class MailConfig(AppConfig):
    """Conversations by e-mail (SPEC section 8), a floor above tickets."""

    name = "mail"
    label = "mail"
    default_auto_field = "django.db.models.BigAutoField"
