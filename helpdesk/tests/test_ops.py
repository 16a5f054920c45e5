"""Operations endpoints (docs/API.md "Operations endpoints": /healthz, /readyz, /metrics) and the first
admin from `createsuperuser --noinput` (docs/API.md "Authentication")."""

from __future__ import annotations

import io
import random
import string
import time

import pytest
from django.core.management import call_command
from django.db import connections
from prometheus_client.parser import text_string_to_metric_families

from helpdesk import ops
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.testing.brokers import CLOSED_BROKER_URL, celery_broker
from helpdesk.tests.factories import UserFactory
from tickets.models import Status
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


# --- /healthz ---------------------------------------------------------------------


def test_healthz_answers_anonymous_get(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.post("/healthz").status_code == 405


# --- /readyz ---------------------------------------------------------------------------


def test_readyz_ok_with_database_and_redis_broker(client, redis_url):
    with celery_broker(redis_url):
        response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}, "failing": []}


def test_readyz_names_the_broker_when_it_is_unreachable(client):
    started = time.monotonic()
    with celery_broker(CLOSED_BROKER_URL):
        response = client.get("/readyz")
    assert time.monotonic() - started < 10, "readiness must not hang on a dead broker"
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["broker"]
    assert body["checks"] == {"database": "ok", "broker": "failing"}
    # Nothing of the broker's error (its URL, the connection refused) reaches the caller.
    assert set(body) == {"status", "checks", "failing"}
    assert "refused" not in response.content.decode().lower() and "redis" not in response.content.decode().lower()


def test_readyz_names_the_database_when_it_is_unreachable(client, monkeypatch, tmp_path, caplog):
    """A real connection attempt to a database that is not there (closed port,
    or for SQLite a file in a missing directory). Anonymous callers learn which
    part fails, never the driver's text (host, port, user, database name): that
    goes to the log."""
    default = connections["default"]
    broken = {**default.settings_dict}
    if default.vendor == "sqlite":
        broken["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    else:
        broken.update(HOST="127.0.0.1", PORT="1", OPTIONS={**broken.get("OPTIONS", {}), "connect_timeout": 2})
    unreachable = type(default)(broken, alias="unreachable")
    monkeypatch.setattr(ops, "connection", unreachable)
    monkeypatch.setattr(ops, "check_broker", lambda: None)  # only the database is under test
    try:
        response = client.get("/readyz")
    finally:
        unreachable.close()
    assert response.status_code == 503
    body = response.json()
    assert body == {"status": "unavailable", "checks": {"database": "failing", "broker": "ok"}, "failing": ["database"]}
    text = response.content.decode()
    for leak in ("OperationalError", "127.0.0.1", "port", "sqlite3", "connection"):
        assert leak not in text
    [record] = [r for r in caplog.records if r.name == "helpdesk.ops"]
    assert record.levelname == "WARNING" and "database" in record.getMessage()
    assert "OperationalError" in record.getMessage()  # the operator still has the cause


def test_readyz_reports_both_failures(client, monkeypatch):
    monkeypatch.setattr(ops, "check_database", lambda: "OperationalError: down")
    with celery_broker(CLOSED_BROKER_URL):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker", "database"]


# --- /metrics ---------------------------------------------------------------------------


def scrape(client) -> tuple[str, dict[str, dict[tuple, float]]]:
    """The exposition text and {sample name: {sorted label items: value}}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return response["Content-Type"], samples


def test_metrics_is_prometheus_text_with_ticket_gauges_and_request_counter(client):
    requester = UserFactory(role=Role.CUSTOMER)
    agent = UserFactory(role=Role.L1)
    for _ in range(2):
        TicketFactory(requester=requester, tier=1, priority=1)
    TicketFactory(requester=requester, tier=1, priority=2, assignee=agent, status=Status.OPEN)
    TicketFactory(requester=requester, tier=2, priority=3, status=Status.PENDING)
    TicketFactory(requester=requester, tier=2, priority=3, status=Status.RESOLVED)  # not open
    TicketFactory(requester=requester, tier=3, priority=5, status=Status.CLOSED)  # not open

    content_type, before = scrape(client)
    assert content_type.startswith("text/plain; version=0.0.4"), content_type

    open_by_label = {
        dict(labels)["tier"] + "/" + dict(labels)["priority"]: v
        for labels, v in before["helpdesk_tickets_open"].items()
    }
    assert open_by_label == {"1/1": 2, "1/2": 1, "2/3": 1}
    unassigned = {dict(labels)["tier"]: v for labels, v in before["helpdesk_queue_unassigned"].items()}
    assert unassigned == {"1": 2, "2": 1}

    key = (("method", "GET"), ("status", "200"), ("view", "healthz"))
    count_before = before.get("helpdesk_http_requests_total", {}).get(key, 0)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    _, after = scrape(client)
    assert after["helpdesk_http_requests_total"][key] == count_before + 3
    # The first scrape itself was counted, under its route name.
    assert after["helpdesk_http_requests_total"][(("method", "GET"), ("status", "200"), ("view", "metrics"))] >= 1
    assert after["helpdesk_http_request_duration_seconds_count"][(("method", "GET"), ("view", "healthz"))] >= 3


def test_metrics_counts_unmatched_urls_without_the_path(client):
    _, before = scrape(client)
    key = (("method", "GET"), ("status", "404"), ("view", "unmatched"))
    was = before.get("helpdesk_http_requests_total", {}).get(key, 0)
    assert client.get("/no/such/page/12345").status_code == 404
    text = client.get("/metrics").content.decode()
    assert "/no/such/page" not in text
    _, after = scrape(client)
    assert after["helpdesk_http_requests_total"][key] == was + 1


def sample_count(client) -> tuple[int, int]:
    """(samples, bytes) of one scrape."""
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    return sum(len(family.samples) for family in text_string_to_metric_families(text)), len(text)


def test_invented_methods_and_paths_add_no_series(client):
    """Before: each invented method was a new label value of the request counter and
    the latency histogram (4,000 requests: +11 MB in one worker, a 3.2 MB scrape)."""
    rng = random.Random(6)
    # The folded values exist once the first odd request was counted.
    client.generic("WARMUP", "/no/such/page/")
    client.generic("WARMUP", "/healthz")
    client.get("/no/such/page/")
    samples_before, size_before = sample_count(client)
    for i in range(500):
        method = f"FOOBAR{i}" if i % 2 else "".join(rng.choices(string.ascii_uppercase, k=12))
        path = f"/{rng.randrange(10**9)}/{''.join(rng.choices(string.ascii_lowercase, k=8))}"
        client.generic(method, path if i % 3 else "/healthz")
        if i % 5 == 0:
            client.get(path)
    samples_after, size_after = sample_count(client)
    assert samples_after == samples_before
    assert size_after < size_before + 200  # only counter values grew, not the label sets
    _, scraped = scrape(client)
    methods = {dict(labels)["method"] for labels in scraped["helpdesk_http_requests_total"]}
    views = {dict(labels)["view"] for labels in scraped["helpdesk_http_requests_total"]}
    assert methods <= ops.KNOWN_METHODS | {"other"}
    assert "other" in methods and "unmatched" in views
    assert not any(view.startswith("/") for view in views)


@pytest.mark.parametrize(
    ("method", "status", "labels"),
    [
        ("GET", 200, ("GET", "200")),
        ("OPTIONS", 404, ("OPTIONS", "404")),
        ("FOOBAR", 405, ("other", "405")),
        ("get\u00e9", 999, ("other", "other")),
        (None, 42, ("other", "other")),
    ],
)
def test_label_values_fold_into_known_sets(method, status, labels):
    assert (ops.method_label(method), ops.status_label(status)) == labels


def test_metrics_needs_the_bearer_token_when_one_is_set(client, settings):
    settings.HELPDESK_METRICS_TOKEN = "scrape-secret-1234"
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": "Basic scrape-secret-1234"},
        {"HTTP_AUTHORIZATION": "Bearer scrape-secret-12345"},
        {"HTTP_AUTHORIZATION": "Bearer \u00e9"},
    ):
        refused = client.get("/metrics", **headers)
        assert refused.status_code == 401, headers
        assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"helpdesk_" not in refused.content
    served = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1234")
    assert served.status_code == 200
    assert b"helpdesk_http_requests_total" in served.content
    # Loopback alone is not enough once a token is set.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401


def test_metrics_in_production_without_a_token_is_for_loopback_only(client, settings):
    settings.PRODUCTION = True
    settings.HELPDESK_METRICS_TOKEN = ""
    for address in ("127.0.0.1", "::1", "127.0.0.53"):
        assert client.get("/metrics", REMOTE_ADDR=address).status_code == 200, address
    for address in ("203.0.113.7", "10.0.0.5", "::ffff:10.0.0.5", "", "junk"):
        refused = client.get("/metrics", REMOTE_ADDR=address)
        assert refused.status_code == 403, address
        assert b"helpdesk_" not in refused.content
    # A proxy on the same machine connects from loopback on behalf of someone else.
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"):
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: "127.0.0.1"}).status_code == 403, header
    # /healthz and /readyz stay open for probes and load balancers.
    assert client.get("/healthz", REMOTE_ADDR="203.0.113.7").status_code == 200


def test_probes_and_the_scrape_are_not_redirected_to_https(client, settings):
    """Production redirects plain HTTP to HTTPS; a probe or Prometheus talking to the
    process directly would follow the redirect to a port that speaks no TLS."""
    settings.PRODUCTION = True
    settings.HELPDESK_METRICS_TOKEN = "scrape-secret-1234"
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/login/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1234").status_code == 200


# --- first admin ---------------------------------------------------------------------------


def test_createsuperuser_noinput_makes_an_admin(monkeypatch, api, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Sturdy-Admin-Pass-42")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")

    call_command("createsuperuser", interactive=False, stdout=io.StringIO())

    user = User.objects.get(username="root")
    assert user.role == Role.ADMIN
    assert user.is_superuser and user.is_staff and user.is_active
    assert user.email == "root@example.com"
    assert user.check_password("Sturdy-Admin-Pass-42")

    response = api.post("/api/v1/auth/token/", {"username": "root", "password": "Sturdy-Admin-Pass-42"}, format="json")
    assert response.status_code == 200, response.content
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.data['token']}")
    me = api.get("/api/v1/users/me/")
    assert me.status_code == 200, me.content
    assert me.data["role"] == "admin"


def test_metrics_has_poller_and_outbox_figures(client):
    from django.utils import timezone

    from monitoring.tests.factories import AlertFactory, MetricSourceFactory, MonitorFactory
    from notifications.models import Notification

    source = MetricSourceFactory(consecutive_failures=2)
    MonitorFactory(source=source, state="critical")
    MonitorFactory(source=source, state="ok")
    MonitorFactory(source=source, state="ok", enabled=False)
    AlertFactory(severity="critical")
    Notification.objects.create(channel="email", target="a@example.com", subject="s", next_attempt_at=timezone.now())
    body = client.get("/metrics").content.decode()
    assert 'helpdesk_monitors{state="critical"} 1.0' in body
    assert 'helpdesk_alerts_firing{severity="critical"} 1.0' in body
    assert "helpdesk_sources_failing 1.0" in body
    assert "helpdesk_notifications_pending 1.0" in body
