"""Production hardening: deploy checks, secrets from the environment, Argon2,
a shared cache and our own error pages (login throttling: test_login_guard.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from helpdesk import settings as project_settings
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "HELPDESK_ENV": "production",
    "SECRET_KEY": "t3st-0nly-" + "k9Zq2xW7vB4nM8pL1sD6fG3hJ5aQ0eRtYuIoP" * 2,
    "ALLOWED_HOSTS": "helpdesk.example.com",
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
    "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
}


def run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # A deployment's environment: none of the test run's own switches (the browser
    # tests allow Django's ORM beside Playwright's event loop, for instance).
    unset = {"DEBUG", "SECRET_KEY", "HELPDESK_ENV", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_in_production():
    result = run_with(PROD_ENV, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_are_hardened():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'hsts': s.SECURE_HSTS_SECONDS, 'ssl': s.SECURE_SSL_REDIRECT,"
        "'proxy': list(s.SECURE_PROXY_SSL_HEADER), 'session': s.SESSION_COOKIE_SECURE,"
        "'csrf': s.CSRF_COOKIE_SECURE, 'xfo': s.X_FRAME_OPTIONS, 'referrer': s.SECURE_REFERRER_POLICY,"
        "'csp': 'csp.middleware.CSPMiddleware' in s.MIDDLEWARE, 'hasher': s.PASSWORD_HASHERS[0]}))"
    )
    result = run_with(PROD_ENV, "-c", code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "debug": False,
        "hsts": 31536000,
        "ssl": True,
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "session": True,
        "csrf": True,
        "xfo": "DENY",
        "referrer": "same-origin",
        "csp": True,
        "hasher": "django.contrib.auth.hashers.Argon2PasswordHasher",
    }


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": project_settings.DEV_SECRET_KEY}, "SECRET_KEY is the development default"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
    ],
)
def test_production_refuses_to_start_without_its_secrets(override, message):
    result = run_with({**PROD_ENV, **override}, "manage.py", "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


# --- Argon2 -----------------------------------------------------------------------------------


@pytest.fixture
def real_hashers(settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS


def test_requirements_pin_argon2():
    assert "argon2-cffi==" in (ROOT / "requirements.txt").read_text()


@pytest.mark.usefixtures("real_hashers")
def test_new_passwords_use_argon2():
    encoded = make_password("correct horse battery")
    assert encoded.startswith("argon2$")
    assert check_password("correct horse battery", encoded)


@pytest.mark.django_db
@pytest.mark.usefixtures("real_hashers")
def test_an_old_pbkdf2_password_still_logs_in_and_moves_to_argon2():
    user = UserFactory(role=Role.L1, username="old-timer")
    user.password = make_password("s3cret-old-pass", hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    response = Client().post("/login/", {"username": "old-timer", "password": "s3cret-old-pass"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$")


# --- a cache shared by the web processes (issue 11 item 3) ------------------------------------


def test_production_caches_in_the_database_by_default():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s;"
        "print(json.dumps(s.CACHES['default']))"
    )
    result = run_with(PROD_ENV, "-c", code)
    assert result.returncode == 0, result.stderr
    cache = json.loads(result.stdout)
    assert cache["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    assert cache["LOCATION"] == "helpdesk_cache"


@pytest.mark.django_db
def test_the_cache_table_is_made_by_migrate():
    from django.db import connection

    assert "helpdesk_cache" in connection.introspection.table_names()


@pytest.mark.parametrize("cache_url", ["locmem://"])
def test_check_deploy_warns_about_a_per_process_cache(cache_url):
    result = run_with({**PROD_ENV, "CACHE_URL": cache_url}, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "helpdesk.W001" in result.stderr + result.stdout


# --- error pages ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_404_is_our_page_without_debug(settings, client):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and "Back to the helpdesk" in body
    assert "URLconf" not in body and "Django" not in body


def test_500_is_our_page_and_never_touches_the_database(settings, django_db_blocker):
    settings.DEBUG = False
    with django_db_blocker.block():  # any query would raise
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and "Traceback" not in body


@pytest.mark.django_db
def test_an_exception_in_a_view_renders_the_500_page(settings, client, monkeypatch):
    settings.DEBUG = False
    from helpdesk import views

    def boom(request):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(views, "home_url_for", boom)
    client.raise_request_exception = False
    client.force_login(UserFactory(role=Role.L1))
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "secret detail" not in response.content.decode()
