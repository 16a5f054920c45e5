"""webhooks/ (issue 11 item 9): every webhook receiver has its own signing secret,
shown once, rotatable; rules notify only registered endpoints; Django's
SECRET_KEY signs nothing a receiver is sent. docs/WEBHOOKS.md is the contract."""

from __future__ import annotations

import datetime
import hashlib
import hmac

import pytest
import time_machine
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from escalation.models import EscalationRule, WebhookEndpoint
from escalation.notify import notifications_create
from escalation.tests.factories import EscalationRuleFactory, WebhookEndpointFactory
from escalation.webhooks import webhook_secret_rotate
from notifications.delivery import notification_deliver
from notifications.models import DeliveryStatus, Notification
from tickets.tests.factories import TicketFactory, if_match

# The receivers listen on 127.0.0.1, which the outbound policy refuses unless allowed.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbound_allow_loopback")]

V1 = "/api/v1/"
URL = f"{V1}webhooks/"
FIELDS = {"id", "name", "url", "created_at", "secret_rotated_at", "previous_secret_expires_at", "version"}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verifies(secret: str, received) -> bool:
    """The receiver of docs/WEBHOOKS.md, holding only ``secret``: any signature in
    X-Helpdesk-Signature equal, in constant time, to the HMAC of the raw body."""
    header = received.headers.get("X-Helpdesk-Signature", "")
    expected = signature(secret, received.body)
    return any(hmac.compare_digest(expected, value.strip()) for value in header.split(","))


def register(api, manager, url: str, name: str = "Chat") -> tuple[int, str]:
    r = api.as_(manager).post(URL, {"name": name, "url": url}, format="json")
    assert r.status_code == 201, r.data
    return r.data["id"], r.data["secret"]


def deliver(url: str, tickets: list, capture, **extra) -> list[int]:
    """Notify ``url`` about ``tickets`` (a committed transaction; delivery runs on commit, eagerly)."""
    with capture(execute=True):
        with transaction.atomic():
            return notifications_create(
                specs=[f"webhook:{url}"], tickets=tickets, subject="[{number}] late", body="b", payload={}, **extra
            )


# --- the secret: generated, shown once ------------------------------------------------------------


def test_the_secret_is_in_the_create_response_only(api, manager, admin_client):
    client = api.as_(manager)
    r = client.post(URL, {"name": "Chat", "url": "https://hooks.example.com/chat"}, format="json")
    assert r.status_code == 201, r.data
    assert set(r.data) == FIELDS | {"secret"}
    secret = r.data["secret"]
    assert secret.startswith("whsec_") and len(secret) >= 40
    assert r["Cache-Control"] == "no-store"
    assert WebhookEndpoint.objects.get(pk=r.data["id"]).secret == secret

    detail, listing = client.get(f"{URL}{r.data['id']}/"), client.get(URL)
    assert detail.status_code == listing.status_code == 200
    assert set(detail.data) == FIELDS and set(listing.data["results"][0]) == FIELDS
    for response in (
        detail,
        listing,
        client.patch(f"{URL}{r.data['id']}/", {"name": "Chat 2"}, format="json", HTTP_IF_MATCH='"1"'),
    ):
        assert secret.encode() not in response.content
    for page in ("admin:escalation_webhookendpoint_changelist", "admin:escalation_webhookendpoint_change"):
        args = [r.data["id"]] if page.endswith("change") else []
        content = admin_client.get(reverse(page, args=args)).content
        assert b"Chat 2" in content and secret.encode() not in content


def test_two_endpoints_get_different_secrets(api, manager):
    _, first = register(api, manager, "https://hooks.example.com/a")
    _, second = register(api, manager, "https://hooks.example.com/b")
    assert first != second


def test_a_receiver_holding_only_its_endpoint_secret_accepts_and_secret_key_does_not(
    api, manager, settings, webhook_server, django_capture_on_commit_callbacks
):
    """Fails on the code before item 9: deliveries were signed with SECRET_KEY."""
    server, other = webhook_server([200]), webhook_server([200])
    _, secret = register(api, manager, server.url)
    _, other_secret = register(api, manager, other.url, name="Other")
    [pk] = deliver(server.url, [TicketFactory()], django_capture_on_commit_callbacks)
    assert Notification.objects.get(pk=pk).status == DeliveryStatus.SENT
    [received] = server.requests
    assert received.headers["X-Helpdesk-Signature"] == signature(secret, received.body)
    assert verifies(secret, received)
    assert not verifies(settings.SECRET_KEY, received)
    assert not verifies(other_secret, received)


def test_a_digest_is_signed_with_its_own_endpoint_secret(webhook_server, settings, django_capture_on_commit_callbacks):
    first, second = webhook_server([200]), webhook_server([200])
    endpoints = [WebhookEndpointFactory(url=first.url), WebhookEndpointFactory(url=second.url)]
    tickets = [TicketFactory() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            ids = notifications_create(
                specs=[f"webhook:{first.url}", f"webhook:{second.url}"],
                tickets=tickets,
                subject="s",
                body="b",
                payload={},
                digest_after=2,
            )
    assert len(ids) == 2  # one digest per receiver
    for server, endpoint, stranger in ((first, *endpoints), (second, *reversed(endpoints))):
        [received] = server.requests
        assert b'"count":3' in received.body
        assert verifies(endpoint.secret, received)
        assert not verifies(stranger.secret, received) and not verifies(settings.SECRET_KEY, received)


# --- rotation ---------------------------------------------------------------------------------------


def test_rotation_returns_a_new_secret_once_and_the_old_one_stops_at_once(
    api, manager, webhook_server, django_capture_on_commit_callbacks
):
    server = webhook_server([200])
    pk, old = register(api, manager, server.url)
    client = api.as_(manager)
    r = client.post(f"{URL}{pk}/rotate-secret/", format="json")
    assert r.status_code == 200, r.data
    new = r.data["secret"]
    assert new != old and new.startswith("whsec_") and r.data["previous_secret_expires_at"] is None
    assert r["Cache-Control"] == "no-store"
    detail = client.get(f"{URL}{pk}/")
    assert new.encode() not in detail.content and old.encode() not in detail.content
    assert detail.data["version"] == 1  # a rotation is not an edit of the settings: ETags stay valid

    deliver(server.url, [TicketFactory()], django_capture_on_commit_callbacks)
    [received] = server.requests
    assert verifies(new, received)
    assert not verifies(old, received)
    assert "," not in received.headers["X-Helpdesk-Signature"]  # one signature


def test_rotation_with_a_grace_period_signs_with_both_until_it_ends(
    api, manager, webhook_server, django_capture_on_commit_callbacks
):
    server = webhook_server([200])
    pk, old = register(api, manager, server.url)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        r = api.as_(manager).post(f"{URL}{pk}/rotate-secret/", {"grace_hours": 24}, format="json")
        assert r.status_code == 200, r.data
        new = r.data["secret"]
        assert r.data["previous_secret_expires_at"] == (start + datetime.timedelta(hours=24)).isoformat().replace(
            "+00:00", "Z"
        )
        deliver(server.url, [TicketFactory()], django_capture_on_commit_callbacks)
        during = server.requests[-1]
        assert during.headers["X-Helpdesk-Signature"] == f"{signature(new, during.body)},{signature(old, during.body)}"
        assert verifies(old, during) and verifies(new, during)

        clock.shift(datetime.timedelta(hours=24))
        deliver(server.url, [TicketFactory()], django_capture_on_commit_callbacks)
        after = server.requests[-1]
        assert verifies(new, after) and not verifies(old, after)


@pytest.mark.parametrize("grace", [-1, 169, "a day", None])
def test_a_bad_grace_period_is_400_and_rotates_nothing(api, manager, grace):
    endpoint = WebhookEndpointFactory()
    before = endpoint.secret
    r = api.as_(manager).post(f"{URL}{endpoint.pk}/rotate-secret/", {"grace_hours": grace}, format="json")
    assert r.status_code == 400 and "grace_hours" in r.data
    endpoint.refresh_from_db()
    assert endpoint.secret == before


def test_admin_rotate_action_shows_the_new_secret_once(admin_client):
    endpoint = WebhookEndpointFactory()
    old = endpoint.secret
    changelist = reverse("admin:escalation_webhookendpoint_changelist")
    r = admin_client.post(changelist, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    assert r.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret.encode() in r.content and old.encode() not in r.content
    assert endpoint.secret.encode() not in admin_client.get(changelist).content


def test_an_admin_rename_keeps_a_secret_rotated_while_the_form_was_open(admin_client):
    endpoint = WebhookEndpointFactory(name="Chat")
    url = reverse("admin:escalation_webhookendpoint_change", args=[endpoint.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and endpoint.secret.encode() not in page.content
    rotated = webhook_secret_rotate(endpoint=endpoint).secret
    r = admin_client.post(url, {"name": "Chat room"})
    assert r.status_code == 302, r.content[:500]
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.secret, endpoint.version) == ("Chat room", rotated, 2)


def test_admin_add_generates_the_secret_and_shows_it_once(admin_client):
    r = admin_client.post(
        reverse("admin:escalation_webhookendpoint_add"), {"name": "Pager", "url": "https://hooks.example.com/p"}
    )
    assert r.status_code == 200, r.content[:500]
    endpoint = WebhookEndpoint.objects.get(url="https://hooks.example.com/p")
    assert endpoint.secret.startswith("whsec_") and endpoint.secret.encode() in r.content


# --- rules name registered endpoints ---------------------------------------------------------------


def test_a_rule_with_an_unregistered_webhook_url_is_400_and_says_where_to_register(api, manager):
    client = api.as_(manager)
    count = EscalationRule.objects.count()
    body = {"name": "Late", "trigger": "resolution_overdue", "notify": ["webhook:https://hooks.example.com/new"]}
    r = client.post(f"{V1}escalation-rules/", body, format="json")
    assert r.status_code == 400
    [message] = r.data["notify"]
    assert "not registered" in message and "/api/v1/webhooks/" in message
    assert EscalationRule.objects.count() == count

    register(api, manager, "https://hooks.example.com/new")
    assert client.post(f"{V1}escalation-rules/", body, format="json").status_code == 201


def test_deleting_an_endpoint_a_rule_notifies_is_409_until_the_rule_lets_go(api, manager):
    pk, _ = register(api, manager, "https://hooks.example.com/ops")
    client = api.as_(manager)
    rule = client.post(
        f"{V1}escalation-rules/",
        {"name": "Ops", "trigger": "idle_for", "notify": ["role:manager", "webhook:https://hooks.example.com/ops"]},
        format="json",
    ).data
    r = client.delete(f"{URL}{pk}/")
    assert r.status_code == 409
    assert "Ops" in r.data["detail"] and "notify" in r.data["detail"]
    assert WebhookEndpoint.objects.filter(pk=pk).exists()
    changed = client.patch(
        f"{V1}escalation-rules/{rule['id']}/", {"notify": ["role:manager"]}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert changed.status_code == 200
    assert client.delete(f"{URL}{pk}/").status_code == 204


def test_admin_delete_of_an_endpoint_a_rule_notifies_is_refused(admin_client):
    endpoint = WebhookEndpointFactory()
    EscalationRuleFactory(name="Pager", trigger="idle_for", notify=[f"webhook:{endpoint.url}"])
    url = reverse("admin:escalation_webhookendpoint_delete", args=[endpoint.pk])
    r = admin_client.post(url, {"post": "yes"})
    assert r.status_code == 200 and b"Pager" in r.content
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_queued_notification_for_a_deleted_endpoint_fails_without_a_request(webhook_server):
    server = webhook_server([200])
    endpoint = WebhookEndpointFactory(url=server.url)
    pk = Notification.objects.create(
        channel="webhook", target=server.url, subject="s", ticket=TicketFactory(), next_attempt_at=timezone.now()
    ).pk
    endpoint.delete()
    assert notification_deliver(notification_id=pk) == DeliveryStatus.PENDING
    notification = Notification.objects.get(pk=pk)
    assert notification.attempts == 1 and "no webhook endpoint is registered" in notification.last_error
    assert server.count() == 0


# --- the endpoint's own fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x", "url": "ftp://hooks.example.com/"}, "url"),
        ({"name": "x", "url": "https://"}, "url"),
        ({"name": "x", "url": "https://hooks.example.com/a b"}, "url"),
        ({"name": "x", "url": "https://hooks.example.com/" + "a" * 500}, "url"),
        ({"name": "x", "url": "https://hooks.example.com/taken"}, "url"),
        ({"name": "   ", "url": "https://hooks.example.com/ok"}, "name"),
        ({"url": "https://hooks.example.com/ok"}, "name"),
        ({"name": "x"}, "url"),
    ],
)
def test_invalid_endpoints_are_400_and_change_nothing(api, manager, body, field):
    WebhookEndpointFactory(url="https://hooks.example.com/taken")
    r = api.as_(manager).post(URL, body, format="json")
    assert r.status_code == 400 and field in r.data, r.data
    assert WebhookEndpoint.objects.count() == 1


def test_the_url_is_fixed_the_name_is_not(api, manager):
    endpoint = WebhookEndpointFactory(url="https://hooks.example.com/fixed")
    client = api.as_(manager)
    r = client.patch(
        f"{URL}{endpoint.pk}/", {"url": "https://hooks.example.com/moved"}, format="json", **if_match(endpoint)
    )
    assert r.status_code == 400 and "register a new endpoint" in r.data["url"][0]
    r = client.patch(
        f"{URL}{endpoint.pk}/", {"name": "Renamed", "url": endpoint.url}, format="json", **if_match(endpoint)
    )
    assert r.status_code == 200 and r.data["name"] == "Renamed" and r.data["version"] == 2


def test_the_list_takes_a_constant_number_of_queries(api, manager, django_assert_max_num_queries):
    for n in range(30):
        WebhookEndpointFactory(url=f"https://hooks.example.com/{n}")
    client = api.as_(manager)
    with django_assert_max_num_queries(6):
        r = client.get(URL)
    assert r.status_code == 200 and r.data["count"] == 30


# --- upgrade ---------------------------------------------------------------------------------------


def test_the_upgrade_registers_every_webhook_url_in_use_with_fresh_secrets(settings):
    """Rules' webhook URLs and queued notifications' targets get endpoints, so rules
    stay valid and queued rows stay deliverable, each with its own new secret."""
    executor = MigrationExecutor(connection)
    executor.migrate([("escalation", "0005_webhookendpoint")])
    apps = executor.loader.project_state(("escalation", "0005_webhookendpoint")).apps
    Rule = apps.get_model("escalation", "EscalationRule")
    Row = apps.get_model("escalation", "Notification")
    Rule.objects.create(name="a", trigger="idle_for", notify=["role:manager", "webhook:https://a.example.com/x"])
    Rule.objects.create(name="b", trigger="idle_for", notify=[" Webhook: https://a.example.com/x ", "email:a@b.c"])
    Rule.objects.create(name="c", trigger="idle_for", notify=["webhook:http://10.0.0.5:8080/hook"])
    now = timezone.now()
    Row.objects.create(channel="webhook", target="https://queued.example.com/h", subject="s", next_attempt_at=now)
    Row.objects.create(
        channel="webhook", target="https://sent.example.com/h", subject="s", next_attempt_at=now, status="sent"
    )
    executor.loader.build_graph()
    executor.migrate([("escalation", "0006_webhook_endpoints_for_rules")])

    endpoints = {e.url: e for e in WebhookEndpoint.objects.all()}
    assert set(endpoints) == {"https://a.example.com/x", "http://10.0.0.5:8080/hook", "https://queued.example.com/h"}
    secrets = {e.secret for e in endpoints.values()}
    assert len(secrets) == 3 and all(s.startswith("whsec_") for s in secrets)
    assert settings.SECRET_KEY not in secrets
    assert endpoints["https://a.example.com/x"].name == "a.example.com (registered on upgrade)"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8080/hook", "the address 127.0.0.1 is loopback"),
        ("http://169.254.169.254/latest/meta-data/", "the address 169.254.169.254 is link-local"),
        ("http://[fd00:ec2::254]/", "is a cloud metadata address"),
        ("http://2130706433/", "2130706433 resolves to 127.0.0.1, which is loopback"),
    ],
)
def test_registering_an_address_the_outbound_policy_refuses_is_400_and_creates_nothing(
    api, manager, settings, url, says
):
    settings.HELPDESK_OUTBOUND_ALLOW = []  # this test, unlike the others here, does not allow loopback
    r = api.as_(manager).post(URL, {"name": "Internal", "url": url}, format="json")
    assert r.status_code == 400, r.data
    [message] = r.data["url"]
    assert says in message and "HELPDESK_OUTBOUND_ALLOW" in message
    assert not WebhookEndpoint.objects.exists()
