"""Text no database or response can hold (NUL, lone surrogates) and ids written
in non-ASCII digits: a 400 naming the field, or accepted cleanly, and never a 500
(issue 11 item 8). helpdesk.text decides; these tests hit every boundary."""

from __future__ import annotations

import json

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from catalog.models import Application
from catalog.tests.factories import ApplicationFactory
from escalation.models import EscalationRule
from helpdesk import text
from helpdesk.errors import MAX_ID, InvalidInput
from helpdesk.models import User
from mail.models import Mailbox
from mail.tests.factories import MailboxFactory
from monitoring.models import Alert, MetricSource, Monitor
from monitoring.tests.factories import MetricSourceFactory, MonitorFactory
from tickets.models import Comment, Status, Ticket, TicketEvent
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
SURROGATE = "\ud800"
LOW_SURROGATE = "\udfff"
NUL = "\x00"
# Legitimate text that looks odd: kept exactly as given.
INVISIBLE = "\u200f\u202e\u200b\ufeff\u200c\u200d"


def raw_json(client: APIClient, method: str, url: str, body: object, **extra: str):
    """Send ``body`` as JSON text with \\u escapes (the way a client sends a lone
    surrogate: the test client's own encoder cannot encode one)."""
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", **extra)


def database_state() -> dict:
    """What any of these requests could change."""
    return {
        "tickets": list(
            Ticket.objects.order_by("id").values_list("id", "version", "kind", "urgency", "impact", "status")
        ),
        "comments": Comment.objects.count(),
        "events": TicketEvent.objects.count(),
        "users": list(User.objects.order_by("id").values_list("id", "role")),
        "applications": list(Application.objects.order_by("id").values_list("id", "version", "criticality")),
        "sources": list(MetricSource.objects.order_by("id").values_list("id", "kind", "options")),
        "monitors": list(Monitor.objects.order_by("id").values_list("id", "direction", "baseline_kind")),
        "rules": list(EscalationRule.objects.order_by("id").values_list("id", "version", "statuses", "kinds")),
        "mailboxes": list(Mailbox.objects.order_by("id").values_list("id", "version", "kind", "security", "urgency")),
        "alerts": list(Alert.objects.order_by("id").values_list("id", "fingerprint", "labels", "summary")),
    }


# --- the one cleaning function and the one id parser ---------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a\x00b", text.NUL_MESSAGE),
        (SURROGATE, text.SURROGATE_MESSAGE),
        ("ok" + LOW_SURROGATE, text.SURROGATE_MESSAGE),
        ("plain", None),
        ("\U0001f600 emoji (a valid pair)", None),
        (INVISIBLE + "שלום", None),
    ],
)
def test_text_problem(value, problem):
    assert text.text_problem(value) == problem


def test_data_problem_names_the_place_keys_included():
    assert text.data_problem({"a": [1, {"b": "x\x00"}]}) == ("a.1.b", text.NUL_MESSAGE)
    assert text.data_problem({"a": {SURROGATE: 1}}) == ("a.\ufffd", text.SURROGATE_MESSAGE)
    assert text.data_problem([{"ok": INVISIBLE}]) is None
    deep: object = "\x00"
    for _ in range(5000):  # deeper than the recursion limit
        deep = [deep]
    assert text.data_problem(deep) is not None


def test_clean_text_refuses_and_trims():
    assert text.clean_text("  hi\u200b ", field="title") == "hi\u200b"
    with pytest.raises(InvalidInput) as raised:
        text.clean_text("a\x00", field="title")
    assert raised.value.detail == {"title": [text.NUL_MESSAGE]}
    with pytest.raises(InvalidInput):
        text.clean_text("  ", field="title", required=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        (42, 42),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        (MAX_ID + 1, None),
        ("0", None),
        ("-1", None),
        ("²", None),
        ("٣", None),
        ("５", None),
        ("1\x00", None),
        (" 1", None),
        ("1" * 400, None),
        (True, None),
        (1.0, None),
        (None, None),
    ],
)
def test_parse_id(raw, expected):
    assert text.parse_id(raw) == expected


# --- every choice field of the API with a lone surrogate -----------------------------


def _enum_fields() -> list[tuple[str, str, str]]:
    """(method, path, field) of every enum (choice) field of a JSON request body."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def resolve(node: dict) -> dict:
        if "$ref" in node:
            return components[node["$ref"].rsplit("/", 1)[-1]]
        return resolve(node["allOf"][0]) if "allOf" in node else node

    def is_choice(node: dict) -> bool:
        node = resolve(node)
        if "enum" in node:
            return True
        if "oneOf" in node:
            return any(is_choice(option) for option in node["oneOf"])
        return node.get("type") == "array" and is_choice(node.get("items", {}))

    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for name, prop in resolve(body["schema"]).get("properties", {}).items():
                    if is_choice(prop):
                        found.append((method, path, name))
    return found


# Who may use each path (a 400 from them proves the body was read, not refused earlier).
CHOICE_TABLE = {
    ("post", "/api/v1/applications/", "criticality"),
    ("put", "/api/v1/applications/{id}/", "criticality"),
    ("patch", "/api/v1/applications/{id}/", "criticality"),
    ("post", "/api/v1/escalation-rules/", "statuses"),
    ("post", "/api/v1/escalation-rules/", "kinds"),
    ("post", "/api/v1/escalation-rules/", "trigger"),
    ("put", "/api/v1/escalation-rules/{id}/", "statuses"),
    ("put", "/api/v1/escalation-rules/{id}/", "kinds"),
    ("put", "/api/v1/escalation-rules/{id}/", "trigger"),
    ("patch", "/api/v1/escalation-rules/{id}/", "statuses"),
    ("patch", "/api/v1/escalation-rules/{id}/", "kinds"),
    ("patch", "/api/v1/escalation-rules/{id}/", "trigger"),
    ("post", "/api/v1/metric-sources/", "kind"),
    ("put", "/api/v1/metric-sources/{id}/", "kind"),
    ("patch", "/api/v1/metric-sources/{id}/", "kind"),
    ("post", "/api/v1/monitors/", "direction"),
    ("post", "/api/v1/monitors/", "baseline_kind"),
    ("put", "/api/v1/monitors/{id}/", "direction"),
    ("put", "/api/v1/monitors/{id}/", "baseline_kind"),
    ("patch", "/api/v1/monitors/{id}/", "direction"),
    ("patch", "/api/v1/monitors/{id}/", "baseline_kind"),
    ("post", "/api/v1/tickets/", "kind"),
    ("post", "/api/v1/tickets/", "urgency"),
    ("post", "/api/v1/tickets/", "impact"),
    ("patch", "/api/v1/tickets/{id}/", "urgency"),
    ("patch", "/api/v1/tickets/{id}/", "impact"),
    ("patch", "/api/v1/tickets/{id}/", "kind"),
    ("post", "/api/v1/tickets/{id}/transition/", "status"),
    ("post", "/api/v1/users/", "role"),
    *(
        (method, path, field)
        for method, path in (
            ("post", "/api/v1/mailboxes/"),
            ("put", "/api/v1/mailboxes/{id}/"),
            ("patch", "/api/v1/mailboxes/{id}/"),
        )
        for field in ("kind", "security", "urgency", "impact")
    ),
}


def test_the_choice_table_covers_every_choice_field_of_the_api():
    """A new choice field (or a new endpoint with one) must join the table below."""
    assert set(_enum_fields()) == CHOICE_TABLE


@pytest.fixture
def objects(l2, customer):
    source = MetricSourceFactory()
    return {
        "applications": ApplicationFactory(),
        "escalation-rules": EscalationRule.objects.create(name="Rule", trigger="unassigned_for", threshold=10),
        "metric-sources": source,
        "monitors": MonitorFactory(source=source),
        "tickets": TicketFactory(requester=customer, tier=2, status=Status.OPEN, assignee=l2),
        "mailboxes": MailboxFactory(),
    }


@pytest.mark.parametrize("value", [SURROGATE, "low" + LOW_SURROGATE])
@pytest.mark.parametrize(("method", "path", "field"), sorted(CHOICE_TABLE))
def test_a_lone_surrogate_in_any_choice_field_is_a_400_naming_it(api, admin_user, objects, method, path, field, value):
    resource = path.split("/")[3]
    target = objects.get(resource)
    url = path.replace("{id}", str(target.pk)) if target is not None else path
    headers = {"HTTP_IF_MATCH": f'"{type(target).objects.get(pk=target.pk).version}"'} if "{id}" in path else {}
    body = {field: [value] if field in ("statuses", "kinds") else value}
    before = database_state()

    response = raw_json(api.as_(admin_user), method, url, body, **headers)

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert text.SURROGATE_MESSAGE in json.dumps(response.json()[field])
    assert database_state() == before


# --- the other inputs that answered 500 ----------------------------------------------


def am_payload(**alert: object) -> dict:
    item = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "application": "shop", "severity": "critical"},
        "annotations": {"summary": "Error rate above 5%"},
        "startsAt": "2025-03-03T10:00:00Z",
        "fingerprint": "a1b2c3d4",
        **alert,
    }
    return {"version": "4", "status": "firing", "receiver": "helpdesk", "alerts": [item]}


@pytest.fixture
def alertmanager(api, manager) -> APIClient:
    created = api.as_(manager).post(f"{V1}metric-sources/", {"name": "AM", "kind": "alertmanager"}, format="json")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.data['push_token']}")
    ApplicationFactory(slug="shop")
    return client


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize(
    "alert",
    [
        lambda bad: {"labels": {"alertname": "x", "application": "shop", "job": f"api{bad}"}},
        lambda bad: {"labels": {"alertname": "x", f"job{bad}": "api"}},
        lambda bad: {"fingerprint": f"a1{bad}"},
        lambda bad: {"annotations": {"summary": f"down{bad}"}},
        lambda bad: {"annotations": {"description": f"down{bad}"}},
    ],
    ids=["label value", "label name", "fingerprint", "summary", "description"],
)
def test_alertmanager_push_with_nul_or_surrogate_is_a_400(alertmanager, bad, alert):
    before = database_state()
    response = raw_json(alertmanager, "post", f"{V1}monitoring/alertmanager/", am_payload(**alert(bad)))
    assert response.status_code == 400, response.content
    assert "alerts" in response.json()
    assert database_state() == before


def test_alertmanager_push_keeps_invisible_characters_exactly(alertmanager):
    payload = am_payload(labels={"alertname": "x", "application": "shop", "job": f"api{INVISIBLE}"})
    payload["alerts"][0]["annotations"] = {"summary": f"{INVISIBLE}down"}
    response = raw_json(alertmanager, "post", f"{V1}monitoring/alertmanager/", payload)
    assert response.status_code == 200, response.content
    alert = Alert.objects.get()
    assert alert.labels["job"] == f"api{INVISIBLE}"
    # The fingerprint is the sender's, exactly: an invisible character makes another alert.
    response = raw_json(alertmanager, "post", f"{V1}monitoring/alertmanager/", am_payload(fingerprint="a1b2c3d4\u200b"))
    assert response.json()["opened"] == 1
    assert Alert.objects.count() == 2


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_samples_push_with_nul_or_surrogate_is_a_400(api, manager, bad):
    created = api.as_(manager).post(f"{V1}metric-sources/", {"name": "P", "kind": "push"}, format="json")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created.data['push_token']}")
    response = raw_json(client, "post", f"{V1}monitoring/samples/", [{"monitor": 1, "value": 1, "at": f"x{bad}"}])
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize(
    "options", [lambda bad: {"seed": 7, "note": f"x{bad}"}, lambda bad: {f"k{bad}": 1}], ids=["value", "key"]
)
def test_source_options_with_nul_or_surrogate_are_a_400(api, manager, bad, options):
    source = MetricSourceFactory()
    before = database_state()
    client = api.as_(manager)
    created = raw_json(
        client, "post", f"{V1}metric-sources/", {"name": "S", "kind": "simulator", "options": options(bad)}
    )
    changed = raw_json(
        client, "patch", f"{V1}metric-sources/{source.pk}/", {"options": options(bad)}, HTTP_IF_MATCH='"1"'
    )
    for response in (created, changed):
        assert response.status_code == 400, response.content
        assert "options" in response.json()
    assert database_state() == before


def test_source_options_with_nul_in_the_admin_are_a_form_error(admin_client):
    source = MetricSourceFactory(name="Sim")
    before = database_state()
    response = admin_client.post(
        f"/admin/monitoring/metricsource/{source.pk}/change/",
        {
            "name": "Sim",
            "kind": "simulator",
            "base_url": "",
            "token": "",
            "options": '{"seed": 7, "note": "a\\u0000b"}',
            "poll_interval_seconds": 60,
            "timeout_seconds": 2,
            "enabled": "on",
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert text.NUL_MESSAGE in response.content.decode()
    assert database_state() == before


@pytest.mark.parametrize("requester", ["²", "٣", "５", "1²", "1\x00", SURROGATE])
def test_requester_in_non_ascii_digits_is_a_400(api, l1, customer, requester):
    before = database_state()
    response = raw_json(api.as_(l1), "post", f"{V1}tickets/", {"title": "Printer", "requester": requester})
    assert response.status_code == 400, response.content
    assert "requester" in response.json()
    assert database_state() == before


@pytest.mark.parametrize("q", ["²", "HD-²", "#٣", "５", "HD-00²"])
def test_ticket_search_with_non_ascii_digits_is_plain_text(api, l1, customer, q):
    ticket = TicketFactory(requester=customer, title=f"Fails after {q}")
    TicketFactory(requester=customer, title="Unrelated")
    response = api.as_(l1).get(f"{V1}tickets/", {"q": q})
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [ticket.pk]


def test_ticket_search_by_number_still_works(api, l1, customer):
    ticket = TicketFactory(requester=customer, title="Printer")
    response = api.as_(l1).get(f"{V1}tickets/", {"q": ticket.number})
    assert [row["id"] for row in response.json()["results"]] == [ticket.pk]


@pytest.mark.parametrize(
    "url", [f"{V1}tickets/?q=a%00b", f"{V1}tickets/?status=open%00", f"{V1}alerts/?x%00=1", "/queue/?q=a%00b"]
)
def test_nul_in_a_query_string_is_a_400(client, api, l1, url):
    client.force_login(l1)
    response = client.get(url)
    assert response.status_code == 400


def test_invisible_characters_in_text_are_kept_as_given(api, customer):
    title = f"{INVISIBLE}Printer \u202eon fire"
    response = raw_json(api.as_(customer), "post", f"{V1}tickets/", {"title": title})
    assert response.status_code == 201, response.content
    assert Ticket.objects.get(pk=response.json()["id"]).title == title


@pytest.mark.parametrize("field", ["title", "description"])
@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_text_fields_with_nul_or_surrogate_are_a_400(api, customer, field, bad):
    body = {"title": "Printer", field: f"x{bad}y"}
    response = raw_json(api.as_(customer), "post", f"{V1}tickets/", body)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("field", ["statuses", "kinds", "notify"])
def test_json_lists_with_nul_in_the_admin_are_a_form_error(admin_client, field):
    """The admin's JSON text may spell NUL as an escape; before, it reached PostgreSQL."""
    rule = EscalationRule.objects.create(name="Rule", trigger="unassigned_for", threshold=10)
    before = database_state()
    data = {
        "name": "Rule",
        "enabled": "on",
        "order": 1,
        "tiers": "[]",
        "priorities": "[]",
        "statuses": "[]",
        "kinds": "[]",
        "applications": "[]",
        "categories": "[]",
        "trigger": "unassigned_for",
        "threshold": 10,
        "escalate_to_tier": "",
        "assign_to": "",
        "notify": "[]",
        "note": "",
        field: '["open\\u0000"]',
    }
    response = admin_client.post(f"/admin/escalation/escalationrule/{rule.pk}/change/", data)
    assert response.status_code == 200
    assert text.NUL_MESSAGE in response.content.decode()
    assert database_state() == before


@pytest.mark.parametrize("header", ['"١"', '"１"', '"¹"'])
def test_if_match_in_non_ascii_digits_names_no_version(api, l2, objects, header):
    """ "١" is a digit to Python's int(); a version is ASCII digits, as every id."""
    ticket = objects["tickets"]
    before = database_state()
    response = raw_json(api.as_(l2), "patch", f"{V1}tickets/{ticket.pk}/", {"title": "New"}, HTTP_IF_MATCH=header)
    assert response.status_code == 412, response.content
    assert database_state() == before
