"""Failed logins: django-axes with one limit per counter and a growing delay per account.

Every way in (the page login, the admin login, the API token endpoint) goes
through ``django.contrib.auth.authenticate``, where axes' backend asks
``LoginGuardHandler.is_locked`` first: a refused attempt stops there, before any
password is hashed, and is neither counted nor written. Failures are rows of
axes' ``AccessAttempt`` table (one database shared by every process), counted
within ``HELPDESK_LOGIN_WINDOW_MINUTES`` of the last failure:

- one account from one address: ``HELPDESK_LOGIN_MAX_FAILURES`` (5), then refused.
  The owner elsewhere is not affected: a stranger cannot lock an account;
- one address, any accounts: ``HELPDESK_LOGIN_MAX_FAILURES_PER_IP`` (20), then refused;
- one account from every address: after ``HELPDESK_LOGIN_ACCOUNT_FREE_FAILURES`` (10),
  an attempt from an address the account has not logged in from within
  ``HELPDESK_LOGIN_KNOWN_ADDRESS_DAYS`` waits 1, 2, 4, ... seconds after the
  account's last failure, at most ``HELPDESK_LOGIN_ACCOUNT_MAX_DELAY_SECONDS`` (60):
  a distributed attack gets one guess a minute, the owner from a known address none
  of the wait, and from a new address at most the cap.

The client address is ``helpdesk.client_address.client_address`` (trusted proxies only).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessLog
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

THROTTLED_MESSAGE = "Too many failed attempts. Wait a few minutes, then try again."
# The longest username an account can have (AbstractUser): longer input names no
# account, and axes' column takes 255.
USERNAME_MAX_LENGTH = 150


def login_window(request: HttpRequest | None = None) -> timedelta:
    """AXES_COOLOFF_TIME: how long a failure counts after the last one of its row."""
    return timedelta(minutes=settings.HELPDESK_LOGIN_WINDOW_MINUTES)


def attempted_username(request: Any, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the username a client tried, as a key that is always
    storable (no NUL, no lone surrogate, bounded), whatever the client sent."""
    if credentials is not None:
        value = credentials.get("username")
    else:
        data = getattr(request, "data", None)
        if data is None:
            data = request.POST
        value = data.get("username") if hasattr(data, "get") else None  # a JSON list has no fields
    if value is None:
        return None
    text = str(value).encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return text[:USERNAME_MAX_LENGTH]


def refusal_seconds(*, username: str | None, address: str | None, now: datetime | None = None) -> int:
    """Seconds until a login for ``username`` from ``address`` is checked again (0: check it now).

    One aggregate query over the attempts of the window; one more only when the
    account's delay applies (is the address known for the account?).
    """
    now = now or timezone.now()
    window = login_window()
    pair = Q(username=username, ip_address=address)
    from_address = Q(ip_address=address)
    account = Q(username=username)
    counts = AccessAttempt.objects.filter(attempt_time__gte=now - window).filter(from_address | account).aggregate(
        pair=Sum("failures_since_start", filter=pair),
        pair_last=Max("attempt_time", filter=pair),
        address=Sum("failures_since_start", filter=from_address),
        address_last=Max("attempt_time", filter=from_address),
        account=Sum("failures_since_start", filter=account),
        account_last=Max("attempt_time", filter=account),
    )
    waits = [timedelta(0)]
    if username and (counts["pair"] or 0) >= settings.HELPDESK_LOGIN_MAX_FAILURES:
        waits.append(counts["pair_last"] + window - now)
    if (counts["address"] or 0) >= settings.HELPDESK_LOGIN_MAX_FAILURES_PER_IP:
        waits.append(counts["address_last"] + window - now)
    over = (counts["account"] or 0) - settings.HELPDESK_LOGIN_ACCOUNT_FREE_FAILURES
    if username and over >= 0:
        delay = min(2 ** min(over, 30), settings.HELPDESK_LOGIN_ACCOUNT_MAX_DELAY_SECONDS)
        wait = counts["account_last"] + timedelta(seconds=delay) - now
        if wait > timedelta(0) and not _known_address(username=username, address=address, now=now):
            waits.append(wait)
    return math.ceil(max(waits).total_seconds())


def _known_address(*, username: str, address: str | None, now: datetime) -> bool:
    """Has the account logged in successfully from this address lately (axes' access log)?"""
    if address is None:
        return False
    since = now - timedelta(days=settings.HELPDESK_LOGIN_KNOWN_ADDRESS_DAYS)
    return AccessLog.objects.filter(username=username, ip_address=address, attempt_time__gte=since).exists()


def login_records_purge(*, now: datetime | None = None) -> int:
    """Successful-login records older than the known-address horizon (axes writes one
    per page or admin login and never deletes them); failures expire on their own
    (axes deletes rows past the window at each new failure). Safe to run twice."""
    since = (now or timezone.now()) - timedelta(days=settings.HELPDESK_LOGIN_KNOWN_ADDRESS_DAYS)
    deleted, _ = AccessLog.objects.filter(attempt_time__lt=since).delete()
    return deleted


class LoginGuardHandler(AxesDatabaseHandler):
    """Axes' database handler (counts exact across processes: rows updated under a
    row lock) with our limits: see the module's docstring."""

    def is_locked(self, request: Any, credentials: dict | None = None) -> bool:
        seconds = refusal_seconds(
            username=get_client_username(request, credentials), address=request.axes_ip_address
        )
        # Read by lockout_response and the API throttle for Retry-After.
        request.login_retry_after = seconds
        return seconds > 0

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        super().user_logged_in(sender, request, user, **kwargs)
        # The owner got in from here: forget this pair's failures only (axes' own
        # reset would also clear the address's failures on other accounts).
        AccessAttempt.objects.filter(username=user.get_username(), ip_address=request.axes_ip_address).delete()


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the 429 of a refused login, in the shape of the way in."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": THROTTLED_MESSAGE}, status=429)
    elif request.path == reverse("login"):
        # An unbound form: a bound one would check the password when rendered.
        form = AuthenticationForm(request, initial={"username": attempted_username(request, credentials) or ""})
        context = {"form": form, "throttled": THROTTLED_MESSAGE, "next": request.POST.get("next", "")}
        response = render(request, "helpdesk/login.html", context, status=429)
    else:  # the admin's login
        response = HttpResponse(THROTTLED_MESSAGE, status=429, content_type="text/plain; charset=utf-8")
    retry_after = getattr(request, "login_retry_after", 0) or int(login_window().total_seconds())
    response["Retry-After"] = str(retry_after)
    return response
