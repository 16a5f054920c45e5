"""API tokens (helpdesk.tokens): stored as hashes, expiring, revoked by a password
change or deactivation however it is made, listed and revoked by their owner; and
the users list a manager sees."""

from __future__ import annotations

import importlib
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from helpdesk import tokens
from helpdesk.models import ApiToken
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

V1 = "/api/v1/"
PASSWORD = "pass-Word-123"  # the factories' password
NEW_PASSWORD = "Cobalt-Harbour-81!"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def login(user, **extra) -> dict:
    r = APIClient().post(f"{V1}auth/token/", {"username": user.username, "password": PASSWORD, **extra}, format="json")
    assert r.status_code == 200, r.data
    return r.json()


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def works(key: str) -> bool:
    status = client_with(key).get(f"{V1}users/me/").status_code
    assert status in (200, 401), status
    return status == 200


# --- issue and expiry ------------------------------------------------------------------------


def test_each_login_issues_another_token_that_expires_after_the_ttl(l1):
    with time_machine.travel(NOW, tick=False) as clock:
        first, second = login(l1), login(l1, name="laptop")
        assert first["token"] != second["token"]
        assert datetime.fromisoformat(first["expires_at"]) == NOW + timedelta(hours=720)
        assert works(first["token"]) and works(second["token"])

        clock.move_to(NOW + timedelta(hours=720) - timedelta(seconds=1))
        assert works(first["token"])
        clock.move_to(NOW + timedelta(hours=720))
        r = client_with(first["token"]).get(f"{V1}users/me/")
        assert r.status_code == 401 and r.data == {"detail": "Invalid or expired token."}
        assert r["WWW-Authenticate"] == "Token"
        assert not works(second["token"])


def test_the_ttl_is_a_setting(l1, settings):
    settings.HELPDESK_TOKEN_TTL_HOURS = 2
    with time_machine.travel(NOW, tick=False) as clock:
        key = login(l1)["token"]
        clock.move_to(NOW + timedelta(hours=2))
        assert not works(key)


def test_a_token_name_is_checked(l1):
    for bad in ('"' + "x" * 101 + '"', r'"\ud800"', r'"a\u0000b"', "[]"):
        body = f'{{"username": "{l1.username}", "password": "{PASSWORD}", "name": {bad}}}'
        r = APIClient().post(f"{V1}auth/token/", body, content_type="application/json")
        assert r.status_code == 400 and "name" in r.data, bad
    assert not ApiToken.objects.exists()


def test_the_database_holds_no_key_only_its_hash(l1):
    """The key string appears in no column of any table: only its SHA-256 and first characters."""
    key = login(l1, name="ci")["token"]
    token = ApiToken.objects.get()
    assert token.key_hash == tokens.key_hash(key) and len(token.key_hash) == 64 and key not in token.key_hash
    assert token.prefix == key[:8]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT count(*) FROM {quoted} AS t WHERE t::text LIKE %s", [f"%{key}%"])
                assert cursor.fetchone() == (0,), table
    for row in ApiToken.objects.values():
        assert all(key not in str(value) for value in row.values()), row


# --- revocation by a password change or deactivation ----------------------------------------


def _set_password(user, client) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


def _set_unusable_password(user, client) -> None:
    user.set_unusable_password()
    user.save(update_fields=["password"])


def _admin_password_form(user, client) -> None:
    r = client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert r.status_code == 302, r.content[:500]


def _changepassword_command(user, client) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
        call_command("changepassword", user.username, stdout=io.StringIO())


def _direct_update(user, client) -> None:
    """Not even the model's methods: a password hash written straight into the row."""
    type(user).objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))


@pytest.mark.parametrize(
    "change",
    [_set_password, _set_unusable_password, _admin_password_form, _changepassword_command, _direct_update],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_password_change_revokes_every_token_of_the_user(change, l1, l2, admin_client):
    keys = [login(l1)["token"], login(l1)["token"]]
    bystander = login(l2)["token"]
    assert all(works(key) for key in keys)

    change(l1, admin_client)

    assert not any(works(key) for key in keys)
    assert works(bystander)
    # Revoked tokens are not listed; a login with the new password gets one that works.
    l1.refresh_from_db()
    assert not tokens.api_tokens_of(user=l1).exists()
    if l1.has_usable_password():
        fresh = APIClient().post(f"{V1}auth/token/", {"username": l1.username, "password": NEW_PASSWORD}).data
        assert works(fresh["token"])


def test_rotating_secret_key_with_a_fallback_keeps_tokens(l1, settings):
    key = login(l1)["token"]
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-secret-key-" + "x" * 40, [old]
    assert works(key)
    settings.SECRET_KEY_FALLBACKS = []
    assert not works(key)


def test_deactivation_revokes_tokens_and_reactivation_does_not_revive_them(l1, admin_client):
    key = login(l1)["token"]
    l1.is_active = False
    l1.save()
    assert not works(key)  # whoever deactivated the user: the check is at authentication
    l1.is_active = True
    l1.save()
    assert works(key)

    # The admin, the product's way to deactivate someone, also deletes the rows.
    url = reverse("admin:helpdesk_user_change", args=[l1.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(is_active="", groups=[], user_permissions=[], role=l1.role)
    data.update({"last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    data = {k: v for k, v in data.items() if k not in ("last_login", "date_joined")}
    r = admin_client.post(url, data)
    assert r.status_code == 302, r.context["adminform"].form.errors if r.context else r
    l1.refresh_from_db()
    assert not l1.is_active and not ApiToken.objects.filter(user=l1).exists()
    type(l1).objects.filter(pk=l1.pk).update(is_active=True)
    assert not works(key)


# --- listing and revoking one's own tokens ---------------------------------------------------


def test_users_list_only_their_own_live_tokens(l1, l2, django_assert_max_num_queries):
    with time_machine.travel(NOW, tick=False) as clock:
        own = [login(l1, name=f"device {i}")["token"] for i in range(3)]
        login(l2, name="not yours")
        expired = tokens.api_token_issue(user=l1, name="old", now=NOW - timedelta(hours=721))
        client = client_with(own[1])
        client.get(f"{V1}users/me/")  # last_used_at of own[1]
        clock.shift(timedelta(seconds=30))
        with django_assert_max_num_queries(4):
            r = client.get(f"{V1}auth/tokens/")
    assert r.status_code == 200 and r.data["count"] == 3
    rows = r.data["results"]
    assert [row["name"] for row in rows] == ["device 2", "device 1", "device 0"]
    assert set(rows[0]) == {"id", "name", "prefix", "created_at", "expires_at", "last_used_at", "current"}
    assert [row["current"] for row in rows] == [False, True, False]
    assert [row["prefix"] for row in rows] == [key[:8] for key in reversed(own)]
    assert rows[1]["last_used_at"] == "2026-03-02T12:00:00Z" and rows[0]["last_used_at"] is None
    assert expired.token.pk not in {row["id"] for row in rows}
    body = r.content.decode()
    assert not any(key in body for key in own)
    assert all(t.key_hash not in body and t.password_mac not in body for t in ApiToken.objects.all())


def test_token_list_queries_do_not_grow(l1, django_assert_max_num_queries):
    key = login(l1)["token"]
    for _ in range(30):
        tokens.api_token_issue(user=l1)
    with django_assert_max_num_queries(4):
        assert client_with(key).get(f"{V1}auth/tokens/", {"page_size": 50}).data["count"] == 31


def test_a_user_revokes_one_token_at_once(l1):
    keep, drop = login(l1)["token"], login(l1)["token"]
    client = client_with(keep)
    drop_id = ApiToken.objects.get(key_hash=tokens.key_hash(drop)).pk
    assert client.delete(f"{V1}auth/tokens/{drop_id}/").status_code == 204
    assert not works(drop) and works(keep)
    assert client.delete(f"{V1}auth/tokens/{drop_id}/").status_code == 404


def test_another_users_token_is_a_404_and_keeps_working(l1, manager, admin_user):
    victim = login(l1)["token"]
    victim_id = ApiToken.objects.get(key_hash=tokens.key_hash(victim)).pk
    for attacker in (manager, admin_user):
        r = client_with(login(attacker)["token"]).delete(f"{V1}auth/tokens/{victim_id}/")
        assert r.status_code == 404 and r.data == {"detail": "Not found."}
    # Missing ids (also past the database's bigint) answer the same.
    r = client_with(victim).delete(f"{V1}auth/tokens/{victim_id + 1000}/")
    assert r.status_code == 404 and r.data == {"detail": "Not found."}
    assert client_with(victim).delete(f"{V1}auth/tokens/{2**64}/").status_code == 404
    assert works(victim)


def test_logout_revokes_the_token_it_is_called_with_only(customer):
    current, other = login(customer)["token"], login(customer)["token"]
    assert client_with(current).post(f"{V1}auth/logout/").status_code == 204
    assert not works(current) and works(other)
    assert client_with(current).post(f"{V1}auth/logout/").status_code == 401


def test_logout_with_a_session_ends_the_session(customer):
    client = APIClient()
    client.force_login(customer)
    assert client.get(f"{V1}users/me/").status_code == 200
    assert client.post(f"{V1}auth/logout/").status_code == 204
    assert client.get(f"{V1}users/me/").status_code in (401, 403)


def test_last_used_is_written_at_most_once_a_minute(l1):
    key = login(l1)["token"]
    with time_machine.travel(NOW, tick=False) as clock:

        def updates() -> int:
            with CaptureQueriesContext(connection) as queries:
                assert works(key)
            return sum('UPDATE "helpdesk_apitoken"' in q["sql"] for q in queries.captured_queries)

        assert updates() == 1
        clock.shift(timedelta(seconds=59))
        assert updates() == 0
        clock.shift(timedelta(seconds=1))
        assert updates() == 1
    assert ApiToken.objects.get().last_used_at == NOW + timedelta(minutes=1)


def test_expired_tokens_are_purged(l1):
    live = tokens.api_token_issue(user=l1).token
    tokens.api_token_issue(user=l1, now=NOW - timedelta(hours=720))
    from helpdesk.tasks import purge_api_tokens

    assert purge_api_tokens.delay().get() == 1
    assert list(ApiToken.objects.all()) == [live]


# --- the migration from DRF's authtoken ------------------------------------------------------


def test_migration_moves_authtoken_keys_hashed_and_drops_the_plain_table(l1):
    legacy_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone NOT NULL,"
            " user_id bigint NOT NULL UNIQUE)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [legacy_key, NOW, l1.pk])
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', '0001_initial', %s)", [NOW])
    migration = importlib.import_module("helpdesk.migrations.0005_api_tokens")
    from django.apps import apps

    with connection.schema_editor() as editor:
        migration.move_authtoken_keys(apps, editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)
    token = ApiToken.objects.get()
    assert token.user == l1 and token.key_hash == tokens.key_hash(legacy_key) and token.created_at == NOW
    assert works(legacy_key)  # clients keep working, now until the expiry
    assert token.expires_at > datetime.now(UTC) + timedelta(hours=719)
    l1.set_password(NEW_PASSWORD)
    l1.save()
    assert not works(legacy_key)


# --- Cache-Control ---------------------------------------------------------------------------


def _no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


def test_authenticated_pages_and_api_answers_are_not_stored(client, l1, customer):
    client.force_login(l1)
    assert client.get("/queue/").status_code == 200
    assert _no_store(client.get("/queue/"))
    assert _no_store(client.get(f"{V1}tickets/"))  # session
    key = login(customer)["token"]
    r = client_with(key).get(f"{V1}tickets/")
    assert r.status_code == 200 and _no_store(r)  # API token
    r = client_with(key).get(f"{V1}tickets/999999/")  # an error answer too
    assert r.status_code == 404 and _no_store(r)


def test_the_token_answer_is_not_stored(l1):
    r = APIClient().post(f"{V1}auth/token/", {"username": l1.username, "password": PASSWORD}, format="json")
    assert r.status_code == 200 and _no_store(r)


def test_static_files_keep_their_caching(client, l1, settings, django_assert_num_queries):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client.force_login(l1)
    r = client.get(f"/{settings.STATIC_URL.strip('/')}/favicon.svg")
    assert r.status_code == 200
    assert "no-store" not in r.get("Cache-Control", "")
    assert not _no_store(Client().get("/healthz"))  # no credentials: nothing personal to protect
    # Decided from the request: no session read for a view that never reads it (a database
    # outage must stay /readyz's 503, not become a 500 here).
    with django_assert_num_queries(0):
        assert _no_store(client.get("/healthz"))


# --- who a manager sees in the users list ----------------------------------------------------


def test_a_manager_lists_the_users_they_manage_not_admins_or_other_managers(
    api, manager, admin_user, customer, l1, l2, l3, django_assert_max_num_queries
):
    other_manager = UserFactory(role=Role.MANAGER, is_staff=True)
    with django_assert_max_num_queries(4):
        r = api.as_(manager).get(f"{V1}users/", {"page_size": 200})
    seen = {row["id"] for row in r.data["results"]}
    assert seen == {manager.pk, customer.pk, l1.pk, l2.pk, l3.pk}
    assert admin_user.pk not in seen and other_manager.pk not in seen
    assert api.as_(manager).get(f"{V1}users/", {"role": "admin"}).data["count"] == 0
    assert api.as_(manager).get(f"{V1}users/", {"q": admin_user.username}).data["count"] == 0
    everyone = {row["id"] for row in api.as_(admin_user).get(f"{V1}users/", {"page_size": 200}).data["results"]}
    assert everyone == seen | {admin_user.pk, other_manager.pk}
