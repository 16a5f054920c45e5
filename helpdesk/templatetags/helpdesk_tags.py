"""Template filters the pages share: Markdown, due-time countdowns, query strings."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from helpdesk import markdown as md

register = template.Library()


@register.filter
def markdown(text: str | None) -> SafeString:
    """Rendered and sanitised (helpdesk.markdown's allow-list): safe to output."""
    return mark_safe(md.render(text))  # noqa: S308 -- nh3 cleaned it


@register.filter
def countdown(due: datetime | None) -> str:
    """'in 3 h 20 min' or '45 min overdue'; '' without a due time."""
    if due is None:
        return ""
    seconds = int((due - timezone.now()).total_seconds())
    late = seconds < 0
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours and days < 3:
        parts.append(f"{hours} h")
    if not days and (mins or not hours):
        parts.append(f"{mins} min")
    text = " ".join(parts)
    return f"{text} overdue" if late else f"in {text}"


@register.filter
def overdue(due: datetime | None) -> bool:
    return due is not None and due < timezone.now()


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (for pagination and sorting links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def display_name(user, fallback: str = "") -> str:
    """A user's full name, else username; ``fallback`` for none (the system, nobody)."""
    if user is None:
        return fallback
    return user.get_full_name() or user.username
