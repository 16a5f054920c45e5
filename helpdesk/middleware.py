"""Response headers every page and API answer needs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreForUsersMiddleware:
    """``Cache-Control: private, no-store`` on every response to a logged-in user,
    by session or API token (DRF sets ``request.user`` on the underlying request
    when it authenticates): a ticket, a queue or a user list must not be kept by a
    shared proxy or left in a browser's disk cache after logout. Static files never
    get here (whitenoise answers them above this middleware) and keep their caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
