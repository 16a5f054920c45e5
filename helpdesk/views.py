"""Pages shared by every role: login, logout, the role-aware home and the navigation."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse

from helpdesk import roles


class LoginView(auth_views.LoginView):
    """Django's login. Failed logins are limited by django-axes (helpdesk.login_guard),
    which answers a refused attempt with this page, a message and a 429."""

    template_name = "helpdesk/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def home_url_for(user) -> str:
    """Where each role's work is: customers their tickets, L1 the console, engineers
    their tier's queue, managers the dashboard."""
    if roles.is_manager(user):
        return reverse("manager-dashboard")
    if roles.is_agent(user):
        return reverse("console") if roles.tier_of(user) == 1 else reverse("queue")
    return reverse("portal")


def favicon(request: HttpRequest) -> HttpResponse:
    """For pages that name no icon (the admin's); resolved per request, as the
    static manifest exists only after collectstatic."""
    return redirect(static("favicon.svg"), permanent=True)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect(home_url_for(request.user))


def _nav_for(user) -> list[tuple[str, str]]:
    if roles.is_agent(user):
        items = [
            ("console", "New ticket"),
            ("queue", "Queue"),
            ("applications", "Monitoring"),
            ("known-issues", "Known issues"),
        ]
        if roles.is_manager(user):
            items = [("manager-dashboard", "Dashboard"), *items, ("admin:index", "Configuration")]
        return items
    return [("portal", "My tickets"), ("portal-new", "New request")]


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context: the menu of the user's role, with the current section marked."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    path = request.path
    items = []
    for name, label in _nav_for(user):
        url = reverse(name)
        items.append({"url": url, "label": label, "current": path == url or (url != "/" and path.startswith(url))})
    return {"nav_items": items}
