"""Failed page logins counted per username and per client address (Django's cache).

After HELPDESK_LOGIN_MAX_FAILURES failures for a username, or
HELPDESK_LOGIN_MAX_FAILURES_PER_IP from one address, within
HELPDESK_LOGIN_WINDOW_MINUTES, further attempts are refused with a 429 before
the password is even checked. A successful login clears the username's count.
The API token endpoint has its own DRF throttle (scope "auth").
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _keys(*, username: str, address: str) -> dict[str, str]:
    # Hashed: usernames are client input of any length and characters.
    user_hash = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return {"user": f"login-fail:user:{user_hash}", "ip": f"login-fail:ip:{address}"}


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR: behind a proxy, the server (gunicorn --forwarded-allow-ips) must set it."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def login_blocked(*, username: str, address: str) -> bool:
    keys = _keys(username=username, address=address)
    counts = cache.get_many(keys.values())
    return (
        counts.get(keys["user"], 0) >= settings.HELPDESK_LOGIN_MAX_FAILURES
        or counts.get(keys["ip"], 0) >= settings.HELPDESK_LOGIN_MAX_FAILURES_PER_IP
    )


def login_failure_record(*, username: str, address: str) -> None:
    window = settings.HELPDESK_LOGIN_WINDOW_MINUTES * 60
    for key in _keys(username=username, address=address).values():
        # add() starts the window; incr() keeps its expiry (fixed window).
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)


def login_success_record(*, username: str, address: str) -> None:
    cache.delete(_keys(username=username, address=address)["user"])
