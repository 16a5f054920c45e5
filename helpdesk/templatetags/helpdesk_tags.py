"""Template filters the pages share: Markdown, due-time countdowns, names, figures."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
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


@register.filter
def display_name(user, fallback: str = "") -> str:
    """A user's full name, else username; ``fallback`` for none (the system, nobody)."""
    if user is None:
        return fallback
    return user.get_full_name() or user.username


@register.filter
def iso_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 string (as the selectors return times for the API) as a datetime."""
    if not value:
        return None
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


@register.filter
def minutes_duration(minutes: float | None) -> str:
    """Minutes as a short human duration: "45 min", "3 h 20 min", "2 d 4 h"; "–" for none."""
    if minutes is None:
        return "–"
    total = round(float(minutes))
    if total < 60:
        return f"{total} min"
    hours, rest = divmod(total, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def percent(rate: float | None, decimals: int = 0) -> str:
    """A 0..1 rate as a percentage ("80 %"); "–" for none."""
    if rate is None:
        return "–"
    return f"{float(rate) * 100:.{int(decimals)}f} %"
