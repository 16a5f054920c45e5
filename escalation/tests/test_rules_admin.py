"""The admin saves escalation rules through the services: it refuses what the API
refuses, with the same messages, and an edit counts as one version."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse

from escalation.models import EscalationRule, Trigger

pytestmark = pytest.mark.django_db

URL = "/api/v1/escalation-rules/"
ADD = reverse("admin:escalation_escalationrule_add")


def form_data(**overrides) -> dict:
    data = {
        "name": "Overdue in L1",
        "enabled": "on",
        "order": "5",
        "tiers": "[1]",
        "priorities": "[]",
        "statuses": "[]",
        "kinds": "[]",
        "applications": "[]",
        "categories": "[]",
        "trigger": Trigger.RESOLUTION_OVERDUE,
        "threshold": "30",
        "escalate_to_tier": "2",
        "assign_to": "",
        "notify": '["role:manager"]',
        "note": "",
    }
    data.update(overrides)
    return data


def api_body(form: dict) -> dict:
    body = {
        "name": form["name"],
        "tiers": [1],
        "trigger": form["trigger"],
        "threshold": int(form["threshold"]),
        "escalate_to_tier": int(form["escalate_to_tier"]) if form["escalate_to_tier"] else None,
    }
    if form["assign_to"]:
        body["assign_to"] = int(form["assign_to"])
    return body


@pytest.fixture
def two_tiers(settings):
    settings.HELPDESK_TIERS = 2


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("customer_assignee", "assign_to", "Tickets can only be assigned to an active agent."),
        ("tier_beyond_tiers", "escalate_to_tier", "Only tiers 1-2 are in use."),
        ("pct_5000", "threshold", "A percentage between 0 and 1000."),
    ],
)
def test_admin_refuses_what_the_api_refuses_with_the_same_message(
    case, field, message, admin_client, api, manager, customer, two_tiers
):
    overrides = {
        "customer_assignee": {"assign_to": str(customer.pk)},
        "tier_beyond_tiers": {"escalate_to_tier": "3"},
        "pct_5000": {"trigger": Trigger.RESOLUTION_ELAPSED_PCT, "threshold": "5000"},
    }[case]
    data = form_data(**overrides)
    before = EscalationRule.objects.count()

    response = admin_client.post(ADD, data)
    assert response.status_code == 200  # the form again, not a redirect
    assert response.context["adminform"].form.errors[field] == [message]
    assert EscalationRule.objects.count() == before

    refused = api.as_(manager).post(URL, api_body(data), format="json")
    assert refused.status_code == 400 and refused.data[field] == [message]
    assert EscalationRule.objects.count() == before


def test_admin_refuses_an_edit_to_a_tier_beyond_the_tiers_in_use(admin_client, two_tiers):
    rule = EscalationRule.objects.create(name="Idle", trigger=Trigger.IDLE_FOR, threshold=60)
    stored = model_to_dict(rule)
    url = reverse("admin:escalation_escalationrule_change", args=[rule.pk])
    response = admin_client.post(url, form_data(tiers="[1, 3]"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["tiers"] == ["Only tiers 1-2 are in use."]
    assert model_to_dict(EscalationRule.objects.get(pk=rule.pk)) == stored


def test_admin_edit_goes_through_the_service_as_one_edit(admin_client, api, manager):
    rule = EscalationRule.objects.create(name="Idle", trigger=Trigger.IDLE_FOR, threshold=60)
    url = reverse("admin:escalation_escalationrule_change", args=[rule.pk])
    response = admin_client.post(url, form_data(tiers="[2, 1, 2]", notify='["role:manager", "role:manager"]'))
    assert response.status_code == 302, response.context["adminform"].form.errors
    stored = EscalationRule.objects.get(pk=rule.pk)
    # Normalised as the API normalises; one version more, so an API client's old ETag is stale.
    assert (stored.tiers, stored.notify, stored.version) == ([1, 2], ["role:manager"], rule.version + 1)
    stale = api.as_(manager).patch(f"{URL}{rule.pk}/", {"name": "X"}, format="json", HTTP_IF_MATCH=f'"{rule.version}"')
    assert stale.status_code == 412
