"""What escalation rules notify (escalation/notify.py): notify specs and their recipients,
rows written in the caller's transaction with placeholders filled, e-mail delivery of
them after commit, digests, the rule admin's notify check (docs/PRODUCT.md
"Notifications"). The outbox itself is tested in notifications/tests."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from escalation import notify
from escalation.models import EscalationRule
from escalation.notify import notifications_create, recipients_for, validate_notify_spec
from escalation.tests.factories import EscalationRuleFactory, WebhookEndpointFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from notifications.delivery import notification_deliver, notifications_resend_due
from notifications.models import DeliveryStatus, Notification
from notifications.tasks import deliver_notifications
from tickets.events import EventKind
from tickets.models import TicketEvent
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


def emails(*users) -> list[tuple[str, str]]:
    return [("email", user.email) for user in users]


# --- recipients_for and validate_notify_spec ---------------------------------------------------


@pytest.fixture
def staff(db):
    return {
        "l1": UserFactory(role=Role.L1),
        "l1_inactive": UserFactory(role=Role.L1, is_active=False),
        "l1_no_email": UserFactory(role=Role.L1, email=""),
        "l2": UserFactory(role=Role.L2),
        "l3": UserFactory(role=Role.L3),
        "manager": UserFactory(role=Role.MANAGER),
        "manager_inactive": UserFactory(role=Role.MANAGER, is_active=False),
        "admin": UserFactory(role=Role.ADMIN),
        "customer": UserFactory(role=Role.CUSTOMER),
    }


def test_tier_spec_emails_the_active_agents_of_that_tier_role(staff):
    ticket = TicketFactory(tier=2)
    assert recipients_for("tier:1", ticket=ticket) == emails(staff["l1"])
    assert recipients_for("tier:2", ticket=ticket) == emails(staff["l2"])
    assert recipients_for("tier:3", ticket=ticket) == emails(staff["l3"])


def test_tier_current_is_the_tickets_tier(staff):
    assert recipients_for("tier:current", ticket=TicketFactory(tier=3)) == emails(staff["l3"])
    assert recipients_for("tier:current", ticket=TicketFactory(tier=1)) == emails(staff["l1"])
    assert recipients_for("tier:current", ticket=None) == []


def test_role_spec_emails_the_active_users_of_that_role(staff):
    ticket = TicketFactory()
    assert recipients_for("role:manager", ticket=ticket) == emails(staff["manager"])
    assert recipients_for("role:admin", ticket=ticket) == emails(staff["admin"])
    assert recipients_for("role:l1", ticket=ticket) == emails(staff["l1"])
    assert recipients_for("role:l2", ticket=ticket) == emails(staff["l2"])
    assert recipients_for("role:l3", ticket=ticket) == emails(staff["l3"])


def test_user_spec_emails_that_user_if_active_and_reachable(staff):
    ticket = TicketFactory()
    assert recipients_for(f"user:{staff['l2'].pk}", ticket=ticket) == emails(staff["l2"])
    assert recipients_for(f"user:{staff['l1_inactive'].pk}", ticket=ticket) == []
    assert recipients_for(f"user:{staff['l1_no_email'].pk}", ticket=ticket) == []
    assert recipients_for("user:999999", ticket=ticket) == []


def test_email_and_registered_webhook_specs_are_their_own_target(db):
    ticket = TicketFactory()
    WebhookEndpointFactory(url="https://hooks.example.com/x?y=1")
    WebhookEndpointFactory(url="http://127.0.0.1:8080/hook")
    assert recipients_for("email:ops@example.com", ticket=ticket) == [("email", "ops@example.com")]
    assert recipients_for("webhook:https://hooks.example.com/x?y=1", ticket=ticket) == [
        ("webhook", "https://hooks.example.com/x?y=1")
    ]
    assert recipients_for("webhook:http://127.0.0.1:8080/hook", ticket=ticket) == [
        ("webhook", "http://127.0.0.1:8080/hook")
    ]


@pytest.mark.parametrize(
    "spec",
    [
        "sms:+4912345",
        "role:customer",
        "role:boss",
        "tier:0",
        "tier:4",
        "tier:two",
        "user:abc",
        "email:not-an-address",
        "webhook:ftp://example.com/x",
        "webhook:javascript:alert(1)",
        "webhook:https://",
        "webhook:https://example.com/a b",
        "webhook:http://example.com:99999/",
        "",
        "tier",
    ],
)
def test_invalid_specs_reach_nobody_and_explain_why(staff, spec):
    assert recipients_for(spec, ticket=TicketFactory()) == []
    problem = validate_notify_spec(spec)
    assert isinstance(problem, str) and problem


@pytest.mark.parametrize(
    "spec",
    [
        "tier:1",
        "tier:3",
        "tier:current",
        "role:manager",
        "role:admin",
        "role:l1",
        "email:ops@example.com",
        "webhook:https://hooks.example.com/services/T0/B0/xyz",
        "webhook:http://10.0.0.8:8080/",  # private ranges are allowed (docs/RELIABILITY.md "Outbound requests")
    ],
)
def test_valid_specs(db, spec):
    if spec.startswith("webhook:"):
        WebhookEndpointFactory(url=spec.removeprefix("webhook:"))
    assert validate_notify_spec(spec) is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("webhook:http://127.0.0.1:8080/", "the address 127.0.0.1 is loopback"),
        ("webhook:http://localhost:8080/", "localhost resolves to"),
        ("webhook:http://169.254.169.254/latest/meta-data/", "the address 169.254.169.254 is link-local"),
        ("webhook:http://[fd00:ec2::254]/", "is a cloud metadata address"),
        ("webhook:http://0x7f000001/", "0x7f000001 resolves to 127.0.0.1, which is loopback"),
    ],
)
def test_webhook_targets_the_outbound_policy_refuses(db, spec, says):
    """Refused when a rule is saved (docs/RELIABILITY.md "Outbound requests"), naming the rule and the setting that lifts it."""
    problem = validate_notify_spec(spec)
    assert says in problem
    assert "HELPDESK_OUTBOUND_ALLOW" in problem


def test_a_webhook_url_must_be_registered_to_be_notified(db):
    """Deliveries are signed with the endpoint's own secret: an unregistered URL
    has none, so it is refused with where to register it, and reaches nobody."""
    spec = "webhook:https://hooks.example.com/unregistered"
    problem = validate_notify_spec(spec)
    assert "not registered" in problem and "/api/v1/webhooks/" in problem
    assert recipients_for(spec, ticket=TicketFactory()) == []
    WebhookEndpointFactory(url="https://hooks.example.com/unregistered")
    assert validate_notify_spec(spec) is None
    assert validate_notify_spec(" WEBHOOK: https://hooks.example.com/unregistered ") is None


def test_user_spec_must_name_an_active_user(staff):
    assert validate_notify_spec(f"user:{staff['l1'].pk}") is None
    assert "no active user" in validate_notify_spec(f"user:{staff['l1_inactive'].pk}")
    assert "no active user" in validate_notify_spec("user:999999")


def test_tiers_beyond_the_configured_ones_are_invalid(db, settings):
    settings.HELPDESK_TIERS = 2
    assert validate_notify_spec("tier:2") is None
    assert "1-2" in validate_notify_spec("tier:3")


def test_non_string_spec_is_invalid(db):
    assert validate_notify_spec(None) and validate_notify_spec(3)  # type: ignore[arg-type]


# --- notifications_create -------------------------------------------------------------------------


def test_rows_are_written_in_the_callers_transaction_and_roll_back_with_it(
    staff, mailoutbox, django_capture_on_commit_callbacks
):
    ticket = TicketFactory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom):
            with transaction.atomic():
                ids = notifications_create(
                    specs=["tier:1", "role:manager"], tickets=[ticket], subject="s", body="b", payload={}
                )
                assert Notification.objects.filter(pk__in=ids).count() == 2
                raise Boom
    assert callbacks == []
    assert Notification.objects.count() == 0
    assert mailoutbox == []


def test_recipients_are_deduplicated_per_ticket(staff, django_capture_on_commit_callbacks):
    first, second = TicketFactory(tier=1), TicketFactory(tier=1)
    WebhookEndpointFactory(url="http://127.0.0.1:9/hook")
    l1 = staff["l1"]
    with django_capture_on_commit_callbacks(execute=False):
        ids = notifications_create(
            specs=[
                "tier:1",
                "tier:current",
                f"user:{l1.pk}",
                f"email:{l1.email.upper()}",
                "role:manager",
                "webhook:http://127.0.0.1:9/hook",
                "webhook:http://127.0.0.1:9/hook",
                "bogus:spec",
            ],
            tickets=[first, second],
            subject="s",
            body="b",
            payload={},
        )
    rows = Notification.objects.filter(pk__in=ids)
    expected = {("email", l1.email), ("email", staff["manager"].email), ("webhook", "http://127.0.0.1:9/hook")}
    for ticket in (first, second):
        got = [(n.channel, n.target) for n in rows if n.ticket_id == ticket.pk]
        assert sorted(got) == sorted(expected)
    assert len(ids) == 6
    assert all(n.status == DeliveryStatus.PENDING and n.attempts == 0 for n in rows)


def test_placeholders_are_filled_per_ticket_and_the_payload_merged(db, django_capture_on_commit_callbacks):
    rule = EscalationRuleFactory(name="P1 overdue", trigger="resolution_overdue")
    one = TicketFactory(title="Mail is down", priority=1, tier=2)
    two = TicketFactory(title="Printer", priority=4, tier=1)
    with django_capture_on_commit_callbacks(execute=False):
        ids = notifications_create(
            specs=["email:ops@example.com"],
            tickets=[one, two],
            subject="[{number}] {priority} {title}\nleft {unknown} alone",
            body="Tier {tier}: {title} is overdue. {url}",
            payload={
                "event": "rule_fired",
                "rule": "P1 overdue",
                "due": datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
            },
            rule=rule,
        )
    by_ticket = {n.ticket_id: n for n in Notification.objects.filter(pk__in=ids)}
    first = by_ticket[one.pk]
    assert first.subject == f"[{one.number}] P1 Mail is down left {{unknown}} alone"
    assert first.body == f"Tier 2: Mail is down is overdue. http://127.0.0.1:8000/tickets/{one.pk}/"
    assert first.rule_id == rule.pk
    assert first.payload == {
        "id": one.pk,
        "number": one.number,
        "title": "Mail is down",
        "status": "new",
        "tier": 2,
        "priority": 1,
        "url": f"http://127.0.0.1:8000/tickets/{one.pk}/",
        "event": "rule_fired",
        "rule": "P1 overdue",
        "due": "2030-01-01T00:00:00Z",
    }
    assert by_ticket[two.pk].subject == f"[{two.number}] P4 Printer left {{unknown}} alone"


def test_deleting_a_rule_keeps_its_notifications_and_clears_their_rule(
    api, manager, django_capture_on_commit_callbacks
):
    """rule_id is not a foreign key (the outbox is a floor below escalation): the rule's
    deletion clears it, as the key's SET_NULL did, and leaves the rows and other rules' alone."""
    rule, other = EscalationRuleFactory(), EscalationRuleFactory()
    with django_capture_on_commit_callbacks(execute=False):
        mine = notifications_create(
            specs=["email:a@example.com", "email:b@example.com"],
            tickets=[TicketFactory()],
            subject="s",
            body="b",
            payload={},
            rule=rule,
        )
        theirs = notifications_create(
            specs=["email:a@example.com"], tickets=[TicketFactory()], subject="s", body="b", payload={}, rule=other
        )
    response = api.as_(manager).delete(f"/api/v1/escalation-rules/{rule.pk}/")
    assert response.status_code == 204
    assert not EscalationRule.objects.filter(pk=rule.pk).exists()
    assert list(Notification.objects.filter(pk__in=mine).values_list("rule_id", "subject")) == [(None, "s")] * 2
    assert Notification.objects.get(pk=theirs[0]).rule_id == other.pk


def test_a_long_subject_is_cut_to_the_column(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        [pk] = notifications_create(
            specs=["email:a@example.com"], tickets=[TicketFactory()], subject="x" * 500, body="", payload={}
        )
    assert len(Notification.objects.get(pk=pk).subject) == 300


def test_email_is_delivered_after_commit_and_never_twice(staff, mailoutbox, django_capture_on_commit_callbacks):
    ticket = TicketFactory(title="VPN drops every hour", priority=2, tier=1)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            [pk] = notifications_create(
                specs=["tier:1"],
                tickets=[ticket],
                subject="[{number}] resolution overdue",
                body="The resolution target passed; rule 'P2 overdue' escalated it.",
                payload={"reason": "resolution overdue"},
            )
            assert mailoutbox == []  # nothing leaves before the commit

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [staff["l1"].email]
    assert message.subject == f"[{ticket.number}] resolution overdue"
    text = message.body
    for expected in (
        "The resolution target passed; rule 'P2 overdue' escalated it.",
        f"{ticket.number} VPN drops every hour",
        "P2 (high)",
        "Tier:      1",
        "Reason:    resolution overdue",
        f"http://127.0.0.1:8000/tickets/{ticket.pk}/",
    ):
        assert expected in text
    assert "&#x27;" not in text  # plain text, not HTML-escaped
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts, notification.last_error) == (DeliveryStatus.SENT, 1, "")
    assert notification.sent_at is not None

    assert notification_deliver(notification_id=pk) == DeliveryStatus.SENT
    assert deliver_notifications([pk]) == {"sent": 1}
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        assert notifications_resend_due() == 0
    assert len(mailoutbox) == 1
    assert Notification.objects.get(pk=pk).attempts == 1


# --- admin -------------------------------------------------------------------------------------


def test_admin_rule_form_rejects_bad_notify_specs(admin_client):
    EscalationRule.objects.all().delete()  # the default rules shipped by the migration
    assert admin_client.get("/admin/escalation/escalationrule/add/").status_code == 200
    data = {
        "name": "Overdue P1",
        "enabled": "on",
        "order": "10",
        "tiers": "[]",
        "priorities": "[1]",
        "statuses": "[]",
        "kinds": "[]",
        "applications": "[]",
        "categories": "[]",
        "trigger": "resolution_overdue",
        "threshold": "0",
        "notify": '["role:manager", "sms:123"]',
        "note": "",
    }
    response = admin_client.post("/admin/escalation/escalationrule/add/", data)
    assert response.status_code == 200
    assert b"unknown notify target" in response.content
    assert not EscalationRule.objects.exists()
    data["notify"] = '["role:manager", "tier:2"]'
    response = admin_client.post("/admin/escalation/escalationrule/add/", data)
    assert response.status_code == 302
    assert EscalationRule.objects.get().notify == ["role:manager", "tier:2"]


def test_admin_rule_firings_are_read_only(admin_client):
    assert admin_client.get("/admin/escalation/rulefiring/").status_code == 200
    assert admin_client.get("/admin/escalation/rulefiring/add/").status_code == 403


def test_recipients_are_looked_up_once_per_spec_not_per_ticket(
    staff, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    tickets = [TicketFactory(tier=1 + i % 3) for i in range(30)]
    with django_capture_on_commit_callbacks(execute=False), django_assert_max_num_queries(8):
        ids = notifications_create(
            specs=["tier:current", "role:manager", "email:ops@example.com"],
            tickets=tickets,
            subject="s",
            body="b",
            payload={},
        )
    assert len(ids) == 30 * 3
    by_ticket = {}
    for n in Notification.objects.filter(pk__in=ids):
        by_ticket.setdefault(n.ticket_id, set()).add(n.target)
    tier_agent = {1: staff["l1"], 2: staff["l2"], 3: staff["l3"]}
    for ticket in tickets:
        assert by_ticket[ticket.pk] == {tier_agent[ticket.tier].email, staff["manager"].email, "ops@example.com"}


# --- digests -------------------------------------------------------------------------------------


def _create_for(tickets, *, digest_after=3, specs=("role:manager", "email:ops@example.com")):
    return notifications_create(
        specs=list(specs),
        tickets=tickets,
        subject="[{number}] {title}",
        body="{title} is late",
        payload={"event": "rule_fired"},
        digest_after=digest_after,
        digest_subject="Late: {count} tickets",
        digest_body="{count} tickets are late.",
    )


def test_up_to_digest_after_tickets_each_recipient_gets_one_message_per_ticket(
    staff, django_capture_on_commit_callbacks
):
    tickets = TicketFactory.create_batch(3)
    with django_capture_on_commit_callbacks(execute=False):
        ids = _create_for(tickets, digest_after=3)
    rows = Notification.objects.filter(pk__in=ids)
    assert len(ids) == 6 and {n.ticket_id for n in rows} == {t.pk for t in tickets}
    assert all("tickets" not in n.payload for n in rows)


def test_more_than_digest_after_tickets_make_one_digest_per_recipient(staff, django_capture_on_commit_callbacks):
    tickets = [TicketFactory(title=f"Printer {i}", priority=3, tier=1) for i in range(4)]
    with django_capture_on_commit_callbacks(execute=False):
        ids = _create_for(tickets, digest_after=3)
    rows = list(Notification.objects.filter(pk__in=ids).order_by("target"))
    assert [n.target for n in rows] == sorted(["ops@example.com", staff["manager"].email])
    for digest in rows:
        assert digest.ticket_id is None
        assert digest.subject == "Late: 4 tickets"
        assert digest.payload["event"] == "rule_fired" and digest.payload["count"] == 4
        assert [item["id"] for item in digest.payload["tickets"]] == [t.pk for t in tickets]
        assert digest.payload["ticket_ids"] == [t.pk for t in tickets]
        assert digest.payload["tickets"][0]["url"] == f"http://127.0.0.1:8000/tickets/{tickets[0].pk}/"
        assert digest.body.startswith("4 tickets are late.\n\n")
        for ticket in tickets:
            assert f"- {ticket.number} P3 tier 1: {ticket.title}" in digest.body


def test_a_digest_mixes_with_single_messages_per_recipient(staff, django_capture_on_commit_callbacks):
    tier1 = TicketFactory.create_batch(3, tier=1)
    tier2 = TicketFactory(tier=2)
    with django_capture_on_commit_callbacks(execute=False):
        ids = _create_for([*tier1, tier2], digest_after=2, specs=("tier:current",))
    rows = Notification.objects.filter(pk__in=ids)
    by_target = {n.target: n for n in rows}
    assert len(rows) == 2
    assert by_target[staff["l1"].email].payload["count"] == 3  # three tier-1 tickets: a digest
    assert by_target[staff["l2"].email].ticket_id == tier2.pk  # one tier-2 ticket: its own message


def test_a_long_digest_describes_the_first_tickets_and_names_them_all(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(notify, "DIGEST_LIST_MAX", 2)
    tickets = TicketFactory.create_batch(5)
    with django_capture_on_commit_callbacks(execute=False):
        [pk] = _create_for(tickets, digest_after=1, specs=("email:ops@example.com",))
    digest = Notification.objects.get(pk=pk)
    assert digest.body.count("\n- ") == 2 and digest.body.endswith("... and 3 more.\n")
    assert [item["id"] for item in digest.payload["tickets"]] == [t.pk for t in tickets[:2]]
    assert digest.payload["ticket_ids"] == [t.pk for t in tickets] and digest.payload["count"] == 5


def test_a_digest_is_mailed_with_its_list(staff, mailoutbox, django_capture_on_commit_callbacks):
    tickets = TicketFactory.create_batch(4)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            _create_for(tickets, digest_after=3, specs=("email:ops@example.com",))
    [mail] = mailoutbox
    assert mail.subject == "Late: 4 tickets" and mail.to == ["ops@example.com"]
    assert all(ticket.number in mail.body for ticket in tickets)


def test_a_digest_that_fails_for_good_leaves_an_event_on_each_listed_ticket(
    db, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    settings.HELPDESK_NOTIFY_MAX_ATTEMPTS = 1
    tickets = TicketFactory.create_batch(4)
    other = TicketFactory()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            [pk] = _create_for(tickets, digest_after=3, specs=("email:ops@example.com",))
    assert Notification.objects.get(pk=pk).status == DeliveryStatus.FAILED
    failed = TicketEvent.objects.filter(kind=EventKind.NOTIFICATION_FAILED)
    assert sorted(failed.values_list("ticket_id", flat=True)) == sorted(t.pk for t in tickets)
    assert not failed.filter(ticket=other).exists()
    assert {e.data["notification"] for e in failed} == {pk}
