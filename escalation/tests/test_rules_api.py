"""escalation-rules/ (docs/API.md "Configuration objects"): CRUD by managers with the exact rule shape, refusals,
validation that changes nothing, the preview, and the rules that ship."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.forms.models import model_to_dict
from django.utils import timezone

from catalog.tests.factories import ApplicationFactory
from escalation.engine import escalation_tick, rule_matches
from escalation.models import EscalationRule, Trigger
from escalation.tests.factories import EscalationRuleFactory, WebhookEndpointFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets.models import Status
from tickets.tests.factories import CategoryFactory, TicketFactory, if_match

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
URL = f"{V1}escalation-rules/"
FIELDS = {
    "id",
    "name",
    "enabled",
    "order",
    "tiers",
    "priorities",
    "statuses",
    "kinds",
    "applications",
    "categories",
    "trigger",
    "threshold",
    "escalate_to_tier",
    "raise_urgency",
    "assign_to",
    "notify",
    "note",
    "version",
}
DEFAULT_RULES = importlib.import_module("escalation.migrations.0002_default_rules").DEFAULT_RULES


def body(**overrides) -> dict:
    data = {
        "name": "P1/P2 incidents overdue in L1",
        "enabled": True,
        "order": 5,
        "tiers": [1],
        "priorities": [1, 2],
        "statuses": ["new", "open"],
        "kinds": ["incident"],
        "applications": [],
        "categories": [],
        "trigger": "resolution_overdue",
        "threshold": 30,
        "escalate_to_tier": 2,
        "raise_urgency": True,
        "assign_to": None,
        "notify": ["role:manager", "email:ops@example.com"],
        "note": "Escalated by rule.",
    }
    data.update(overrides)
    return data


def snapshot() -> list[dict]:
    return [model_to_dict(r) for r in EscalationRule.objects.order_by("pk")]


@pytest.fixture
def rule(db) -> EscalationRule:
    return EscalationRuleFactory(name="Existing", trigger=Trigger.IDLE_FOR, threshold=60, notify=["tier:1"])


# --- CRUD --------------------------------------------------------------------------------------------


def test_manager_crud_with_the_spec_shape(api, manager, l2):
    client = api.as_(manager)
    app, cat = ApplicationFactory(), CategoryFactory()
    r = client.post(URL, body(applications=[app.pk], categories=[cat.pk], assign_to=l2.pk), format="json")
    assert r.status_code == 201, r.data
    assert set(r.data) == FIELDS
    expected = body(applications=[app.pk], categories=[cat.pk], assign_to=l2.pk)
    assert {k: r.data[k] for k in expected} == expected
    pk = r.data["id"]
    stored = EscalationRule.objects.get(pk=pk)
    assert (stored.trigger, stored.threshold, stored.escalate_to_tier, stored.assign_to_id) == (
        "resolution_overdue",
        30,
        2,
        l2.pk,
    )
    assert stored.notify == ["role:manager", "email:ops@example.com"] and stored.tiers == [1]

    listing = client.get(URL, {"page_size": 200})
    assert listing.status_code == 200
    assert {"count", "next", "previous", "results"} <= set(listing.data)
    [mine] = [item for item in listing.data["results"] if item["id"] == pk]
    assert set(mine) == FIELDS and mine == r.data

    detail = client.get(f"{URL}{pk}/")
    assert detail.status_code == 200 and detail.data == r.data

    replaced = body(name="Renamed", trigger="resolution_elapsed_pct", threshold=75, escalate_to_tier=None, notify=[])
    r = client.put(f"{URL}{pk}/", replaced, format="json", **if_match(stored))
    assert r.status_code == 200, r.data
    assert {k: r.data[k] for k in replaced} == replaced
    stored.refresh_from_db()
    assert (stored.name, stored.trigger, stored.threshold, stored.escalate_to_tier, stored.notify) == (
        "Renamed",
        "resolution_elapsed_pct",
        75,
        None,
        [],
    )

    r = client.patch(f"{URL}{pk}/", {"enabled": False, "threshold": 0}, format="json", **if_match(stored))
    assert r.status_code == 200 and r.data["enabled"] is False and r.data["threshold"] == 0
    assert r.data["name"] == "Renamed"

    assert client.delete(f"{URL}{pk}/").status_code == 204
    assert not EscalationRule.objects.filter(pk=pk).exists()
    assert client.get(f"{URL}{pk}/").status_code == 404


def test_minimal_rule_gets_empty_conditions_and_no_actions(api, manager):
    r = api.as_(manager).post(URL, {"name": "Just watch", "trigger": "idle_for"}, format="json")
    assert r.status_code == 201, r.data
    assert {k: r.data[k] for k in FIELDS - {"id", "order"}} == {
        "name": "Just watch",
        "enabled": True,
        "tiers": [],
        "priorities": [],
        "statuses": [],
        "kinds": [],
        "applications": [],
        "categories": [],
        "trigger": "idle_for",
        "threshold": 0,
        "escalate_to_tier": None,
        "raise_urgency": False,
        "assign_to": None,
        "notify": [],
        "note": "",
        "version": 1,
    }


def test_admins_manage_rules_too(api, admin_user):
    r = api.as_(admin_user).post(URL, body(), format="json")
    assert r.status_code == 201


def test_list_filters_by_trigger(api, manager, rule):
    EscalationRuleFactory(name="Other", trigger=Trigger.UNASSIGNED_FOR)
    r = api.as_(manager).get(URL, {"trigger": "unassigned_for", "page_size": 200})
    assert r.status_code == 200
    assert {item["trigger"] for item in r.data["results"]} == {"unassigned_for"}
    assert "Other" in {item["name"] for item in r.data["results"]}


# --- who may -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["l1", "l2", "l3", "customer"])
def test_non_managers_get_403_and_change_nothing(api, request, rule, who):
    client = api.as_(request.getfixturevalue(who))
    before = snapshot()
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{rule.pk}/").status_code == 403
    assert client.get(f"{URL}{rule.pk}/preview/").status_code == 403
    assert client.post(URL, body(), format="json").status_code == 403
    assert client.put(f"{URL}{rule.pk}/", body(), format="json").status_code == 403
    assert client.patch(f"{URL}{rule.pk}/", {"enabled": False}, format="json").status_code == 403
    assert client.delete(f"{URL}{rule.pk}/").status_code == 403
    assert snapshot() == before


def test_anonymous_gets_401(api, rule):
    client = api.as_(None)
    before = snapshot()
    assert client.get(URL).status_code == 401
    assert client.get(f"{URL}{rule.pk}/preview/").status_code == 401
    assert client.post(URL, body(), format="json").status_code == 401
    assert client.delete(f"{URL}{rule.pk}/").status_code == 401
    assert snapshot() == before


def test_unknown_rule_is_404(api, manager):
    assert api.as_(manager).get(f"{URL}999999/").status_code == 404
    assert api.as_(manager).get(f"{URL}999999/preview/").status_code == 404
    assert api.as_(manager).get(f"{URL}abc/").status_code == 404


# --- validation ----------------------------------------------------------------------------------------

BAD = [
    ("trigger", {"trigger": "whenever"}),
    ("trigger", {"trigger": None}),
    ("trigger", {"trigger": ["idle_for"]}),
    ("threshold", {"threshold": -1}),
    ("threshold", {"threshold": "soon"}),
    ("threshold", {"threshold": 1.5}),
    ("threshold", {"threshold": 10**30}),
    ("threshold", {"trigger": "resolution_elapsed_pct", "threshold": 1001}),
    ("tiers", {"tiers": [4]}),
    ("tiers", {"tiers": [0]}),
    ("tiers", {"tiers": "1"}),
    ("tiers", {"tiers": [True]}),
    ("tiers", {"tiers": [1, 2, 3, 1]}),
    ("priorities", {"priorities": [6]}),
    ("priorities", {"priorities": [0]}),
    ("priorities", {"priorities": {"p": 1}}),
    ("statuses", {"statuses": ["closed"]}),
    ("statuses", {"statuses": ["resolved"]}),
    ("statuses", {"statuses": ["bogus"]}),
    ("kinds", {"kinds": ["problem"]}),
    ("escalate_to_tier", {"escalate_to_tier": 4}),
    ("escalate_to_tier", {"escalate_to_tier": 0}),
    ("escalate_to_tier", {"escalate_to_tier": "up"}),
    ("escalate_to_tier", {"escalate_to_tier": True}),
    ("applications", {"applications": [999_999]}),
    ("applications", {"applications": ["x"]}),
    ("applications", {"applications": [2**63]}),
    ("applications", {"applications": list(range(1, 52))}),
    ("categories", {"categories": [999_999]}),
    ("categories", {"categories": [-1]}),
    ("assign_to", {"assign_to": 999_999}),
    ("assign_to", {"assign_to": "abc"}),
    ("assign_to", {"assign_to": 2**64}),
    ("notify", {"notify": ["sms:123"]}),
    ("notify", {"notify": ["tier:4"]}),
    ("notify", {"notify": ["tier:²"]}),
    ("notify", {"notify": ["user:²"]}),
    ("notify", {"notify": ["user:999999"]}),
    ("notify", {"notify": ["user:99999999999999999999999999"]}),
    ("notify", {"notify": ["role:customer"]}),
    ("notify", {"notify": ["email:not-an-address"]}),
    ("notify", {"notify": ["webhook:ftp://example.com/hook"]}),
    ("notify", {"notify": ["webhook:http://"]}),
    ("notify", {"notify": ["webhook:http://example.com:99999/"]}),
    # The outbound policy (docs/RELIABILITY.md "Outbound requests"): loopback, cloud metadata, odd spellings of them.
    ("notify", {"notify": ["webhook:http://127.0.0.1:8080/hook"]}),
    ("notify", {"notify": ["webhook:http://169.254.169.254/latest/meta-data/"]}),
    ("notify", {"notify": ["webhook:http://[fd00:ec2::254]/"]}),
    ("notify", {"notify": ["webhook:http://0x7f000001/"]}),
    ("notify", {"notify": ["webhook:https://hooks.example.com/never-registered"]}),
    ("notify", {"notify": ["role:manager", ""]}),
    ("notify", {"notify": "role:manager"}),
    ("notify", {"notify": [{"role": "manager"}]}),
    ("notify", {"notify": ["email:" + "a" * 600 + "@example.com"]}),
    ("name", {"name": ""}),
    ("name", {"name": None}),
    ("name", {"name": "x" * 201}),
    ("name", {"name": "bad\x00name"}),
    ("note", {"note": "x" * 10_001}),
    ("order", {"order": "first"}),
    ("order", {"order": 10**12}),
    ("enabled", {"enabled": "maybe"}),
    ("raise_urgency", {"raise_urgency": [1]}),
]


@pytest.mark.parametrize("field, overrides", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_invalid_rules_are_400_and_change_nothing(api, manager, rule, field, overrides):
    client = api.as_(manager)
    before = snapshot()
    r = client.post(URL, body(**overrides), format="json")
    assert r.status_code == 400, r.data
    assert field in r.data
    r = client.patch(f"{URL}{rule.pk}/", overrides, format="json", **if_match(rule))
    assert r.status_code == 400, r.data
    assert field in r.data
    r = client.put(f"{URL}{rule.pk}/", body(**overrides), format="json", **if_match(rule))
    assert r.status_code == 400, r.data
    assert snapshot() == before


@pytest.mark.parametrize("field", ["name", "trigger"])
def test_required_fields(api, manager, field):
    data = body()
    del data[field]
    count = EscalationRule.objects.count()
    r = api.as_(manager).post(URL, data, format="json")
    assert r.status_code == 400 and field in r.data
    assert EscalationRule.objects.count() == count


@pytest.mark.parametrize("junk", [[1, 2, 3], "a rule", 42, None])
def test_non_object_bodies_are_400(api, manager, junk):
    count = EscalationRule.objects.count()
    r = api.as_(manager).post(URL, junk, format="json")
    assert r.status_code == 400
    assert EscalationRule.objects.count() == count


def test_assign_to_must_be_an_active_agent(api, manager, customer):
    inactive = UserFactory(role=Role.L2, is_active=False)
    count = EscalationRule.objects.count()
    for user in (customer, inactive):
        r = api.as_(manager).post(URL, body(assign_to=user.pk), format="json")
        assert r.status_code == 400 and "assign_to" in r.data
    assert EscalationRule.objects.count() == count


def test_tiers_beyond_helpdesk_tiers_are_refused(api, manager, settings):
    settings.HELPDESK_TIERS = 2
    client = api.as_(manager)
    count = EscalationRule.objects.count()
    for overrides, field in (
        ({"escalate_to_tier": 3}, "escalate_to_tier"),
        ({"tiers": [3]}, "tiers"),
        ({"notify": ["tier:3"]}, "notify"),
    ):
        r = client.post(URL, body(**overrides), format="json")
        assert r.status_code == 400 and field in r.data, overrides
    assert EscalationRule.objects.count() == count
    assert client.post(URL, body(escalate_to_tier=2, tiers=[1, 2]), format="json").status_code == 201


def test_valid_notify_specs_and_lists_are_normalised(api, manager, l2):
    WebhookEndpointFactory(url="https://hooks.example.com/x?k=1")
    r = api.as_(manager).post(
        URL,
        body(
            tiers=[2, 1, 2],
            notify=["tier:current", "tier:2", f"user:{l2.pk}", "role:l3", "webhook:https://hooks.example.com/x?k=1"]
            + ["tier:2"],
        ),
        format="json",
    )
    assert r.status_code == 201, r.data
    assert r.data["tiers"] == [1, 2]
    assert r.data["notify"] == [
        "tier:current",
        "tier:2",
        f"user:{l2.pk}",
        "role:l3",
        "webhook:https://hooks.example.com/x?k=1",
    ]


# --- preview ----------------------------------------------------------------------------------------


def test_preview_lists_exactly_the_tickets_rule_matches_returns(api, manager):
    now = timezone.now()
    overdue = {"first_response_due_at": now - timedelta(hours=1)}
    hits = [TicketFactory(tier=1, status=s, **overdue) for s in (Status.NEW, Status.OPEN, Status.PENDING)]
    TicketFactory(tier=2, **overdue)  # another tier
    TicketFactory(tier=1, first_response_due_at=now + timedelta(hours=1))  # not yet
    TicketFactory(tier=1, first_responded_at=now, **overdue)  # answered
    TicketFactory(tier=1, status=Status.RESOLVED, **overdue)
    r = api.as_(manager).post(
        URL, {"name": "Late in L1", "trigger": "first_response_overdue", "tiers": [1]}, format="json"
    )
    rule = EscalationRule.objects.get(pk=r.data["id"])

    r = api.as_(manager).get(f"{URL}{rule.pk}/preview/")
    assert r.status_code == 200
    assert set(r.data) == {"count", "next", "previous", "results"}
    assert r.data["count"] == 3 and r.data["next"] is None
    got = [item["id"] for item in r.data["results"]]
    assert got == sorted(t.pk for t in hits)
    assert set(got) == set(rule_matches(rule).values_list("pk", flat=True))
    first = r.data["results"][0]
    assert first["number"] == f"HD-{first['id']:06d}" and "resolution_due_at" in first and "priority" in first

    # Preview changes nothing; once the rule fired in this episode the tickets drop out.
    assert not rule.firings.exists()
    EscalationRule.objects.exclude(pk=rule.pk).update(enabled=False)
    escalation_tick()
    r = api.as_(manager).get(f"{URL}{rule.pk}/preview/")
    assert r.data["count"] == 0 and r.data["results"] == []


def test_preview_is_paginated(api, manager):
    TicketFactory.create_batch(30, status=Status.OPEN)
    rule = EscalationRuleFactory(name="Everything", trigger=Trigger.IDLE_FOR, threshold=0)
    client = api.as_(manager)
    seen = []
    url = f"{URL}{rule.pk}/preview/?page_size=12"
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.data["count"] == 30
        seen += [item["id"] for item in r.data["results"]]
        url, pages = r.data["next"], pages + 1
    assert pages == 3
    assert seen == sorted(rule_matches(rule).values_list("pk", flat=True)) and len(seen) == 30


# --- rules that ship ---------------------------------------------------------------------------------


@pytest.fixture
def migrated(db):
    """The escalation migrations applied to an empty rule table, inside the test's
    transaction. (A transactional test flushes the reused test database, so the rules
    seeded when it was created may be gone by now.)"""
    executor = MigrationExecutor(connection)
    executor.migrate([("escalation", "0001_initial")])
    # The model as of 0001: today's has columns later migrations add.
    historical = executor.loader.project_state(("escalation", "0001_initial")).apps
    historical.get_model("escalation", "EscalationRule").objects.all().delete()
    executor.loader.build_graph()
    executor.migrate([("escalation", "0002_default_rules")])
    # ...and the later ones, so the table has every column the model has. PostgreSQL
    # alters no table with deferred constraint checks pending: run them first.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("escalation"))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_default_rules_exist_after_migrations(migrated):
    assert len(DEFAULT_RULES) >= 4
    assert EscalationRule.objects.count() == len(DEFAULT_RULES)
    for spec in DEFAULT_RULES:
        stored = EscalationRule.objects.get(name=spec["name"])
        assert stored.enabled
        for key, value in spec.items():
            assert getattr(stored, key) == value, (spec["name"], key)
    triggers = {spec["trigger"] for spec in DEFAULT_RULES}
    assert {"resolution_elapsed_pct", "resolution_overdue", "unassigned_for", "first_response_overdue"} <= triggers


def test_default_rules_pass_the_api_validation(migrated, api, manager):
    client = api.as_(manager)
    assert EscalationRule.objects.count() == len(DEFAULT_RULES)
    for stored in EscalationRule.objects.all():
        r = client.get(f"{URL}{stored.pk}/")
        assert r.status_code == 200 and set(r.data) == FIELDS
        put = client.put(f"{URL}{stored.pk}/", {k: v for k, v in r.data.items() if k != "id"}, format="json", **if_match(stored))
        assert put.status_code == 200, put.data
        assert put.data == r.data
