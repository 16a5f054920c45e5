"""Auth, users, priority matrix, categories, applications and the API docs (docs/API.md "Authentication", "Configuration endpoints")."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from catalog.models import Application
from catalog.tests.factories import ApplicationFactory
from helpdesk.models import User
from helpdesk.roles import Role
from tickets.models import DEFAULT_MATRIX, Category, PriorityMatrixCell, Status, Ticket, TicketEvent
from tickets.tests.factories import CategoryFactory, TicketFactory, if_match

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
PASSWORD = "pass-Word-123"  # the factories' password
STRONG = "Cobalt-Harbour-81!"
ROLE_FIXTURES = ["customer", "l1", "l2", "l3", "manager", "admin_user"]
TIER_OF = {"customer": None, "l1": 1, "l2": 2, "l3": 3, "manager": 3, "admin_user": 3}


def matrix_cells(overrides: dict | None = None) -> list[dict]:
    cells = dict(DEFAULT_MATRIX)
    cells.update(overrides or {})
    return [{"impact": i, "urgency": u, "priority": p} for (i, u), p in cells.items()]


def stored_matrix() -> dict:
    return {(i, u): p for i, u, p in PriorityMatrixCell.objects.values_list("impact", "urgency", "priority")}


# --- auth/token -----------------------------------------------------------------------


def test_token_for_good_credentials_is_usable(customer):
    client = APIClient()
    r = client.post(f"{V1}auth/token/", {"username": customer.username, "password": PASSWORD}, format="json")
    assert r.status_code == 200, r.data
    assert set(r.data) == {"token", "expires_at"} and len(r.data["token"]) >= 40
    client.credentials(HTTP_AUTHORIZATION=f"Token {r.data['token']}")
    me = client.get(f"{V1}users/me/")
    assert me.status_code == 200 and me.data["id"] == customer.pk
    own = TicketFactory(requester=customer)
    assert client.get(f"{V1}tickets/").data["count"] == 1
    assert client.get(f"{V1}tickets/{own.pk}/").status_code == 200
    # Each login issues another key (one per device); the first one keeps working.
    again = APIClient().post(f"{V1}auth/token/", {"username": customer.username, "password": PASSWORD}, format="json")
    assert again.status_code == 200 and again.data["token"] != r.data["token"]
    assert client.get(f"{V1}users/me/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody", "password": PASSWORD},
        {"username": "{user}", "password": "wrong"},
        {"username": "{user}"},
        {"password": PASSWORD},
        {},
    ],
)
def test_token_bad_credentials_is_400(l1, body):
    body = {k: v.format(user=l1.username) for k, v in body.items()}
    r = APIClient().post(f"{V1}auth/token/", body, format="json")
    assert r.status_code == 400
    assert "token" not in r.data


def test_token_refused_for_inactive_user(l1):
    l1.is_active = False
    l1.save()
    r = APIClient().post(f"{V1}auth/token/", {"username": l1.username, "password": PASSWORD}, format="json")
    assert r.status_code == 400


@pytest.mark.parametrize("header", ["Token not-a-real-key", "Token ", "Bearer abc", "Token a b"])
def test_bad_token_header_is_401(header, l1):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(f"{V1}users/me/").status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "users/"),
        ("post", "users/"),
        ("get", "users/me/"),
        ("get", "priority-matrix/"),
        ("put", "priority-matrix/"),
        ("get", "categories/"),
        ("post", "categories/"),
        ("get", "applications/"),
        ("post", "applications/"),
    ],
)
def test_anonymous_401(api, method, path):
    r = getattr(api.as_(None), method)(V1 + path, {}, format="json")
    assert r.status_code == 401


# --- users -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_admin_creates_any_role(api, admin_user, role):
    body = {"username": f"new-{role}", "email": f"{role}@example.org", "role": role, "password": STRONG}
    r = api.as_(admin_user).post(f"{V1}users/", body, format="json")
    assert r.status_code == 201, r.data
    assert "password" not in r.data
    assert r.data["role"] == role
    assert r.data["tier"] == {"customer": None, "l1": 1, "l2": 2, "l3": 3, "manager": 3, "admin": 3}[role]
    user = User.objects.get(username=f"new-{role}")
    assert user.role == role and user.check_password(STRONG)
    assert user.is_staff == (role in ("manager", "admin")) and user.is_superuser == (role == "admin")


@pytest.mark.parametrize("role", ["customer", "l1", "l2", "l3"])
def test_manager_creates_customers_and_agents(api, manager, role):
    r = api.as_(manager).post(f"{V1}users/", {"username": "u1", "role": role, "password": STRONG}, format="json")
    assert r.status_code == 201, r.data
    assert User.objects.get(username="u1").role == role


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_manager_cannot_create_managers_or_admins(api, manager, role):
    users = User.objects.count()
    r = api.as_(manager).post(f"{V1}users/", {"username": "boss", "role": role, "password": STRONG}, format="json")
    assert r.status_code == 403
    assert User.objects.count() == users


@pytest.mark.parametrize("who", ["customer", "l1", "l2", "l3"])
def test_non_managers_cannot_list_or_create_users(api, request, who):
    user = request.getfixturevalue(who)
    users = User.objects.count()
    assert api.as_(user).get(f"{V1}users/").status_code == 403
    r = api.as_(user).post(f"{V1}users/", {"username": "x", "role": "customer", "password": STRONG}, format="json")
    assert r.status_code == 403
    assert User.objects.count() == users


def test_user_without_password_cannot_log_in(api, manager):
    r = api.as_(manager).post(f"{V1}users/", {"username": "nopass", "role": "customer"}, format="json")
    assert r.status_code == 201
    assert not User.objects.get(username="nopass").has_usable_password()


def test_password_never_appears_in_responses(api, admin_user, manager, l1):
    r = api.as_(admin_user).post(f"{V1}users/", {"username": "pw", "role": "l1", "password": STRONG}, format="json")
    assert r.status_code == 201
    responses = [
        r,
        api.as_(admin_user).get(f"{V1}users/"),
        api.as_(manager).get(f"{V1}users/", {"q": "pw"}),
        api.as_(l1).get(f"{V1}users/me/"),
    ]
    for resp in responses:
        assert resp.status_code in (200, 201)
        body = resp.content.decode()
        assert "password" not in body and STRONG not in body and "pbkdf2" not in body and "md5$" not in body
    rows = responses[1].data["results"]
    assert {row["username"] for row in rows} >= {"pw", admin_user.username, manager.username, l1.username}
    assert all(set(row) == {"id", "username", "email", "first_name", "last_name", "role", "tier", "is_active"} for row in rows)


@pytest.mark.parametrize("password", ["123", "password", "12345678901", "short1!"])
def test_weak_password_is_400(api, admin_user, password):
    r = api.as_(admin_user).post(f"{V1}users/", {"username": "weak", "role": "l1", "password": password}, format="json")
    assert r.status_code == 400 and "password" in r.data
    assert not User.objects.filter(username="weak").exists()


def test_password_like_the_username_is_400(api, admin_user):
    body = {"username": "gerald.fitzwilliam", "role": "l1", "password": "gerald.fitzwilliam1"}
    r = api.as_(admin_user).post(f"{V1}users/", body, format="json")
    assert r.status_code == 400 and "password" in r.data


def test_duplicate_username_and_bad_role_are_400(api, admin_user, l1):
    users = User.objects.count()
    r = api.as_(admin_user).post(f"{V1}users/", {"username": l1.username, "password": STRONG}, format="json")
    assert r.status_code == 400 and "username" in r.data
    r = api.as_(admin_user).post(f"{V1}users/", {"username": "root", "role": "root", "password": STRONG}, format="json")
    assert r.status_code == 400 and "role" in r.data
    assert User.objects.count() == users


def test_users_list_filters(api, manager, l1, l2, customer):
    r = api.as_(manager).get(f"{V1}users/", {"role": "l1,l2"})
    assert r.status_code == 200
    assert {row["id"] for row in r.data["results"]} == {l1.pk, l2.pk}
    r = api.as_(manager).get(f"{V1}users/", {"q": customer.username})
    assert [row["id"] for row in r.data["results"]] == [customer.pk]


@pytest.mark.parametrize("role", ROLE_FIXTURES)
def test_me_shows_role_and_tier(api, request, role):
    user = request.getfixturevalue(role)
    r = api.as_(user).get(f"{V1}users/me/")
    assert r.status_code == 200
    assert r.data["id"] == user.pk and r.data["username"] == user.username
    assert r.data["role"] == user.role
    assert r.data["tier"] == TIER_OF[role]
    assert "password" not in r.data


def test_me_is_read_only(api, l1):
    assert api.as_(l1).patch(f"{V1}users/me/", {"role": "admin"}, format="json").status_code == 405
    assert api.as_(l1).post(f"{V1}users/me/", {"role": "admin"}, format="json").status_code == 405
    l1.refresh_from_db()
    assert l1.role == Role.L1


# --- priority matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "manager", "admin_user"])
def test_matrix_get_shape(api, request, role):
    r = api.as_(request.getfixturevalue(role)).get(f"{V1}priority-matrix/")
    assert r.status_code == 200
    assert set(r.data) == {"cells"} and len(r.data["cells"]) == 9
    assert all(set(c) == {"impact", "urgency", "priority"} for c in r.data["cells"])
    got = {(c["impact"], c["urgency"]): c["priority"] for c in r.data["cells"]}
    assert got == DEFAULT_MATRIX
    assert got[("high", "high")] == 1 and got[("low", "low")] == 5


def test_customer_cannot_read_the_matrix(api, customer):
    assert api.as_(customer).get(f"{V1}priority-matrix/").status_code == 403


def test_manager_put_reprioritises_open_tickets(api, manager, django_capture_on_commit_callbacks):
    open_t = TicketFactory(status=Status.OPEN, impact="medium", urgency="medium", priority=3)
    new_t = TicketFactory(status=Status.NEW, impact="medium", urgency="medium", priority=3)
    other_cell = TicketFactory(status=Status.OPEN, impact="high", urgency="high", priority=1)
    resolved = TicketFactory(status=Status.RESOLVED, impact="medium", urgency="medium", priority=3)
    closed = TicketFactory(status=Status.CLOSED, impact="medium", urgency="medium", priority=3)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = api.as_(manager).put(
            f"{V1}priority-matrix/", {"cells": matrix_cells({("medium", "medium"): 1})}, format="json"
        )
    assert r.status_code == 200, r.data
    assert len(callbacks) == 1
    got = {(c["impact"], c["urgency"]): c["priority"] for c in r.data["cells"]}
    assert got[("medium", "medium")] == 1 and len(got) == 9

    for t in (open_t, new_t):
        t.refresh_from_db()
        assert t.priority == 1 and t.version == 2
        event = TicketEvent.objects.get(ticket=t, kind="priority_changed")
        assert event.data["before"] == {"priority": 3} and event.data["after"] == {"priority": 1}
        assert event.actor_id == manager.pk
    for t, priority in ((other_cell, 1), (resolved, 3), (closed, 3)):
        t.refresh_from_db()
        assert t.priority == priority and t.version == 1
    assert not TicketEvent.objects.filter(ticket__in=[other_cell, resolved, closed]).exists()

    # Reads and new tickets follow the stored matrix.
    reread = api.as_(manager).get(f"{V1}priority-matrix/").data["cells"]
    assert {(c["impact"], c["urgency"]): c["priority"] for c in reread}[("medium", "medium")] == 1
    r = api.as_(manager).post(f"{V1}tickets/", {"title": "x", "requester_email": "a@b.org"}, format="json")
    assert r.status_code == 201 and r.data["priority"] == 1 and r.data["priority_label"] == "critical"


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "customer"])
def test_non_managers_cannot_put_the_matrix(api, request, role):
    t = TicketFactory(status=Status.OPEN)
    before = stored_matrix()
    r = api.as_(request.getfixturevalue(role)).put(
        f"{V1}priority-matrix/", {"cells": matrix_cells({("medium", "medium"): 5})}, format="json"
    )
    assert r.status_code == 403
    assert stored_matrix() == before
    t.refresh_from_db()
    assert t.priority == 3 and t.version == 1


def _dup_cells() -> list[dict]:
    cells = matrix_cells()
    cells[8] = dict(cells[0])  # high/high twice, low/low missing
    return cells


@pytest.mark.parametrize(
    "body",
    [
        {"cells": matrix_cells()[:8]},
        {"cells": [*matrix_cells(), {"impact": "high", "urgency": "high", "priority": 1}]},
        {"cells": _dup_cells()},
        {"cells": matrix_cells({("low", "low"): 6})},
        {"cells": matrix_cells({("low", "low"): 0})},
        {"cells": [{**c, "impact": "extreme"} if i == 0 else c for i, c in enumerate(matrix_cells())]},
        {"cells": []},
        {"cells": "all of them"},
        {},
    ],
)
def test_bad_matrix_is_400_and_changes_nothing(api, manager, body, django_capture_on_commit_callbacks):
    # The migration seeds the cells, but a transactional test elsewhere may have flushed them.
    PriorityMatrixCell.objects.update_or_create(impact="medium", urgency="medium", defaults={"priority": 2})
    before = stored_matrix()
    t = TicketFactory(status=Status.OPEN, priority=2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = api.as_(manager).put(f"{V1}priority-matrix/", body, format="json")
    assert r.status_code == 400, r.data
    assert "cells" in r.data
    assert callbacks == []
    assert stored_matrix() == before and before[("medium", "medium")] == 2
    t.refresh_from_db()
    assert t.priority == 2 and t.version == 1


# --- categories -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "manager", "admin_user"])
def test_agents_read_categories(api, request, role):
    c = CategoryFactory(name="Password reset", scope_tier=1)
    r = api.as_(request.getfixturevalue(role)).get(f"{V1}categories/")
    assert r.status_code == 200
    assert r.data["results"] == [
        {"id": c.pk, "name": "Password reset", "description": "", "scope_tier": 1, "is_active": True, "version": 1}
    ]
    assert api.as_(request.getfixturevalue(role)).get(f"{V1}categories/{c.pk}/").status_code == 200


def test_customers_cannot_read_categories(api, customer):
    c = CategoryFactory()
    assert api.as_(customer).get(f"{V1}categories/").status_code == 403
    assert api.as_(customer).get(f"{V1}categories/{c.pk}/").status_code == 403


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "customer"])
def test_non_managers_cannot_write_categories(api, request, role):
    user = request.getfixturevalue(role)
    c = CategoryFactory(name="Keep")
    assert api.as_(user).post(f"{V1}categories/", {"name": "New"}, format="json").status_code == 403
    assert api.as_(user).patch(f"{V1}categories/{c.pk}/", {"name": "Changed"}, format="json").status_code == 403
    assert api.as_(user).delete(f"{V1}categories/{c.pk}/").status_code == 403
    assert list(Category.objects.values_list("name", flat=True)) == ["Keep"]


@pytest.mark.parametrize("role", ["manager", "admin_user"])
def test_managers_write_categories(api, request, role):
    user = request.getfixturevalue(role)
    r = api.as_(user).post(f"{V1}categories/", {"name": "Minor code fix", "scope_tier": 2}, format="json")
    assert r.status_code == 201, r.data
    assert r.data == {"id": r.data["id"], "name": "Minor code fix", "description": "", "scope_tier": 2, "is_active": True, "version": 1}
    cid = r.data["id"]
    r = api.as_(user).patch(f"{V1}categories/{cid}/", {"scope_tier": 3, "is_active": False}, format="json", **if_match(cid, Category))
    assert r.status_code == 200 and r.data["scope_tier"] == 3 and r.data["is_active"] is False
    r = api.as_(user).put(f"{V1}categories/{cid}/", {"name": "Renamed", "scope_tier": 1}, format="json", **if_match(cid, Category))
    assert r.status_code == 200 and r.data["name"] == "Renamed"
    assert api.as_(user).delete(f"{V1}categories/{cid}/").status_code == 204
    assert not Category.objects.filter(pk=cid).exists()


@pytest.mark.parametrize("body", [{"name": "Dup"}, {"name": "x", "scope_tier": 4}, {"name": "x", "scope_tier": 0}, {}])
def test_invalid_categories_are_400(api, manager, body):
    CategoryFactory(name="Dup")
    assert api.as_(manager).post(f"{V1}categories/", body, format="json").status_code == 400
    assert Category.objects.count() == 1


def test_deleting_a_used_category_is_409(api, manager):
    c = CategoryFactory()
    t = TicketFactory(category=c)
    r = api.as_(manager).delete(f"{V1}categories/{c.pk}/")
    assert r.status_code == 409 and "detail" in r.data
    assert Category.objects.filter(pk=c.pk).exists()
    assert Ticket.objects.get(pk=t.pk).category_id == c.pk


def test_category_filters(api, l1):
    a = CategoryFactory(scope_tier=1)
    b = CategoryFactory(scope_tier=3, is_active=False)
    assert [row["id"] for row in api.as_(l1).get(f"{V1}categories/", {"scope_tier": 3}).data["results"]] == [b.pk]
    assert [row["id"] for row in api.as_(l1).get(f"{V1}categories/", {"is_active": "true"}).data["results"]] == [a.pk]


# --- applications ------------------------------------------------------------------------------------

APP_FIELDS = {"id", "name", "slug", "environment", "criticality", "owner_tier", "version"}


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "manager", "admin_user"])
def test_agents_read_applications(api, request, role):
    app = ApplicationFactory()
    r = api.as_(request.getfixturevalue(role)).get(f"{V1}applications/")
    assert r.status_code == 200
    assert [row["id"] for row in r.data["results"]] == [app.pk]
    assert set(r.data["results"][0]) == APP_FIELDS


def test_customers_cannot_read_applications(api, customer):
    app = ApplicationFactory()
    assert api.as_(customer).get(f"{V1}applications/").status_code == 403
    assert api.as_(customer).get(f"{V1}applications/{app.pk}/").status_code == 403


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "customer"])
def test_non_managers_cannot_write_applications(api, request, role):
    user = request.getfixturevalue(role)
    app = ApplicationFactory(name="Keep")
    assert api.as_(user).post(f"{V1}applications/", {"name": "New"}, format="json").status_code == 403
    assert api.as_(user).patch(f"{V1}applications/{app.pk}/", {"name": "x"}, format="json").status_code == 403
    assert api.as_(user).delete(f"{V1}applications/{app.pk}/").status_code == 403
    assert list(Application.objects.values_list("name", flat=True)) == ["Keep"]


def test_manager_creates_application_with_generated_slug(api, manager):
    r = api.as_(manager).post(f"{V1}applications/", {"name": "Billing API"}, format="json")
    assert r.status_code == 201, r.data
    assert set(r.data) == APP_FIELDS
    assert r.data["slug"] == "billing-api-production"
    assert (r.data["environment"], r.data["criticality"], r.data["owner_tier"]) == ("production", "medium", 2)
    r = api.as_(manager).post(
        f"{V1}applications/", {"name": "Billing API", "environment": "Staging", "criticality": "high", "owner_tier": 1},
        format="json",
    )
    assert r.status_code == 201 and r.data["slug"] == "billing-api-staging" and r.data["owner_tier"] == 1
    # Same generated slug again: 400, not a 500 or a silent duplicate.
    r = api.as_(manager).post(f"{V1}applications/", {"name": "Billing API"}, format="json")
    assert r.status_code == 400 and "slug" in r.data
    r = api.as_(manager).post(f"{V1}applications/", {"name": "Billing API", "slug": "billing-2"}, format="json")
    assert r.status_code == 201 and r.data["slug"] == "billing-2"
    assert Application.objects.count() == 3


def test_manager_updates_and_deletes_applications(api, manager):
    app = ApplicationFactory(slug="keep-me")
    r = api.as_(manager).patch(f"{V1}applications/{app.pk}/", {"name": "Renamed", "owner_tier": 3}, format="json", **if_match(app))
    assert r.status_code == 200 and r.data["name"] == "Renamed" and r.data["slug"] == "keep-me"
    assert r.data["owner_tier"] == 3
    assert api.as_(manager).delete(f"{V1}applications/{app.pk}/").status_code == 204
    assert not Application.objects.exists()


def test_deleting_an_application_used_by_a_ticket_is_409(api, manager):
    app = ApplicationFactory()
    TicketFactory(application=app)
    assert api.as_(manager).delete(f"{V1}applications/{app.pk}/").status_code == 409
    assert Application.objects.filter(pk=app.pk).exists()


@pytest.mark.parametrize("body", [{"name": "x", "owner_tier": 4}, {"name": "x", "criticality": "extreme"}, {}])
def test_invalid_applications_are_400(api, manager, body):
    assert api.as_(manager).post(f"{V1}applications/", body, format="json").status_code == 400
    assert not Application.objects.exists()


# --- schema and docs ------------------------------------------------------------------------------------


def test_schema_is_served(api):
    r = api.as_(None).get("/api/schema/")
    assert r.status_code == 200
    body = r.content.decode()
    for path in ("/api/v1/tickets/", "/api/v1/tickets/{id}/claim/", "/api/v1/priority-matrix/", "/api/v1/users/me/"):
        assert path in body


def test_docs_are_served_without_any_external_host(api, settings):
    r = api.as_(None).get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger" in html.lower()
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), "docs reference an external host"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script: the CSP would block it"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        if asset == "/api/docs/?script=":  # the page's own start-up script, served apart for the CSP
            script = api.get(asset)
            assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
            assert not re.search(r"(?i)https?://[a-z0-9.-]+\.[a-z]{2,}", script.content.decode())
            continue
        assert asset.startswith(settings.STATIC_URL) or asset.startswith("/" + settings.STATIC_URL.lstrip("/")), asset
        relative = asset.split(settings.STATIC_URL.lstrip("/"), 1)[1]
        assert finders.find(relative), f"{asset} is not shipped"


# --- needs_escalation ------------------------------------------------------------------------------------


def test_needs_escalation_when_category_scope_is_above_the_tier(api, l1, l2, manager, customer):
    deep = CategoryFactory(scope_tier=2)
    shallow = CategoryFactory(scope_tier=1)
    r = api.as_(l1).post(f"{V1}tickets/", {"title": "x", "requester": customer.pk, "category": deep.pk}, format="json")
    assert r.status_code == 201 and r.data["needs_escalation"] is True
    tid = r.data["id"]
    listed = api.as_(l1).get(f"{V1}tickets/").data["results"][0]
    assert listed["id"] == tid and listed["needs_escalation"] is True
    r = api.as_(l1).patch(f"{V1}tickets/{tid}/", {"category": shallow.pk}, format="json", **if_match(tid))
    assert r.status_code == 200 and r.data["needs_escalation"] is False
    r = api.as_(l1).patch(f"{V1}tickets/{tid}/", {"category": deep.pk}, format="json", **if_match(tid))
    assert r.data["needs_escalation"] is True
    r = api.as_(l1).post(f"{V1}tickets/{tid}/escalate/", {"to_tier": 2, "reason": "scope"}, format="json")
    assert r.status_code == 200 and r.data["needs_escalation"] is False
    r = api.as_(l1).patch(f"{V1}tickets/{tid}/", {"category": None}, format="json", **if_match(tid))
    assert r.status_code == 403  # L1 no longer works this tier-2 ticket
    r = api.as_(l2).patch(f"{V1}tickets/{tid}/", {"category": None}, format="json", **if_match(tid))
    assert r.status_code == 200 and r.data["needs_escalation"] is False
    top = CategoryFactory(scope_tier=3)
    r = api.as_(manager).patch(f"{V1}tickets/{tid}/", {"category": top.pk}, format="json", **if_match(tid))
    assert r.data["needs_escalation"] is True
    # A category change by a manager moves the ticket flag, not its tier.
    assert r.data["tier"] == 2
