"""Response headers every page and API answer needs."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreForUsersMiddleware:
    """``Cache-Control: private, no-store`` on every response to a request that
    carries credentials (a session cookie or an ``Authorization`` header): a ticket,
    a queue or a user list must not be kept by a shared proxy or left in a
    browser's disk cache after logout.

    Decided from the request, not from ``request.user``: resolving the user here
    would read the session from the database for views that never did, and turn
    ``/readyz`` with a cookie into a 500 while the database is down. Static files
    never get here (whitenoise answers them above this middleware) and keep their
    caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES:
            patch_cache_control(response, private=True, no_store=True)
        return response
