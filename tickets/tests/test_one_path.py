"""Guards of issue 12's "one path per change, one event vocabulary": the audit
trail's rows and payloads are built only in tickets/events/__init__.py, and monitoring
reaches tickets through its services, not its rows."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("helpdesk", "tickets", "monitoring", "escalation")
# Ways to write an event row other than through a constructor of tickets/events/__init__.py
# (tickets/events/timeline.py, its read side, may not write either).
EVENT_WRITES = re.compile(
    r"TicketEvent\(|TicketEvent\.objects\.(bulk_)?create|\brecord_bulk\(|\brecord\(|record_changes\("
)


def _sources() -> list[Path]:
    return [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
    ]


def test_only_tickets_events_writes_the_audit_trail():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _sources()
        if path != ROOT / "tickets" / "events" / "__init__.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if EVENT_WRITES.search(line) and not line.startswith("class ")
    ]
    assert offenders == []


def test_monitoring_uses_ticket_services_not_ticket_rows():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "monitoring").rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "TicketEvent" in line
        or "tickets.services.bulk" in line
        or "from tickets import events" in line
        or "from tickets.events" in line
        or re.search(r"Ticket\.objects\.select_for_update", line)
    ]
    assert offenders == []
