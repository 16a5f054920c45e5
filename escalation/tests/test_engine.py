"""The escalation engine (docs/PRODUCT.md "Escalation rules"): which tickets each trigger and condition matches,
what each action does, and "at most once per ticket per episode"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from catalog.tests.factories import ApplicationFactory
from escalation.engine import escalation_tick, rule_matches
from escalation.models import EscalationRule, RuleFiring, Trigger
from escalation.tests.factories import EscalationRuleFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from notifications.models import Channel, Notification
from tickets import services
from tickets.events import EventKind
from tickets.models import Comment, Kind, Level, Status, Ticket, TicketEvent
from tickets.tests.factories import CategoryFactory, TicketFactory
from tickets.tests.services_helpers import events_of, fresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)  # Monday noon
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def clock():
    """Frozen at NOW, so auto_now fields and the engine agree on the time."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _only_our_rules(db):
    """The default rules shipped by the migration would fire too; each test makes its own."""
    EscalationRule.objects.all().delete()


def ticket(**kwargs) -> Ticket:
    """A ticket row as the engine sees it; `updated_at` cannot be passed to the
    factory (auto_now), so it is set afterwards."""
    updated_at = kwargs.pop("updated_at", None)
    t = TicketFactory(**kwargs)
    if updated_at is not None:
        Ticket.objects.filter(pk=t.pk).update(updated_at=updated_at)
    return t


def matched(rule: EscalationRule, now: datetime = NOW) -> set[int]:
    return set(rule_matches(rule, now=now).values_list("pk", flat=True))


def pks(*tickets: Ticket) -> set[int]:
    return {t.pk for t in tickets}


def fired_events(t: Ticket) -> list[TicketEvent]:
    return events_of(t, EventKind.RULE_FIRED)


# --- triggers -----------------------------------------------------------------------------------


def test_first_response_overdue():
    due = {"first_response_due_at": NOW - MIN}
    hits = [
        ticket(status=Status.NEW, **due),
        ticket(status=Status.OPEN, first_response_due_at=NOW - 5 * HOUR),
        ticket(status=Status.PENDING, **due),
    ]
    ticket(status=Status.OPEN, first_response_due_at=NOW + MIN)  # not due yet
    ticket(status=Status.OPEN, first_responded_at=NOW - 2 * HOUR, **due)  # answered
    ticket(status=Status.RESOLVED, **due)
    ticket(status=Status.CLOSED, **due)
    ticket(status=Status.OPEN, first_response_due_at=None)
    assert matched(EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, threshold=0)) == pks(*hits)


def test_first_response_overdue_by_threshold_minutes():
    late = ticket(status=Status.OPEN, first_response_due_at=NOW - 31 * MIN)
    ticket(status=Status.OPEN, first_response_due_at=NOW - 29 * MIN)
    assert matched(EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, threshold=30)) == pks(late)


def test_resolution_overdue():
    due = {"resolution_due_at": NOW - MIN}
    hits = [ticket(status=Status.NEW, **due), ticket(status=Status.OPEN, first_responded_at=NOW - HOUR, **due)]
    ticket(status=Status.PENDING, resolution_due_at=NOW - 5 * HOUR)  # clock paused
    ticket(status=Status.OPEN, resolution_due_at=NOW + MIN)
    ticket(status=Status.RESOLVED, **due)
    ticket(status=Status.CLOSED, **due)
    ticket(status=Status.OPEN, resolution_due_at=None)
    assert matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_OVERDUE, threshold=0)) == pks(*hits)


def test_resolution_overdue_by_threshold_minutes():
    late = ticket(status=Status.OPEN, resolution_due_at=NOW - 61 * MIN)
    ticket(status=Status.OPEN, resolution_due_at=NOW - 59 * MIN)
    assert matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_OVERDUE, threshold=60)) == pks(late)


def _elapsed(pct_of_ten_hours: int, status: str = Status.OPEN) -> Ticket:
    """A ticket with a 10-hour resolution window, `pct` percent of which has passed."""
    created = NOW - timedelta(minutes=6 * pct_of_ten_hours)
    return ticket(status=status, created_at=created, resolution_due_at=created + 10 * HOUR)


def test_resolution_elapsed_pct():
    sixty, forty, twohundred = _elapsed(60), _elapsed(40), _elapsed(200, Status.NEW)
    _elapsed(60, Status.PENDING)
    _elapsed(90, Status.RESOLVED)
    ticket(status=Status.OPEN, created_at=NOW - 10 * HOUR, resolution_due_at=None)
    assert matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_ELAPSED_PCT, threshold=50)) == pks(sixty, twohundred)
    assert matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_ELAPSED_PCT, threshold=100)) == pks(twohundred)
    assert matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_ELAPSED_PCT, threshold=150)) == pks(twohundred)
    assert matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_ELAPSED_PCT, threshold=250)) == set()
    assert forty.pk not in matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_ELAPSED_PCT, threshold=41))
    assert forty.pk in matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_ELAPSED_PCT, threshold=39))


def test_resolution_elapsed_pct_zero_matches_every_running_ticket_with_a_due_time():
    just_created = _elapsed(0)
    hits = [just_created, _elapsed(40), _elapsed(120, Status.NEW)]
    _elapsed(40, Status.PENDING)
    ticket(status=Status.OPEN, resolution_due_at=None)
    assert matched(EscalationRuleFactory(trigger=Trigger.RESOLUTION_ELAPSED_PCT, threshold=0)) == pks(*hits)


def test_unassigned_for(l1):
    hits = [
        ticket(status=Status.NEW, queued_at=NOW - 16 * MIN),
        ticket(status=Status.OPEN, queued_at=NOW - 5 * HOUR),
    ]
    ticket(status=Status.NEW, queued_at=NOW - 14 * MIN)
    ticket(status=Status.OPEN, queued_at=NOW - 5 * HOUR, assignee=l1)
    ticket(status=Status.PENDING, queued_at=NOW - 5 * HOUR)
    ticket(status=Status.RESOLVED, queued_at=NOW - 5 * HOUR)
    assert matched(EscalationRuleFactory(trigger=Trigger.UNASSIGNED_FOR, threshold=15)) == pks(*hits)


def test_unassigned_for_zero(l1):
    now_queued = ticket(status=Status.NEW, queued_at=NOW)
    old = ticket(status=Status.OPEN, queued_at=NOW - HOUR)
    ticket(status=Status.OPEN, queued_at=None, assignee=l1)
    ticket(status=Status.OPEN, queued_at=NOW + MIN)  # queued after the tick's instant
    assert matched(EscalationRuleFactory(trigger=Trigger.UNASSIGNED_FOR, threshold=0)) == pks(now_queued, old)


def test_idle_for():
    hits = [
        ticket(status=Status.OPEN, updated_at=NOW - 61 * MIN),
        ticket(status=Status.PENDING, updated_at=NOW - 2 * HOUR),
        ticket(status=Status.NEW, updated_at=NOW - 2 * HOUR),
    ]
    recent = ticket(status=Status.OPEN, updated_at=NOW - 59 * MIN)
    ticket(status=Status.RESOLVED, updated_at=NOW - 2 * HOUR)
    ticket(status=Status.CLOSED, updated_at=NOW - 2 * HOUR)
    assert matched(EscalationRuleFactory(trigger=Trigger.IDLE_FOR, threshold=60)) == pks(*hits)
    assert matched(EscalationRuleFactory(trigger=Trigger.IDLE_FOR, threshold=0)) == pks(*hits, recent)


def test_a_real_update_resets_idle_for(l2, clock):
    t = ticket(status=Status.OPEN, tier=1, updated_at=NOW - 2 * HOUR)
    rule = EscalationRuleFactory(trigger=Trigger.IDLE_FOR, threshold=60)
    assert matched(rule) == pks(t)
    services.ticket_update(ticket=t, actor=l2, changes={"title": "Now with details"})
    assert matched(rule) == set()
    assert matched(rule, now=NOW + 61 * MIN) == pks(t)


# --- conditions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition, field, values, chosen",
    [
        ("tiers", "tier", [1, 2, 3], [2, 3]),
        ("tiers", "tier", [1, 2, 3], [1]),
        ("priorities", "priority", [1, 2, 3, 4, 5], [1, 4]),
        ("statuses", "status", [Status.NEW, Status.OPEN, Status.PENDING], [Status.PENDING]),
        ("statuses", "status", [Status.NEW, Status.OPEN, Status.PENDING], [Status.NEW, Status.OPEN]),
        ("kinds", "kind", [Kind.INCIDENT, Kind.SERVICE_REQUEST], [Kind.INCIDENT]),
    ],
)
def test_each_condition_narrows_and_empty_means_any(condition, field, values, chosen):
    by_value = {v: [ticket(**{field: v}), ticket(**{field: v})] for v in values}
    ticket(status=Status.RESOLVED, **({field: chosen[0]} if field != "status" else {}))
    expected = {t.pk for v in chosen for t in by_value[v]}
    assert matched(EscalationRuleFactory(**{condition: chosen})) == expected
    everyone = {t.pk for ts in by_value.values() for t in ts}
    assert matched(EscalationRuleFactory(**{condition: []})) == everyone


@pytest.mark.parametrize(
    "condition, field, factory",
    [("applications", "application", ApplicationFactory), ("categories", "category", CategoryFactory)],
)
def test_application_and_category_conditions(condition, field, factory):
    a, b, c = factory(), factory(), factory()
    on_a, on_b, on_c, on_none = ticket(**{field: a}), ticket(**{field: b}), ticket(**{field: c}), ticket()
    ticket(status=Status.CLOSED, **{field: a})
    assert matched(EscalationRuleFactory(**{condition: [a.pk]})) == pks(on_a)
    assert matched(EscalationRuleFactory(**{condition: [a.pk, c.pk]})) == pks(on_a, on_c)
    assert matched(EscalationRuleFactory(**{condition: []})) == pks(on_a, on_b, on_c, on_none)


def test_conditions_combine_with_and():
    app = ApplicationFactory()
    hit = ticket(tier=1, priority=2, kind=Kind.INCIDENT, application=app, status=Status.OPEN)
    ticket(tier=2, priority=2, kind=Kind.INCIDENT, application=app, status=Status.OPEN)
    ticket(tier=1, priority=3, kind=Kind.INCIDENT, application=app, status=Status.OPEN)
    ticket(tier=1, priority=2, kind=Kind.SERVICE_REQUEST, application=app, status=Status.OPEN)
    ticket(tier=1, priority=2, kind=Kind.INCIDENT, application=None, status=Status.OPEN)
    ticket(tier=1, priority=2, kind=Kind.INCIDENT, application=app, status=Status.PENDING)
    rule = EscalationRuleFactory(
        tiers=[1], priorities=[1, 2], kinds=[Kind.INCIDENT], applications=[app.pk], statuses=[Status.NEW, Status.OPEN]
    )
    assert matched(rule) == pks(hit)


def test_trigger_and_conditions_together():
    hit = ticket(tier=1, status=Status.OPEN, first_response_due_at=NOW - MIN)
    ticket(tier=2, status=Status.OPEN, first_response_due_at=NOW - MIN)
    ticket(tier=1, status=Status.OPEN, first_response_due_at=NOW + MIN)
    assert matched(EscalationRuleFactory(tiers=[1], trigger=Trigger.FIRST_RESPONSE_OVERDUE)) == pks(hit)


def test_a_firing_in_the_current_episode_hides_the_ticket():
    fired, earlier_episode, fresh_one = ticket(episode=3), ticket(episode=2), ticket()
    rule, other_rule = EscalationRuleFactory(), EscalationRuleFactory(name="Other")
    RuleFiring.objects.create(rule=rule, ticket=fired, episode=3)
    RuleFiring.objects.create(rule=rule, ticket=earlier_episode, episode=1)
    assert matched(rule) == pks(earlier_episode, fresh_one)
    assert matched(other_rule) == pks(fired, earlier_episode, fresh_one)


def test_disabled_rules_do_not_fire():
    t = ticket()
    EscalationRuleFactory(enabled=False, note="never")
    report = escalation_tick()
    assert report.total_fired == 0
    assert not fired_events(t) and not Comment.objects.exists()


# --- actions ------------------------------------------------------------------------------------


def assert_fired_once(rule: EscalationRule, t: Ticket, episode: int = 1) -> None:
    [event] = fired_events(t)
    assert event.actor_id is None
    assert event.data == {"rule": rule.pk, "name": rule.name, "trigger": rule.trigger, "episode": episode}
    assert RuleFiring.objects.filter(rule=rule, ticket=t, episode=episode).count() == 1


def test_escalate_to_tier(l1, l2):
    rule = EscalationRuleFactory(name="Stuck in L1", escalate_to_tier=2)
    below = ticket(tier=1, status=Status.OPEN, assignee=l1, queued_at=None)
    at_target = ticket(tier=2, status=Status.OPEN, assignee=l2)
    above = ticket(tier=3, status=Status.NEW, queued_at=NOW - HOUR)

    report = escalation_tick()
    assert report.fired == {rule.pk: 3}

    moved = fresh(below)
    assert (moved.tier, moved.assignee_id, moved.queued_at, moved.episode) == (2, None, NOW, 2)
    assert moved.version == below.version + 1
    [escalated] = events_of(below, EventKind.ESCALATED)
    assert escalated.actor_id is None
    assert escalated.data["before"] == {"tier": 1, "assignee": l1.pk}
    assert escalated.data["after"] == {"tier": 2, "assignee": None}
    assert "Stuck in L1" in escalated.data["reason"]

    for t, tier, assignee in ((at_target, 2, l2.pk), (above, 3, None)):
        now = fresh(t)
        assert (now.tier, now.assignee_id, now.episode, now.version) == (tier, assignee, 1, t.version)
        assert not events_of(t, EventKind.ESCALATED)
    for t in (below, at_target, above):
        assert_fired_once(rule, t)


def test_escalation_never_goes_past_the_tiers_in_use(settings):
    settings.HELPDESK_TIERS = 2
    rule = EscalationRuleFactory(escalate_to_tier=3)  # a rule left over from a 3-tier setup
    t1, t2 = ticket(tier=1), ticket(tier=2)
    escalation_tick()
    # Capped at the last tier in use: tier 1 moves to 2, tier 2 stays.
    assert fresh(t1).tier == 2 and fresh(t2).tier == 2
    assert not Ticket.objects.filter(tier=3).exists()
    assert not TicketEvent.objects.filter(kind=EventKind.ESCALATED, data__after__tier=3).exists()
    assert_fired_once(rule, t2)


def test_escalate_within_the_tiers_in_use(settings):
    settings.HELPDESK_TIERS = 2
    EscalationRuleFactory(escalate_to_tier=2)
    t = ticket(tier=1)
    escalation_tick()
    assert fresh(t).tier == 2


def test_raise_urgency_recomputes_priority_and_due_times(l3, customer, clock):
    clock.move_to(datetime(2026, 3, 2, 10, tzinfo=UTC))

    def create(urgency):
        return services.ticket_create(actor=l3, requester=customer, title="x", impact=Level.MEDIUM, urgency=urgency)

    low, medium, high = create(Level.LOW), create(Level.MEDIUM), create(Level.HIGH)
    assert (low.priority, medium.priority, high.priority) == (4, 3, 2)
    rule = EscalationRuleFactory(name="Hurry", raise_urgency=True)

    escalation_tick()

    expected = {
        # ticket: (urgency, priority, response due, resolution due) - all created Mon 10:00
        low.pk: (Level.MEDIUM, 3, datetime(2026, 3, 2, 14, tzinfo=UTC), datetime(2026, 3, 5, 10, tzinfo=UTC)),
        medium.pk: (Level.HIGH, 2, datetime(2026, 3, 2, 11, tzinfo=UTC), datetime(2026, 3, 3, 10, tzinfo=UTC)),
        high.pk: (Level.HIGH, 2, high.first_response_due_at, high.resolution_due_at),
    }
    for t in (low, medium, high):
        now = fresh(t)
        assert (now.urgency, now.priority, now.first_response_due_at, now.resolution_due_at) == expected[t.pk]
        assert_fired_once(rule, t)

    for t, before, after in ((low, Level.LOW, Level.MEDIUM), (medium, Level.MEDIUM, Level.HIGH)):
        [raised] = events_of(t, EventKind.URGENCY_RAISED)
        assert raised.actor_id is None and "Hurry" in raised.data["reason"]
        assert raised.data["before"] == {"urgency": before} and raised.data["after"] == {"urgency": after}
        [prio] = events_of(t, EventKind.PRIORITY_CHANGED)
        assert prio.data["before"]["priority"] == t.priority and prio.data["after"]["priority"] == t.priority - 1
        assert len(events_of(t, EventKind.SLA_CHANGED)) == 1
        assert fresh(t).episode == 2
    assert not events_of(high, EventKind.URGENCY_RAISED)
    assert not events_of(high, EventKind.PRIORITY_CHANGED)
    assert fresh(high).episode == 1


def test_assign_to_only_tickets_the_user_may_work(l2):
    other = UserFactory(role=Role.L2)
    rule = EscalationRuleFactory(name="Give to Sam", assign_to=l2)
    new_t1 = ticket(tier=1, status=Status.NEW, queued_at=NOW - HOUR)
    held_t2 = ticket(tier=2, status=Status.OPEN, assignee=other)
    new_t3 = ticket(tier=3, status=Status.NEW, queued_at=NOW - HOUR)
    pending_t1 = ticket(tier=1, status=Status.PENDING, queued_at=NOW - HOUR)

    escalation_tick()

    t = fresh(new_t1)
    assert (t.assignee_id, t.status, t.queued_at) == (l2.pk, Status.OPEN, None)
    [opened] = events_of(new_t1, EventKind.STATUS_CHANGED)
    assert opened.data["before"] == {"status": "new"} and opened.data["after"] == {"status": "open"}
    assert fresh(held_t2).assignee_id == l2.pk
    [assigned] = events_of(held_t2, EventKind.ASSIGNED)
    assert assigned.data["before"] == {"assignee": other.pk} and assigned.data["after"] == {"assignee": l2.pk}
    assert (fresh(pending_t1).assignee_id, fresh(pending_t1).status) == (l2.pk, Status.PENDING)
    assert not events_of(pending_t1, EventKind.STATUS_CHANGED)

    t3 = fresh(new_t3)  # L2 cannot work tier 3
    assert (t3.assignee_id, t3.status) == (None, Status.NEW)
    assert not events_of(new_t3, EventKind.ASSIGNED)
    for t in (new_t1, held_t2, new_t3, pending_t1):
        assert_fired_once(rule, t)


@pytest.mark.parametrize("role, active", [(Role.L2, False), (Role.CUSTOMER, True)])
def test_assign_to_someone_who_cannot_work_tickets_assigns_nothing(role, active):
    user = UserFactory(role=role, is_active=active)
    rule = EscalationRuleFactory(assign_to=user)
    t = ticket(tier=1, status=Status.NEW)
    escalation_tick()
    assert fresh(t).assignee_id is None and not events_of(t, EventKind.ASSIGNED)
    assert_fired_once(rule, t)


def test_notify_creates_one_row_per_recipient():
    boss = UserFactory(role=Role.MANAGER, email="boss@example.com")
    UserFactory(role=Role.MANAGER, email="")  # no address: skipped
    UserFactory(role=Role.MANAGER, email="gone@example.com", is_active=False)
    UserFactory(role=Role.L1, email="l1@example.com")  # not a manager
    rule = EscalationRuleFactory(name="Tell", notify=["email:ops@example.com", "role:manager", f"user:{boss.pk}"])
    t1, t2 = ticket(), ticket()
    untouched = ticket(status=Status.RESOLVED)

    escalation_tick()

    rows = Notification.objects.order_by("ticket_id", "target")
    assert [(n.ticket_id, n.channel, n.target) for n in rows] == [
        (t1.pk, Channel.EMAIL, "boss@example.com"),
        (t1.pk, Channel.EMAIL, "ops@example.com"),
        (t2.pk, Channel.EMAIL, "boss@example.com"),
        (t2.pk, Channel.EMAIL, "ops@example.com"),
    ]
    for n in rows:
        assert n.rule_id == rule.pk and n.status == "pending"
        assert n.ticket.number in n.subject and "Tell" in n.subject
        assert n.payload["event"] == "rule_fired" and n.payload["rule"]["id"] == rule.pk
    assert not Notification.objects.filter(ticket=untouched).exists()


def test_notify_tier_current_reaches_the_new_tier_after_an_escalation():
    UserFactory(role=Role.L1, email="first@example.com")
    UserFactory(role=Role.L2, email="second@example.com")
    EscalationRuleFactory(escalate_to_tier=2, notify=["tier:current"])
    t = ticket(tier=1)
    escalation_tick()
    assert list(Notification.objects.filter(ticket=t).values_list("target", flat=True)) == ["second@example.com"]


def test_note_is_an_internal_comment_by_the_system_user():
    rule = EscalationRuleFactory(name="Poke", note="Nobody has touched this for a while.")
    t = ticket(status=Status.OPEN)
    escalation_tick()
    [comment] = Comment.objects.filter(ticket=t)
    assert comment.internal and comment.body == "Nobody has touched this for a while."
    assert comment.author.username == "system"
    [event] = events_of(t, EventKind.COMMENTED)
    assert event.actor_id == comment.author_id
    assert event.data == {"comment": comment.pk, "internal": True}
    assert fresh(t).version == t.version + 1
    assert_fired_once(rule, t)


def test_rule_without_actions_still_records_the_firing():
    rule = EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE)
    t = ticket(first_response_due_at=NOW - MIN)
    assert escalation_tick().fired == {rule.pk: 1}
    assert_fired_once(rule, t)
    assert fresh(t).version == t.version + 1  # by the breach sweep only
    assert [e.kind for e in events_of(t)] == [EventKind.SLA_BREACHED, EventKind.RULE_FIRED]


def test_all_actions_of_one_rule_together(l2):
    UserFactory(role=Role.L2, email="queue@example.com")
    rule = EscalationRuleFactory(
        name="Everything",
        trigger=Trigger.FIRST_RESPONSE_OVERDUE,
        escalate_to_tier=2,
        raise_urgency=True,
        assign_to=l2,
        notify=["tier:current"],
        note="Escalated by rule.",
    )
    t = ticket(
        tier=1, status=Status.NEW, urgency=Level.LOW, impact=Level.MEDIUM, priority=4, first_response_due_at=NOW - MIN
    )
    escalation_tick()
    now = fresh(t)
    assert (now.tier, now.urgency, now.priority, now.assignee_id, now.status) == (
        2,
        Level.MEDIUM,
        3,
        l2.pk,
        Status.OPEN,
    )
    kinds = [e.kind for e in events_of(t)]
    for kind in (
        EventKind.RULE_FIRED,
        EventKind.ESCALATED,
        EventKind.URGENCY_RAISED,
        EventKind.ASSIGNED,
        EventKind.COMMENTED,
    ):
        assert kinds.count(kind) == 1, kind
    assert Notification.objects.filter(ticket=t).count() == 2  # l2 and queue@
    assert_fired_once(rule, t)


# --- once per episode ---------------------------------------------------------------------------------


def counts(t: Ticket) -> tuple[int, int, int]:
    return (
        len(fired_events(t)),
        Notification.objects.filter(ticket=t).count(),
        Comment.objects.filter(ticket=t).count(),
    )


def test_a_second_tick_fires_nothing_new():
    rule = EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, notify=["email:ops@example.com"], note="Late.")
    tickets = [ticket(first_response_due_at=NOW - HOUR) for _ in range(3)]
    assert escalation_tick().fired == {rule.pk: 3}
    assert escalation_tick().fired == {rule.pk: 0}
    assert escalation_tick(now=NOW + HOUR).fired == {rule.pk: 0}
    assert RuleFiring.objects.count() == 3
    for t in tickets:
        assert counts(t) == (1, 1, 1)


def test_manual_deescalation_starts_an_episode_in_which_the_rule_fires_again(l2):
    rule = EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, notify=["email:ops@example.com"])
    t = ticket(tier=2, first_response_due_at=NOW - HOUR)
    escalation_tick()
    assert escalation_tick().total_fired == 0
    services.ticket_deescalate(ticket=t, actor=l2, to_tier=1, reason="L1 can handle this")
    assert fresh(t).episode == 2
    assert escalation_tick().fired == {rule.pk: 1}
    assert [e.data["episode"] for e in fired_events(t)] == [1, 2]
    assert Notification.objects.filter(ticket=t).count() == 2
    assert escalation_tick().total_fired == 0


def test_a_new_due_time_starts_an_episode(l2):
    rule = EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE)
    t = ticket(tier=1, status=Status.OPEN, priority=3, first_response_due_at=NOW - HOUR, created_at=NOW - 5 * HOUR)
    escalation_tick()
    services.ticket_update(ticket=t, actor=l2, changes={"urgency": Level.HIGH})  # P2: still overdue
    assert fresh(t).episode == 2 and fresh(t).first_response_due_at <= NOW
    assert escalation_tick().fired == {rule.pk: 1}


def test_the_rules_own_escalation_does_not_refire_it(l2):
    rule = EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, escalate_to_tier=2, notify=["email:ops@example.com"])
    t = ticket(tier=1, first_response_due_at=NOW - HOUR)
    assert escalation_tick().fired == {rule.pk: 1}
    assert fresh(t).episode == 2
    assert escalation_tick().fired == {rule.pk: 0}
    assert escalation_tick(now=NOW + HOUR).fired == {rule.pk: 0}
    assert counts(t)[:2] == (1, 1)

    # A later, human tier change is a new episode: the rule fires (nothing left to escalate).
    services.ticket_escalate(ticket=t, actor=l2, to_tier=3, reason="Needs a developer")
    assert escalation_tick().fired == {rule.pk: 1}
    assert fresh(t).tier == 3
    assert len(events_of(t, EventKind.ESCALATED)) == 2
    assert counts(t)[:2] == (2, 2)


def test_a_tier_limited_rule_needs_no_firing_for_the_episode_its_escalation_starts(l2):
    # The rule cannot match the ticket in tier 2, and only a new episode brings it back
    # to tier 1: the claim of episode 1 is the only row (one insert less per firing).
    rule = EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, tiers=[1], escalate_to_tier=2)
    t = ticket(tier=1, first_response_due_at=NOW - HOUR)
    assert escalation_tick().fired == {rule.pk: 1}
    assert list(RuleFiring.objects.filter(rule=rule).values_list("episode", flat=True)) == [1]
    assert escalation_tick(now=NOW + HOUR).fired == {rule.pk: 0}

    services.ticket_deescalate(ticket=fresh(t), actor=l2, to_tier=1, reason="L1 can do it")
    assert escalation_tick().fired == {rule.pk: 1}  # back in tier 1, episode 3: fires again
    assert sorted(RuleFiring.objects.filter(rule=rule).values_list("episode", flat=True)) == [1, 3]


def test_a_rule_that_escalates_and_notes_writes_the_ticket_once():
    EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, escalate_to_tier=2, note="Late.")
    t = ticket(tier=1, first_response_due_at=NOW - HOUR)
    version = fresh(t).version
    escalation_tick()
    after = fresh(t)
    # One version for the breach mark, one for the rule's escalation and note together.
    assert (after.tier, after.version) == (2, version + 2)
    assert Comment.objects.filter(ticket=t, internal=True).count() == 1


def test_a_rule_firing_on_many_tickets_sends_each_recipient_one_digest(settings):
    settings.HELPDESK_NOTIFY_DIGEST_AFTER = 2
    UserFactory(role=Role.MANAGER, email="boss@example.com")
    rule = EscalationRuleFactory(name="Tell", notify=["role:manager", "email:ops@example.com"])
    tickets = [ticket() for _ in range(3)]
    assert escalation_tick().fired == {rule.pk: 3}
    digests = Notification.objects.order_by("target")
    assert [(n.target, n.ticket_id, n.payload["count"]) for n in digests] == [
        ("boss@example.com", None, 3),
        ("ops@example.com", None, 3),
    ]
    for digest in digests:
        assert digest.subject == "Tell: 3 tickets" and digest.rule_id == rule.pk
        assert digest.payload["rule"] == {"id": rule.pk, "name": "Tell", "trigger": Trigger.IDLE_FOR}
        assert sorted(digest.payload["ticket_ids"]) == sorted(t.pk for t in tickets)


def test_the_rules_own_urgency_raise_does_not_refire_it():
    rule = EscalationRuleFactory(trigger=Trigger.FIRST_RESPONSE_OVERDUE, raise_urgency=True, notify=["email:ops@example.com"])
    created = NOW - timedelta(days=3)  # P4 and P3 alike are long overdue
    t = ticket(urgency=Level.LOW, impact=Level.MEDIUM, priority=4, first_response_due_at=NOW - HOUR, created_at=created)
    assert escalation_tick().fired == {rule.pk: 1}
    raised = fresh(t)
    assert (raised.urgency, raised.priority, raised.episode) == (Level.MEDIUM, 3, 2)
    assert raised.first_response_due_at < NOW  # still overdue in the new episode
    assert escalation_tick().fired == {rule.pk: 0}
    assert fresh(t).urgency == Level.MEDIUM  # one level per episode, not one per tick
    assert counts(t)[:2] == (1, 1)


def test_two_rules_each_fire_once_on_the_same_ticket():
    first = EscalationRuleFactory(name="A", order=1, note="A was here")
    second = EscalationRuleFactory(name="B", order=2, note="B was here")
    t = ticket()
    assert escalation_tick().fired == {first.pk: 1, second.pk: 1}
    assert sorted(e.data["name"] for e in fired_events(t)) == ["A", "B"]
    assert escalation_tick().total_fired == 0


def test_rules_run_in_order_and_see_earlier_changes():
    up = EscalationRuleFactory(name="up", order=1, tiers=[1], escalate_to_tier=2)
    in_two = EscalationRuleFactory(name="in two", order=2, tiers=[2], note="Arrived in L2")
    t = ticket(tier=1)
    assert escalation_tick().fired == {up.pk: 1, in_two.pk: 1}
    assert Comment.objects.get(ticket=t).body == "Arrived in L2"
