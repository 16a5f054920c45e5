"""Idempotency-Key on the ticket POSTs: a retry replays the first answer and does nothing again."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from helpdesk.idempotency import idempotency_keys_purge
from helpdesk.models import IdempotencyKey
from helpdesk.roles import Role
from helpdesk.tasks import purge_idempotency_keys
from helpdesk.testing.threads import run_in_threads
from helpdesk.tests.factories import UserFactory
from tickets.events import EventKind
from tickets.models import Comment, Ticket, TicketEvent
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

TICKET = {"title": "Printer jammed", "description": "Tray 2"}


def post(client, url, data=None, key="k-1"):
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(url, data or {}, format="json", headers=headers)


def test_a_retried_create_replays_the_first_response(api, customer):
    client = api.as_(customer)
    first = post(client, "/api/v1/tickets/", TICKET)
    second = post(client, "/api/v1/tickets/", {"description": "Tray 2", "title": "Printer jammed"})  # key order
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["ETag"] == first["ETag"] == '"1"'
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Ticket.objects.count() == 1


def test_without_a_key_every_post_acts(api, customer):
    client = api.as_(customer)
    post(client, "/api/v1/tickets/", TICKET, key=None)
    post(client, "/api/v1/tickets/", TICKET, key=None)
    assert Ticket.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_the_same_key_with_another_body_is_a_422(api, customer):
    client = api.as_(customer)
    assert post(client, "/api/v1/tickets/", TICKET).status_code == 201
    response = post(client, "/api/v1/tickets/", {**TICKET, "title": "Scanner jammed"})
    assert response.status_code == 422
    assert "already used for a different request" in response.json()["detail"]
    assert Ticket.objects.count() == 1


def test_the_same_key_on_another_endpoint_is_a_422(api, l1):
    ticket = TicketFactory(tier=1)
    client = api.as_(l1)
    assert post(client, f"/api/v1/tickets/{ticket.pk}/claim/").status_code == 200
    response = post(client, f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "hi"})
    assert response.status_code == 422
    assert not Comment.objects.exists()


def test_keys_are_per_user(api, customer, other_customer):
    first = post(api.as_(customer), "/api/v1/tickets/", TICKET)
    second = post(api.as_(other_customer), "/api/v1/tickets/", TICKET)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["requester"] == other_customer.pk
    assert "Idempotent-Replayed" not in second


def test_keys_expire_after_the_ttl(api, customer, settings):
    settings.HELPDESK_IDEMPOTENCY_TTL_HOURS = 24
    client = api.as_(customer)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post(client, "/api/v1/tickets/", TICKET)
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        assert post(client, "/api/v1/tickets/", TICKET)["Idempotent-Replayed"] == "true"
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=False):
        response = post(client, "/api/v1/tickets/", TICKET)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Ticket.objects.count() == 2


def test_the_purge_task_drops_only_expired_keys(api, customer, other_customer):
    start = timezone.now()
    with time_machine.travel(start - timedelta(hours=25), tick=False):
        post(api.as_(customer), "/api/v1/tickets/", TICKET, key="old")
    post(api.as_(other_customer), "/api/v1/tickets/", TICKET, key="new")
    assert purge_idempotency_keys.delay().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert idempotency_keys_purge() == 0


@pytest.mark.parametrize(
    ("action", "body", "kind"),
    [
        ("claim", {}, EventKind.ASSIGNED),
        ("comments", {"body": "Which tray?"}, EventKind.COMMENTED),
        ("escalate", {"to_tier": 2, "reason": "Needs L2"}, EventKind.ESCALATED),
        ("transition", {"status": "pending"}, EventKind.STATUS_CHANGED),
    ],
)
def test_retried_actions_act_once(api, l1, action, body, kind):
    ticket = TicketFactory(tier=1, assignee=l1, status="open") if action != "claim" else TicketFactory(tier=1)
    client = api.as_(l1)
    before = TicketEvent.objects.filter(ticket=ticket, kind=kind).count()
    first = post(client, f"/api/v1/tickets/{ticket.pk}/{action}/", body)
    second = post(client, f"/api/v1/tickets/{ticket.pk}/{action}/", body)
    assert first.status_code in (200, 201), first.content
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert second.get("ETag") == first.get("ETag")
    assert TicketEvent.objects.filter(ticket=ticket, kind=kind).count() == before + 1


def test_an_error_answer_is_replayed_too(api, l1, l2):
    ticket = TicketFactory(tier=1, assignee=l2, status="open")
    client = api.as_(l1)
    first = post(client, f"/api/v1/tickets/{ticket.pk}/claim/")
    assert first.status_code == 403 or first.status_code == 409
    ticket.assignee = None
    ticket.save()
    second = post(client, f"/api/v1/tickets/{ticket.pk}/claim/")
    assert (second.status_code, second.json()) == (first.status_code, first.json())


def test_an_empty_queue_204_is_replayed(api, l1):
    client = api.as_(l1)
    assert post(client, "/api/v1/tickets/next/").status_code == 204
    TicketFactory(tier=1)
    assert post(client, "/api/v1/tickets/next/").status_code == 204  # the first answer, not a claim


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("x" * 256, "1 to 255 characters"),
        ("abc\x01def", "control characters"),
        ("abc\x7fdef", "control characters"),
    ],
)
def test_bad_keys_are_a_400(api, customer, key, message):
    response = post(api.as_(customer), "/api/v1/tickets/", TICKET, key=key)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_a_255_character_key_is_fine(api, customer):
    assert post(api.as_(customer), "/api/v1/tickets/", TICKET, key="k" * 255).status_code == 201


def test_the_header_is_in_the_schema(api, admin_user):
    schema = api.as_(admin_user).get("/api/schema/", {"format": "json"}).json()
    operations = {
        (path, method)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", []))
    }
    expected = {
        "/api/v1/tickets/",
        "/api/v1/tickets/{id}/claim/",
        "/api/v1/tickets/{id}/assign/",
        "/api/v1/tickets/{id}/escalate/",
        "/api/v1/tickets/{id}/deescalate/",
        "/api/v1/tickets/{id}/transition/",
        "/api/v1/tickets/{id}/comments/",
        "/api/v1/tickets/{id}/apply-known-issue/",
        "/api/v1/tickets/{id}/resolve-linked/",
        "/api/v1/tickets/next/",
    }
    assert operations == {(path, "post") for path in expected}


# --- under real concurrency (PostgreSQL) ------------------------------------------------------

RACERS = 20


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL and one connection per thread")
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_with_one_key_create_one_ticket():
    customer = UserFactory(role=Role.CUSTOMER)

    def body(index: int) -> object:
        client = APIClient()
        client.force_authenticate(user=customer)
        return post(client, "/api/v1/tickets/", TICKET, key="raced")

    responses = run_in_threads(RACERS, body)
    assert len(responses) == RACERS

    assert Ticket.objects.count() == 1
    ticket = Ticket.objects.get()
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CREATED).count() == 1
    # Everyone waited for the first and got its answer: one original, 19 replays.
    assert Counter(r.status_code for r in responses) == {201: RACERS}
    assert {r.json()["id"] for r in responses} == {ticket.pk}
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") == "true") == RACERS - 1
    assert IdempotencyKey.objects.count() == 1
