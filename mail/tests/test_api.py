"""The mail API: mailboxes (managers, credentials write-only), the raw-message
endpoint (an http mailbox's bearer token), the quarantine (docs/EMAIL.md)."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from mail.models import InboundMessage, Mailbox, Outcome
from mail.tests.factories import raw_message
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

INBOUND = "/api/v1/mail/inbound/"


@pytest.fixture
def http_mailbox(api, manager):
    answer = api.as_(manager).post(
        "/api/v1/mailboxes/", {"name": "support", "address": "Support@Helpdesk.Example", "kind": "http"}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    assert answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["address"] == "support@helpdesk.example"
    return Mailbox.objects.get(pk=body["id"]), body["token"]


def _post(raw: bytes, token: str | None, content_type: str = "message/rfc822"):
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(INBOUND, data=raw, content_type=content_type, **headers)


def test_an_http_mailbox_takes_posted_messages_once(http_mailbox):
    mailbox, token = http_mailbox
    raw = raw_message(to="support@helpdesk.example", message_id="<api1@customer.example>")
    first = _post(raw, token)
    assert first.status_code == 202
    body = first.json()
    assert body["outcome"] == "created" and body["reason"] == "new conversation"
    assert Ticket.objects.filter(pk=body["ticket"]).exists()
    again = _post(raw, token)
    assert (again.status_code, again.json()["outcome"], again.json()["ticket"]) == (202, "duplicate", body["ticket"])


@pytest.mark.parametrize("token", [None, "wrong", "x" * 500])
def test_the_inbound_endpoint_wants_a_mailbox_token(http_mailbox, token):
    assert _post(raw_message(), token).status_code == 401
    assert not InboundMessage.objects.exists()


def test_a_disabled_mailbox_refuses_and_a_rotated_token_replaces_the_old(api, manager, http_mailbox):
    mailbox, token = http_mailbox
    rotated = api.as_(manager).post(f"/api/v1/mailboxes/{mailbox.pk}/rotate-token/")
    assert rotated.status_code == 200
    new = rotated.json()["token"]
    assert _post(raw_message(), token).status_code == 401
    assert _post(raw_message(), new).status_code == 202
    Mailbox.objects.filter(pk=mailbox.pk).update(enabled=False)
    assert _post(raw_message(), new).status_code == 401


def test_only_raw_messages_are_accepted(http_mailbox):
    _, token = http_mailbox
    assert _post(b'{"a": 1}', token, "application/json").status_code == 415
    assert _post(b"   ", token).status_code == 400
    assert not InboundMessage.objects.exists()


def test_a_message_over_the_limit_is_refused_with_413(http_mailbox, settings):
    _, token = http_mailbox
    settings.HELPDESK_MAIL_MAX_BYTES = 1000
    assert _post(raw_message(body="x" * 5000), token).status_code == 413
    assert not InboundMessage.objects.exists()


def test_garbage_is_quarantined_and_a_manager_retries_or_discards_it(api, manager, http_mailbox):
    _, token = http_mailbox
    answer = _post(b"\x00\x01\x02 not a message", token)
    assert (answer.status_code, answer.json()["outcome"]) == (202, "quarantined")
    listed = api.as_(manager).get("/api/v1/mail/quarantine/").json()
    (row,) = listed["results"]
    assert row["reason"].startswith("cannot be read")
    assert "raw" not in row
    retried = api.as_(manager).post(f"/api/v1/mail/quarantine/{row['id']}/retry/")
    assert (retried.status_code, retried.json()["outcome"]) == (200, "quarantined")
    row_id = InboundMessage.objects.get().pk
    assert api.as_(manager).post(f"/api/v1/mail/quarantine/{row_id}/discard/").status_code == 204
    assert api.as_(manager).get("/api/v1/mail/quarantine/").json()["results"] == []
    assert InboundMessage.objects.get().outcome == Outcome.IGNORED


def test_imap_mailboxes_never_return_their_password(api, manager, settings):
    settings.HELPDESK_OUTBOUND_ALLOW = ["203.0.113.0/24"]
    created = api.as_(manager).post(
        "/api/v1/mailboxes/",
        {
            "name": "imap",
            "address": "help@helpdesk.example",
            "kind": "imap",
            "host": "203.0.113.5",
            "security": "ssl",
            "username": "help",
            "password": "s3cret",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "password" not in body and body["has_password"] is True and body["token"] is None
    assert body["port"] == 993
    detail = api.as_(manager).get(f"/api/v1/mailboxes/{body['id']}/")
    assert "s3cret" not in detail.content.decode()
    # A new host without a new password: the stored one is not sent to it.
    moved = api.as_(manager).patch(
        f"/api/v1/mailboxes/{body['id']}/", {"host": "203.0.113.6"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert moved.status_code == 400 and "password" in moved.json()
    kept = Mailbox.objects.get(pk=body["id"])
    assert (kept.host, kept.password) == ("203.0.113.5", "s3cret")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address", "not an address"),
        ("address", "support+x@helpdesk.example"),
        ("poll_interval_seconds", 5),
        ("kind", "pop3"),
        ("name", "bad\x00name"),
        ("name", "\ud800"),
    ],
)
def test_bad_mailbox_input_is_a_400_that_changes_nothing(api, manager, field, value):
    data = {"name": "support", "address": "support@helpdesk.example", "kind": "http", field: value}
    # As JSON text: a lone surrogate goes as its \u escape, the way a client sends it.
    answer = api.as_(manager).post("/api/v1/mailboxes/", json.dumps(data), content_type="application/json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Mailbox.objects.exists()


def test_imap_hosts_go_through_the_outbound_policy(api, manager):
    data = {
        "name": "imap",
        "address": "help@helpdesk.example",
        "kind": "imap",
        "host": "127.0.0.1",
        "username": "u",
        "password": "p",
    }
    answer = api.as_(manager).post("/api/v1/mailboxes/", data, format="json")
    assert answer.status_code == 400 and "outbound policy" in str(answer.json()["host"])
    data["host"] = "169.254.169.254"
    assert api.as_(manager).post("/api/v1/mailboxes/", data, format="json").status_code == 400


@pytest.mark.parametrize("role", ["customer", "l1", "l3"])
def test_only_managers_configure_mailboxes(api, request, role):
    user = request.getfixturevalue(role)
    assert api.as_(user).get("/api/v1/mailboxes/").status_code == 403
    assert api.as_(user).get("/api/v1/mail/quarantine/").status_code == 403
