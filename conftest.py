"""Shared fixtures: API clients per role, eager Celery unless a test asks for a real worker."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from helpdesk.celery import app as celery_app
from helpdesk.roles import Role
from tickets.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _eager_celery():
    """Tasks run in-process by default; tests with a real worker turn this off."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


def _user(role: str, **kwargs):
    return UserFactory(role=role, **kwargs)


@pytest.fixture
def customer(db):
    return _user(Role.CUSTOMER)


@pytest.fixture
def other_customer(db):
    return _user(Role.CUSTOMER)


@pytest.fixture
def l1(db):
    return _user(Role.L1)


@pytest.fixture
def l2(db):
    return _user(Role.L2)


@pytest.fixture
def l3(db):
    return _user(Role.L3)


@pytest.fixture
def manager(db):
    return _user(Role.MANAGER)


@pytest.fixture
def admin_user(db):
    return _user(Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def api():
    """An API client; `api.as_(user)` authenticates it as that user (None = anonymous)."""
    client = APIClient()

    def as_(user):
        client.force_authenticate(user=user)
        return client

    client.as_ = as_
    return client
