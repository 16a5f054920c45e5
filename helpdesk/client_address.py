"""The client's address: the one rule every throttle and lockout uses (docs/RELIABILITY.md "Failed logins").

`X-Forwarded-For` is read only when ``HELPDESK_TRUSTED_PROXIES`` (the number of
proxies in front of the application) is above 0, and then only its right-most
N entries, the ones our own proxies wrote: the client is the entry the outermost
trusted proxy appended. Anything to the left of it came from the client and is
ignored. With no trusted proxy, or a header shorter than the proxy chain, the
address is ``REMOTE_ADDR`` (the peer of the TCP connection, which nobody spoofs).

Used by django-axes (``AXES_CLIENT_IP_CALLABLE``) and by the DRF throttles
(``helpdesk.login_guard.ClientAddressRateThrottle``): no second way to find it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address as text, or None when the request carries none we can trust."""
    proxies = settings.HELPDESK_TRUSTED_PROXIES
    if proxies > 0:
        # ipware counts the proxies *inside* the chain (after the client), so N
        # proxies in front leave N - 1 of them in the header. Not strict: junk or
        # extra entries the client put on the left must not invalidate the hops
        # our proxies appended on the right.
        address, _routable = get_client_ip(
            request,
            proxy_order="left-most",
            proxy_count=proxies - 1,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,
            algorithm="modern",
        )
        if address is not None:
            return address
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None  # a Unix socket, or a test client without an address
