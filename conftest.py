"""Shared fixtures: API clients per role, eager Celery unless a test asks for a real worker."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.db.backends.signals import connection_created
from rest_framework.test import APIClient

from helpdesk.celery import app as celery_app
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory


def _allow_flushing_the_audit_trail(sender, connection, **kwargs) -> None:
    """Transactional tests end with a flush (TRUNCATE of every table); the audit
    trail refuses TRUNCATE unless its owner asks for it (tickets migration 0011)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET helpdesk.allow_audit_truncate = 'on'")


connection_created.connect(_allow_flushing_the_audit_trail, dispatch_uid="allow_flushing_the_audit_trail")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Factory users hash a password; PBKDF2 would cost ~0.5 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_dashboard(settings):
    """Tests change tickets and read the dashboard again: no cached figures
    (test_dashboard_cache.py turns the cache on)."""
    settings.HELPDESK_DASHBOARD_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """API rate counters live in the cache; each test starts from zero. Failed-login
    counters (django-axes) are rows of the test database, rolled back or flushed
    after every test like all its rows."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run in-process by default; tests with a real worker turn this off."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def outbound_allow_loopback(settings) -> None:
    """Let this test reach its own servers on 127.0.0.1; loopback stays refused elsewhere (docs/RELIABILITY.md "Outbound requests")."""
    from helpdesk.testing.workers import OUTBOUND_ALLOW_LOOPBACK

    settings.HELPDESK_OUTBOUND_ALLOW = OUTBOUND_ALLOW_LOOPBACK.split(",")


def _role_user(role: str, **extra):
    @pytest.fixture
    def fixture(db):
        return UserFactory(role=role, **extra)

    return fixture


customer = _role_user(Role.CUSTOMER)
other_customer = _role_user(Role.CUSTOMER)
l1 = _role_user(Role.L1)
l2 = _role_user(Role.L2)
l3 = _role_user(Role.L3)
manager = _role_user(Role.MANAGER, is_staff=True)
admin_user = _role_user(Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def api():
    """An API client; `api.as_(user)` authenticates it as that user (None = anonymous)."""
    client = APIClient()

    def as_(user):
        client.force_authenticate(user=user)
        return client

    client.as_ = as_
    return client


@pytest.fixture
def redis_url() -> str:
    """A Redis database tests may use as a broker. Missing Redis skips on a
    developer's machine but fails in CI, where it must be there."""
    from helpdesk.testing.brokers import redis_problem, redis_test_url

    url = redis_test_url()
    problem = redis_problem(url)
    if problem:
        message = f"needs Redis as the broker at {url} ({problem})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own on a free port (no persistence), stopped
    by pid at teardown. The fault tests kill and restart it."""
    from helpdesk.testing.brokers import RedisServer, require_redis_server
    from helpdesk.testing.network import free_port

    require_redis_server()
    server = RedisServer(port=free_port(), log_path=tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
