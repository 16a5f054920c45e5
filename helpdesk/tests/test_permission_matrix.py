"""Runs every cell of permission_matrix.ROWS, and fails when a URL pattern or an
OpenAPI operation has no row.

One set of objects (the ``World``) is written once per module inside an outer
transaction; each cell runs in a savepoint that is rolled back, so a cell sees
the world as it was written, whatever the cells before it changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from escalation.models import EscalationRule
from escalation.tests.factories import WebhookEndpointFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from helpdesk.tests.permission_matrix import EXEMPT_ROUTE_MARKERS, EXEMPT_ROUTE_PREFIXES, ROLES, ROWS, Row
from helpdesk.tokens import api_token_issue
from mail.models import InboundMessage, Outcome
from mail.services.ingest import mail_ingest
from mail.tests.factories import MailboxFactory
from monitoring.tests.factories import AlertFactory, MonitorFactory, SilenceFactory
from tickets import attachment_rules, services
from tickets.models import Kind, Ticket
from tickets.services import sla
from tickets.tests.factories import AttachmentFactory, CategoryFactory, CommentFactory, KnownIssueFactory, TicketFactory

PASSWORD = "pass-Word-123"


class World:
    """The objects every cell is checked against (see permission_matrix's docstring)."""

    def __init__(self) -> None:
        self.customer = UserFactory(role=Role.CUSTOMER)
        self.other = UserFactory(role=Role.CUSTOMER)
        self.l1 = UserFactory(role=Role.L1)
        self.l2 = UserFactory(role=Role.L2)
        self.l3 = UserFactory(role=Role.L3)
        self.manager = UserFactory(role=Role.MANAGER, is_staff=True)
        self.admin = UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True)
        self.users = {role: getattr(self, role) for role in ROLES if role != "anon"}
        self.tokens = {role: api_token_issue(user=user).key for role, user in self.users.items()}
        self.spare_token = api_token_issue(user=self.manager, name="spare").token

        self.monitor = MonitorFactory()
        self.application, self.source = self.monitor.application, self.monitor.source
        self.alert = AlertFactory(monitor=self.monitor)
        self.silence = SilenceFactory()
        self.category = CategoryFactory()
        self.known_issue = KnownIssueFactory()
        self.rule = EscalationRule.objects.create(name="Overdue", trigger="resolution_overdue")
        self.webhook = WebhookEndpointFactory(url="https://hooks.example.com/matrix")
        self.webhook_used = WebhookEndpointFactory(url="https://hooks.example.com/matrix-used")
        EscalationRule.objects.create(name="Page", trigger="idle_for", notify=[f"webhook:{self.webhook_used.url}"])
        self.tickets = {
            tier: TicketFactory(requester=self.customer, tier=tier, application=self.application) for tier in (1, 2, 3)
        }
        self.incident = TicketFactory(requester=self.other, kind=Kind.INCIDENT, major=True, tier=2)
        self.comments = {}
        self.attachments = {}
        for tier in (1, 3):
            ticket = self.tickets[tier]
            self.comments[f"t{tier}.public"] = CommentFactory(ticket=ticket, author=self.customer)
            self.comments[f"t{tier}.internal"] = CommentFactory(ticket=ticket, author=self.l1, internal=True)
        for key in ("t1.public", "t1.internal", "t3.public"):
            attachment = AttachmentFactory(comment=self.comments[key], name="log.txt", content_type="text/plain")
            attachment_rules.storage().save(attachment.stored_name, ContentFile(b"log line\n"))
            self.attachments[key] = attachment

        # mail: manager pages and API
        self.mailbox = MailboxFactory(name="matrix", address="matrix@helpdesk.example")
        quarantined = mail_ingest(mailbox=self.mailbox, raw=b"\x00\x01 not a message")
        self.quarantined = self.mailbox.messages.get(pk=quarantined.message)
        # mail: ticket side
        self.mail_original = InboundMessage.objects.create(
            mailbox=self.mailbox,
            message_key="matrix-1@customer.example",
            received_at=timezone.now(),
            outcome=Outcome.APPENDED,
            ticket=self.tickets[1],
            comment=self.comments["t1.public"],
            raw=b"From: c@customer.example\r\nSubject: Re: help\r\n\r\nStill broken.\r\n",
        )

        self.payloads = {
            "priority-matrix": {
                "cells": [
                    {"impact": i, "urgency": u, "priority": p} for (i, u), p in services.priority_matrix().items()
                ]
            },
            "sla-policies": {"policies": [self._policy(p) for p in sla.sla_policies().values()]},
            "business-calendar": {
                "timezone": "UTC",
                "working_days": [0, 1, 2, 3, 4],
                "day_start": "09:00",
                "day_end": "17:00",
            },
            "silence": {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T02:00:00Z", "reason": "upgrade"},
        }

    @staticmethod
    def _policy(policy: Any) -> dict[str, Any]:
        from tickets.api.serializers import SlaPolicySerializer

        return dict(SlaPolicySerializer(policy).data)

    def ticket_version(self, tier: int) -> int:
        return Ticket.objects.get(pk=self.tickets[tier].pk).version

    def values(self, scope: str) -> dict[str, Any]:
        """Placeholder values for a scope."""
        if scope in ("t1", "t2", "t3"):
            pk = self.tickets[int(scope[1])].pk
            return {"id": pk, "ticket_id": pk}
        if scope in self.comments:
            comment = self.comments[scope]
            return {"id": comment.ticket_id, "comment_id": comment.pk}
        if scope.startswith("att."):
            key = scope.removeprefix("att.")
            return {"id": self.attachments[key if key.count(".") else f"t1.{key}"].pk}
        objects = {
            "category": self.category,
            "known_issue": self.known_issue,
            "application": self.application,
            "source": self.source,
            "monitor": self.monitor,
            "alert": self.alert,
            "silence": self.silence,
            "rule": self.rule,
            "webhook": self.webhook,
            "webhook.used": self.webhook_used,
            "token": self.spare_token,
            "mailbox": self.mailbox,
            "quarantined": self.quarantined,
            "mail.original": self.mail_original,
        }
        if scope == "mail.original":
            return {"message_id": self.mail_original.pk}
        if scope in objects:
            pk = objects[scope].pk
            return {"id": pk, f"{scope}_id": pk}
        return {}

    def url(self, row: Row) -> str:
        return row.path.format(**self.values(row.scope))


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("attachments")
    with (
        override_settings(
            HELPDESK_ATTACHMENT_ROOT=root,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            # The mail providers' webhooks are on (their rows: "mail: provider webhooks").
            ANYMAIL={"WEBHOOK_SECRET": ["hook:secret"], "MAILGUN_WEBHOOK_SIGNING_KEY": "key-test"},
        ),
        django_db_blocker.unblock(),
    ):
        with transaction.atomic():
            built = World()
            yield built
            transaction.set_rollback(True)


def cell_id(row: Row, role: str) -> str:
    return f"{row.method} {row.path} [{row.scope}] as {role}"


CELLS = [(row, role) for row in ROWS for role in ROLES]


def _request(world: World, row: Row, role: str) -> Any:
    url = world.url(row)
    body = row.body(world) if callable(row.body) else row.body
    if row.page:
        client = Client()
        if role != "anon":
            client.force_login(world.users[role])
        if row.method == "GET":
            return client.get(url)
        return client.post(url, body or {})
    client = APIClient()
    if role != "anon":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
    if row.method in ("PATCH", "PUT"):
        # Who may write, not which version: "overwrite whatever is there" (428 without it).
        client.credentials(**client._credentials, HTTP_IF_MATCH="*")
    if row.fmt == "multipart":
        upload = SimpleUploadedFile("trace.log", b"Traceback ...\n", content_type="text/plain")
        return client.post(url, {"file": upload}, format="multipart")
    return (
        getattr(client, row.method.lower())(url, body, format="json")
        if body is not None
        else (getattr(client, row.method.lower())(url))
    )


@pytest.mark.django_db  # each cell in a savepoint inside the world's transaction
@pytest.mark.parametrize(("row", "role"), CELLS, ids=[cell_id(row, role) for row, role in CELLS])
def test_permission_matrix(world, row: Row, role: str):
    response = _request(world, row, role)
    if response.streaming:
        # A download: the status is what counts. Close its file as the test client
        # would, without the request_finished handler that closes the connection.
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)
        detail = b"(a file)"
    else:
        detail = getattr(response, "data", None) or response.content[:300]
    assert response.status_code == row.expect[role], f"{cell_id(row, role)}: got {response.status_code}, {detail!r}"


# --- guards: nothing may be left out of the table ---------------------------------------------


def _join(prefix: str, route: str) -> str:
    """As Django joins routes for ResolverMatch.route (a regex's leading ^ dropped)."""
    return prefix + route.removeprefix("^") if prefix else route


def _walk(patterns: list, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, _join(prefix, str(entry.pattern)))
        elif isinstance(entry, URLPattern):
            yield _join(prefix, str(entry.pattern))


def _exempt(route: str) -> bool:
    return any(route.startswith(p) for p in EXEMPT_ROUTE_PREFIXES) or any(m in route for m in EXEMPT_ROUTE_MARKERS)


def _sample_path(row: Row) -> str:
    """The row's path with any ids filled in: enough to resolve its URL pattern."""
    return re.sub(r"\{[a-z_]+\}", "1", row.path).split("?")[0]


def test_every_url_pattern_is_in_the_table():
    routes = {route for route in _walk(get_resolver().url_patterns) if not _exempt(route)}
    covered = {resolve(_sample_path(row)).route for row in ROWS}
    missing = sorted(routes - covered)
    assert not missing, f"URL patterns without a row in permission_matrix.ROWS: {missing}"


def test_every_openapi_operation_is_in_the_table():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    covered = {(row.method, row.path) for row in ROWS if not row.page}
    missing = sorted(operations - covered)
    assert not missing, f"OpenAPI operations without a row in permission_matrix.ROWS: {missing}"
    unknown = sorted(c for c in covered - operations if c[1] != "/api/v1/")
    assert not unknown, f"rows naming operations the schema does not have: {unknown}"


def test_every_role_and_scope_is_checked():
    scopes = {row.scope for row in ROWS}
    assert {"t1", "t2", "t3", "t1.public", "t1.internal", "att.public", "att.internal"} <= scopes
    assert all(set(row.expect) == set(ROLES) for row in ROWS)


# --- use after delete ---------------------------------------------------------------------------

DELETABLE = [row for row in ROWS if row.method == "DELETE" and row.expect.get("manager") == 204]


def _after(deleted: Row) -> list[Row]:
    """Every API row on the deleted object or below it (its actions and sub-resources)."""
    prefix = deleted.path
    return [row for row in ROWS if not row.page and row.scope == deleted.scope and row.path.startswith(prefix)]


@pytest.mark.django_db
@pytest.mark.parametrize("deleted", DELETABLE, ids=[f"{row.path} [{row.scope}]" for row in DELETABLE])
def test_nothing_answers_for_a_deleted_object_but_404(world, deleted: Row):
    """Use after delete: once a manager deleted an object, reading, changing,
    deleting again or acting on it is a 404 for every role that could before,
    never a 500 or a ghost 200 (and the list still answers)."""
    assert _request(world, deleted, "manager").status_code == 204
    later = _after(deleted)
    assert later, deleted.path
    for row in later:
        for role in ("manager", "admin", "l2"):
            response = _request(world, row, role)
            expected = 404 if row.expect[role] < 400 or row.expect[role] == 404 else row.expect[role]
            assert response.status_code == expected, f"{row.method} {row.path} as {role} after DELETE"
    listing = next(r for r in ROWS if r.method == "GET" and r.path == deleted.path.rsplit("{", 1)[0])
    assert _request(world, listing, "manager").status_code == 200
