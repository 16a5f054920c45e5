"""Failed logins on every way in (page, admin, token endpoint) and the client address
behind trusted proxies (issue 11 items 1 and 2; helpdesk.login_guard, helpdesk.client_address)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from helpdesk.client_address import client_address
from helpdesk.roles import Role
from helpdesk.tasks import purge_login_records
from helpdesk.tests.factories import UserFactory

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "right-password-1"


@pytest.fixture
def agent(db):
    user = UserFactory(role=Role.MANAGER, username="agent7", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def page_login(username: str, password: str, address: str = "10.0.0.1", **extra: str):
    return Client().post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


def admin_login(username: str, password: str, address: str = "10.0.0.1"):
    data = {"username": username, "password": password, "next": "/admin/"}
    return Client().post("/admin/login/", data, REMOTE_ADDR=address)


def token(username: str, password: str, address: str = "10.0.0.1", **extra: str):
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=address, **extra
    )


# --- the client address -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, None, "192.0.2.1"),
        (0, "203.0.113.9", "192.0.2.1"),  # no trusted proxy: the header is the client's word
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # only the hop our proxy appended
        (1, "junk, 6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.1.1.1", "203.0.113.9"),
        (2, "203.0.113.9", "192.0.2.1"),  # shorter than the proxy chain: the peer
        (1, "not-an-address", "192.0.2.1"),
    ],
)
def test_client_address_reads_only_the_trusted_hops(settings, proxies, forwarded, expected):
    settings.HELPDESK_TRUSTED_PROXIES = proxies
    meta = {"REMOTE_ADDR": "192.0.2.1"}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_address(RequestFactory().get("/", **meta)) == expected


def test_client_address_without_a_peer_is_none():
    assert client_address(RequestFactory().get("/", REMOTE_ADDR="")) is None


# --- item 1: spoofing and every way in ------------------------------------------------------------


def test_a_new_forwarded_header_per_request_does_not_reset_the_token_endpoint(agent, settings):
    settings.HELPDESK_TRUSTED_PROXIES = 0
    statuses = [
        token("agent7", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(settings.HELPDESK_LOGIN_MAX_FAILURES)
    ]
    assert statuses == [400] * settings.HELPDESK_LOGIN_MAX_FAILURES
    refused = token("agent7", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.250")  # the right one, too late
    assert refused.status_code == 429
    assert "detail" in refused.json() and int(refused["Retry-After"]) > 0
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.1"}


def test_the_token_rate_counts_per_address_whatever_the_header(agent, settings):
    settings.HELPDESK_TRUSTED_PROXIES = 0
    settings.HELPDESK_LOGIN_MAX_FAILURES_PER_IP = 1000  # the rate, not the failure limit, is under test
    rate = 20  # HELPDESK_AUTH_THROTTLE's default, 20/min
    statuses = [
        token(f"nobody{i}", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(rate + 1)
    ]
    assert statuses == [400] * rate + [429]


def test_behind_one_proxy_only_the_right_most_hop_counts(agent, settings):
    settings.HELPDESK_TRUSTED_PROXIES = 1
    for i in range(settings.HELPDESK_LOGIN_MAX_FAILURES):
        # Every request from the proxy (REMOTE_ADDR) with a new spoofed left-most entry.
        forwarded = f"10.9.9.{i}, 203.0.113.7"
        assert token("agent7", "wrong", address="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).status_code == 400
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}
    spoofed = token("agent7", PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.7")
    assert spoofed.status_code == 429
    # The owner behind the same proxy, from another address: in.
    owner = token("agent7", PASSWORD, address="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.9")
    assert owner.status_code == 200 and owner.json()["token"]


def test_admin_login_is_throttled(agent, settings):
    for _ in range(settings.HELPDESK_LOGIN_MAX_FAILURES):
        assert admin_login("agent7", "wrong").status_code == 200  # the form again, with its error
    refused = admin_login("agent7", PASSWORD)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert admin_login("agent7", PASSWORD, address="10.0.0.2").status_code == 302


def test_page_login_is_429_with_its_message(agent, settings):
    for _ in range(settings.HELPDESK_LOGIN_MAX_FAILURES):
        assert page_login("agent7", "wrong").status_code == 200
    client = Client()
    refused = client.post("/login/", {"username": "agent7", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert refused.status_code == 429
    body = refused.content.decode()
    assert "Too many failed attempts" in body and 'value="agent7"' in body
    assert 0 < int(refused["Retry-After"]) <= settings.HELPDESK_LOGIN_WINDOW_MINUTES * 60
    assert "_auth_user_id" not in client.session


@pytest.fixture
def hashings(monkeypatch) -> list[str]:
    """Every password hash computed (the tests' hasher; production's Argon2 is called the same way)."""
    calls: list[str] = []
    verify, encode = MD5PasswordHasher.verify, MD5PasswordHasher.encode

    def counted_verify(self, password, encoded):
        calls.append("verify")
        return verify(self, password, encoded)

    def counted_encode(self, password, salt):
        calls.append("encode")
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counted_verify)
    monkeypatch.setattr(MD5PasswordHasher, "encode", counted_encode)
    return calls


def test_refused_attempts_hash_no_password_on_any_way_in(agent, settings, hashings):
    for _ in range(settings.HELPDESK_LOGIN_MAX_FAILURES):
        page_login("agent7", "wrong")
    assert hashings, "a checked failure hashes (the count works)"
    hashings.clear()
    answers = [page_login("agent7", f"guess{i}").status_code for i in range(10)]
    answers += [admin_login("agent7", f"guess{i}").status_code for i in range(10)]
    answers += [token("agent7", f"guess{i}").status_code for i in range(10)]
    assert answers == [429] * 30
    assert hashings == []
    # Nor are refused attempts written: the pair's count stays at the limit.
    assert AccessAttempt.objects.get().failures_since_start == settings.HELPDESK_LOGIN_MAX_FAILURES


# --- item 2: nobody locks the owner out -------------------------------------------------------------


def test_a_locked_pair_does_not_stop_the_owner_elsewhere(agent, settings):
    for _ in range(settings.HELPDESK_LOGIN_MAX_FAILURES):
        page_login("agent7", "wrong", address="10.0.0.1")
    assert page_login("agent7", PASSWORD, address="10.0.0.1").status_code == 429
    assert page_login("agent7", PASSWORD, address="10.0.0.2").status_code == 302
    assert token("agent7", PASSWORD, address="10.0.0.3").status_code == 200


def test_one_address_is_429_after_its_limit_for_any_account(agent, settings):
    for i in range(settings.HELPDESK_LOGIN_MAX_FAILURES_PER_IP):
        assert page_login(f"guess{i}", "wrong").status_code == 200
    assert page_login("agent7", PASSWORD).status_code == 429
    assert page_login("agent7", PASSWORD, address="10.0.0.2").status_code == 302


def test_a_successful_login_clears_the_pair_only(agent, settings):
    for i in range(settings.HELPDESK_LOGIN_MAX_FAILURES - 1):
        page_login("agent7", "wrong")
        page_login(f"other{i}", "wrong")
    assert page_login("agent7", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="agent7").exists()
    # The address's failures on other accounts stay counted.
    assert AccessAttempt.objects.filter(ip_address="10.0.0.1").count() == settings.HELPDESK_LOGIN_MAX_FAILURES - 1
    for _ in range(settings.HELPDESK_LOGIN_MAX_FAILURES - 1):
        assert page_login("agent7", "wrong").status_code == 200
    assert page_login("agent7", PASSWORD).status_code == 302


def test_a_token_login_clears_the_pair_and_makes_the_address_known(agent, settings):
    for _ in range(settings.HELPDESK_LOGIN_MAX_FAILURES - 1):
        assert token("agent7", "wrong").status_code == 400
    assert token("agent7", PASSWORD).status_code == 200
    assert not AccessAttempt.objects.filter(username="agent7", ip_address="10.0.0.1").exists()
    assert AccessLog.objects.filter(username="agent7", ip_address="10.0.0.1").count() == 1
    # The pair starts again from zero: four more failures are still checked.
    for _ in range(settings.HELPDESK_LOGIN_MAX_FAILURES - 1):
        assert token("agent7", "wrong").status_code == 400
    assert token("agent7", PASSWORD).status_code == 200


def test_a_distributed_attack_is_slowed_and_the_owner_is_not(agent, settings):
    settings.HELPDESK_LOGIN_ACCOUNT_FREE_FAILURES = 10
    settings.HELPDESK_LOGIN_ACCOUNT_MAX_DELAY_SECONDS = 60
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        # The owner logs in from the office once: a known address for 30 days.
        assert page_login("agent7", PASSWORD, address="10.7.7.7").status_code == 302
        for i in range(10):  # ten bots, one guess each: free
            assert page_login("agent7", "wrong", address=f"198.51.100.{i}").status_code == 200
        # The eleventh waits 1 s after the last failure, the next 2 s, then 4 s ...
        refused = page_login("agent7", "wrong", address="198.51.100.50")
        assert refused.status_code == 429 and refused["Retry-After"] == "1"
        for delay in (1, 2, 4, 8, 16, 32, 60, 60):
            clock.shift(timedelta(seconds=delay - 1))
            assert page_login("agent7", "wrong", address="198.51.100.51").status_code == 429
            clock.shift(timedelta(seconds=1))
            assert page_login("agent7", "wrong", address=f"198.51.101.{delay}").status_code == 200
        # Meanwhile the owner, from the known address, is never made to wait ...
        assert page_login("agent7", PASSWORD, address="10.7.7.7").status_code == 302
        # ... and from a new address waits at most the cap, then gets in.
        assert page_login("agent7", PASSWORD, address="10.8.8.8").status_code == 429
        clock.shift(timedelta(seconds=60))
        assert page_login("agent7", PASSWORD, address="10.8.8.8").status_code == 302


def test_successful_login_records_are_purged_after_the_known_address_horizon(agent, settings):
    settings.HELPDESK_LOGIN_KNOWN_ADDRESS_DAYS = 30
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        assert page_login("agent7", PASSWORD, address="10.7.7.7").status_code == 302
    with time_machine.travel(start + timedelta(days=29), tick=False):
        assert page_login("agent7", PASSWORD, address="10.7.7.8").status_code == 302
    with time_machine.travel(start + timedelta(days=30, seconds=1), tick=False):
        assert purge_login_records.delay().get() == 1
        assert purge_login_records.delay().get() == 0
    assert list(AccessLog.objects.values_list("ip_address", flat=True)) == ["10.7.7.8"]


# --- junk never reaches a 500 -------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"username": "x" * 5000, "password": "p"}),
        '{"username": "a\\ud800b", "password": "p"}',  # a lone surrogate, as JSON spells it
        json.dumps({"username": ["agent7"], "password": "p"}),
        json.dumps(["agent7", "p"]),
    ],
)
def test_token_endpoint_junk_is_a_400(body):
    response = APIClient().post(TOKEN_URL, body, content_type="application/json", REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 400
