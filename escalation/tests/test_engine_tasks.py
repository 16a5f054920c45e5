"""The engine's Celery side: the escalation.tick task, the beat schedule, and the
auto-close sweep of resolved tickets (docs/PRODUCT.md "Status lifecycle", "Escalation rules")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings

from escalation.models import EscalationRule, RuleFiring, Trigger
from escalation.tests.factories import EscalationRuleFactory
from helpdesk.celery import app as celery_app
from tickets import services
from tickets.events import EventKind
from tickets.models import Status
from tickets.tests.factories import TicketFactory
from tickets.tests.services_helpers import events_of, fresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


# --- escalation.tick ------------------------------------------------------------------------------


def test_tick_task_runs_the_engine(clock):
    EscalationRule.objects.all().delete()
    rule = EscalationRuleFactory(name="Late", trigger=Trigger.FIRST_RESPONSE_OVERDUE, escalate_to_tier=2)
    late = TicketFactory(tier=1, first_response_due_at=NOW - timedelta(minutes=5))
    on_time = TicketFactory(tier=1, first_response_due_at=NOW + timedelta(minutes=5))

    task = celery_app.tasks["escalation.tick"]
    assert task.apply_async().get() == 1  # eager in tests: runs here and now

    assert fresh(late).tier == 2 and fresh(late).sla_breached
    assert [e.data["rule"] for e in events_of(late, EventKind.RULE_FIRED)] == [rule.pk]
    assert fresh(on_time).tier == 1 and not events_of(on_time)
    assert RuleFiring.objects.filter(rule=rule, ticket=late, episode=1).exists()
    assert task.delay().get() == 0


def _beat_entries(schedule: dict) -> dict[str, dict]:
    return {entry["task"]: entry for entry in schedule.values()}


def test_beat_schedule_has_the_engine_the_outbox_sweep_and_autoclose():
    entries = _beat_entries(django_settings.CELERY_BEAT_SCHEDULE)
    assert entries["escalation.tick"]["schedule"] == float(django_settings.HELPDESK_ESCALATION_TICK_SECONDS)
    assert entries["escalation.resend_notifications"]["schedule"] > 0
    assert entries["tickets.autoclose_resolved"]["schedule"] > 0
    # The Celery app reads the same schedule, and every scheduled task exists.
    assert _beat_entries(celery_app.conf.beat_schedule).keys() >= entries.keys()
    for name in entries:
        assert name in celery_app.tasks, name


def test_tick_interval_comes_from_the_setting():
    code = (
        "import json, django; django.setup();"
        "from django.conf import settings;"
        "print(json.dumps({e['task']: e['schedule'] for e in settings.CELERY_BEAT_SCHEDULE.values()}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "HELPDESK_ESCALATION_TICK_SECONDS": "17"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=django_settings.BASE_DIR
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["escalation.tick"] == 17.0


# --- auto-close -------------------------------------------------------------------------------------


def resolved_ago(age: timedelta, agent, customer, clock):
    clock.move_to(NOW - age - timedelta(hours=1))
    ticket = services.ticket_create(actor=agent, requester=customer, title="Printer")
    clock.move_to(NOW - age)
    services.ticket_transition(ticket=ticket, actor=agent, status=Status.RESOLVED, resolution="Replaced the toner.")
    clock.move_to(NOW)
    return fresh(ticket)


def test_autoclose_closes_resolved_tickets_older_than_the_setting(clock, l3, customer, settings):
    assert settings.HELPDESK_AUTOCLOSE_DAYS == 7
    old = resolved_ago(timedelta(days=8), l3, customer, clock)
    just_over = resolved_ago(timedelta(days=7, minutes=1), l3, customer, clock)
    just_under = resolved_ago(timedelta(days=6, hours=23), l3, customer, clock)
    recent = resolved_ago(timedelta(days=1), l3, customer, clock)
    clock.move_to(NOW - timedelta(days=30))
    stale_open = services.ticket_create(actor=l3, requester=customer, title="Old but open")
    clock.move_to(NOW)

    assert celery_app.tasks["tickets.autoclose_resolved"].delay().get() == 2

    for t in (old, just_over):
        now = fresh(t)
        assert (now.status, now.closed_at, now.version) == (Status.CLOSED, NOW, t.version + 1)
        [event] = events_of(t, EventKind.STATUS_CHANGED)[-1:]
        assert event.actor_id is None
        assert event.data == {"before": {"status": "resolved"}, "after": {"status": "closed"}, "reason": "auto-closed"}
    for t in (just_under, recent):
        now = fresh(t)
        assert (now.status, now.closed_at, now.version) == (Status.RESOLVED, None, t.version)
    assert fresh(stale_open).status == Status.NEW

    assert services.tickets_autoclose() == 0  # nothing left


def test_autoclose_follows_helpdesk_autoclose_days(clock, l3, customer, settings):
    settings.HELPDESK_AUTOCLOSE_DAYS = 2
    three_days = resolved_ago(timedelta(days=3), l3, customer, clock)
    one_day = resolved_ago(timedelta(days=1), l3, customer, clock)
    assert services.tickets_autoclose() == 1
    assert fresh(three_days).status == Status.CLOSED and fresh(one_day).status == Status.RESOLVED
