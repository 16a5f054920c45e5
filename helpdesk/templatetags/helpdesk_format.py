"""Template filters for figures: ISO times from selectors, durations, rates."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

register = template.Library()


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


@register.filter
def ticket_number(ticket_id: int | None) -> str:
    """A ticket id as the number agents read out (HD-000042), without loading the ticket."""
    from tickets.models import Ticket

    return Ticket(pk=ticket_id).number if ticket_id else ""
