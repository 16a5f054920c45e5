"""The dashboard's figures are computed at most once per HELPDESK_DASHBOARD_CACHE_SECONDS."""

from __future__ import annotations

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from dashboard.selectors import manager_dashboard_for
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings):
    settings.HELPDESK_DASHBOARD_CACHE_SECONDS = 10


def open_tier1(data) -> int:
    return next(t["open"] for t in data["tiers"] if t["tier"] == 1)


def test_figures_are_shared_for_the_cache_time_then_recomputed(cached, django_assert_num_queries):
    TicketFactory(tier=1)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        first = manager_dashboard_for()
        TicketFactory(tier=1)
        with django_assert_num_queries(0):
            again = manager_dashboard_for()
        assert again == first and open_tier1(again) == 1
        clock.shift(11)
        cache.delete("helpdesk:dashboard:v1")  # locmem expiry follows the real clock, not time-machine
        fresh = manager_dashboard_for()
    assert open_tier1(fresh) == 2 and fresh["generated_at"] > first["generated_at"]


def test_an_explicit_moment_is_never_cached(cached):
    TicketFactory(tier=1)
    manager_dashboard_for()
    TicketFactory(tier=1)
    assert open_tier1(manager_dashboard_for(now=timezone.now())) == 2


def test_a_failing_cache_costs_speed_not_the_answer(cached, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache server down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)
    TicketFactory(tier=1)
    assert open_tier1(manager_dashboard_for()) == 1


def test_the_api_answers_from_the_cache(cached, api, manager, django_assert_max_num_queries):
    TicketFactory(tier=1)
    assert api.as_(manager).get("/api/v1/dashboard/").status_code == 200
    with django_assert_max_num_queries(1):
        response = api.as_(manager).get("/api/v1/dashboard/")
    assert response.status_code == 200 and open_tier1(response.data) == 1
