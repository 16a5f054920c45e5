"""DRF throttles keyed on the one client address rule (helpdesk.client_address).

DRF's own ``get_ident`` trusts ``X-Forwarded-For`` as sent when ``NUM_PROXIES`` is
unset: a new header value per request was a new bucket. Every throttle here asks
``client_address`` instead.
"""

from __future__ import annotations

from typing import Any

from axes.conf import settings as axes_settings
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_credentials
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle

from helpdesk.client_address import client_address
from helpdesk.login_guard import attempted_username


class ClientAddressRateThrottle(ScopedRateThrottle):
    """A scoped rate (``throttle_scope``) per client address."""

    def get_ident(self, request: Request) -> str:
        return client_address(request) or "unknown"


class LoginGuardThrottle(BaseThrottle):
    """The token endpoint's failed-login guard (helpdesk.login_guard): a refused
    attempt answers 429 with ``Retry-After`` before the password is looked at.

    axes' own backend refuses it too, but inside DRF its lockout flag lands on DRF's
    request wrapper, where axes' middleware never sees it; asked here, the answer is
    DRF's 429 ``{"detail"}``."""

    def __init__(self) -> None:
        self.retry_after: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method != "POST" or not axes_settings.AXES_ENABLED:
            return True
        credentials = get_credentials(attempted_username(request))
        allowed = AxesProxyHandler.is_allowed(request, credentials)
        self.retry_after = getattr(request, "login_retry_after", None)
        return allowed

    def wait(self) -> float | None:
        return self.retry_after
