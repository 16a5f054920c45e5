from django.apps import AppConfig
from django.core import checks


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(_outbound_settings_check)


def _outbound_settings_check(app_configs: object, **kwargs: object) -> list[checks.CheckMessage]:
    """A bad HELPDESK_OUTBOUND_ALLOW/DENY entry stops startup instead of failing every fetch."""
    from helpdesk.outbound import settings_problems

    return [checks.Error(problem, id="helpdesk.E010") for problem in settings_problems()]
