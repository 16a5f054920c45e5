"""Pages shared by every role: login, logout, the role-aware home and the navigation."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from helpdesk import roles
from helpdesk.errors import ServiceError
from helpdesk.models import User
from helpdesk.pages import error_text, login_required, see_other
from helpdesk.services import NOTIFICATION_SETTINGS, user_notification_settings_update


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


class NotificationSettingsForm(forms.Form):
    """An agent's switches for the e-mail the helpdesk sends them (labels from the model).
    A plain form: the service compares with the stored user and writes what differs."""

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, initial={f: getattr(user, f) for f in NOTIFICATION_SETTINGS}, **kwargs)
        for name in NOTIFICATION_SETTINGS:
            label = User._meta.get_field(name).verbose_name
            self.fields[name] = forms.BooleanField(required=False, label=str(label)[:1].upper() + str(label)[1:])


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The user's own settings: who they are, and for agents the e-mail they get.
    Saved through ``helpdesk.services.user_notification_settings_update``, which
    refuses agent switches for customers."""
    user = request.user
    is_agent = roles.is_agent(user)
    form = NotificationSettingsForm(request.POST if request.method == "POST" else None, user=user) if is_agent else None
    status = 200
    if request.method == "POST":
        if form is not None and form.is_valid():
            changes = {field: form.cleaned_data[field] for field in NOTIFICATION_SETTINGS}
        else:
            # A customer's page has no switches; whatever such a request names is for the service to refuse.
            changes = {field: True for field in NOTIFICATION_SETTINGS if field in request.POST}
        try:
            user_notification_settings_update(user=user, changes=changes)
        except ServiceError as error:
            messages.error(request, error_text(error))
            status = 400
        else:
            messages.success(request, "Settings saved.")
            return see_other(reverse("account"))
    return render(request, "helpdesk/account.html", {"form": form, "is_agent": is_agent}, status=status)


def _nav_for(user) -> list[tuple[str, str]]:
    if roles.is_agent(user):
        items = [
            ("console", "New ticket"),
            ("queue", "Queue"),
            ("applications", "Monitoring"),
            ("known-issues", "Known issues"),
        ]
        if roles.is_manager(user):
            items = [
                ("manager-dashboard", "Dashboard"),
                *items,
                ("mail-mailboxes", "E-mail"),
                ("admin:index", "Configuration"),
            ]
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
