"""The manager dashboard page: who sees it, what it shows, its htmx refresh, its cost."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from helpdesk.tests.pages import assert_csp_clean
from monitoring.models import AlertState
from monitoring.tests.factories import AlertFactory
from tickets.models import Status
from tickets.tests.factories import TicketFactory

URL = "/dashboard/"
# dashboard_for's six aggregates, the firing alerts count, the session and the user.
PAGE_QUERIES = 9
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/dashboard/"}


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


def test_anonymous_is_sent_to_log_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/dashboard/"


def test_an_expired_session_sends_the_htmx_refresh_to_the_login_page(client, db):
    """A refresh must not swap the login form into the dashboard: htmx is told to navigate."""
    response = client.get(URL, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=/dashboard/"
    assert response.content == b""


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.L1, Role.L2, Role.L3])
def test_only_managers_see_it(client, db, role):
    client.force_login(UserFactory(role=role))
    assert client.get(URL).status_code == 404


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_managers_and_admins_see_it(client, db, role):
    client.force_login(UserFactory(role=role))
    response = client.get(URL)
    assert response.status_code == 200
    assert "<h1>Dashboard</h1>" in response.content.decode()


@pytest.fixture
def population(customer, l2):
    now = timezone.now()
    oldest = TicketFactory(requester=customer, tier=2, created_at=now - timedelta(days=3), priority=1)
    TicketFactory(requester=customer, tier=2, assignee=l2, created_at=now - timedelta(hours=5), priority=2)
    TicketFactory(requester=customer, tier=1, created_at=now - timedelta(hours=1), sla_breached=True, priority=3)
    TicketFactory(
        requester=customer,
        tier=1,
        status=Status.RESOLVED,
        created_at=now - timedelta(hours=3),
        resolved_at=now - timedelta(hours=1),
    )
    AlertFactory.create_batch(2)
    AlertFactory(state=AlertState.RESOLVED, resolved_at=now)
    return {"oldest": oldest}


def test_it_shows_the_figures_of_each_tier(as_manager, population):
    html = as_manager.get(URL).content.decode()
    tiers = re.findall(
        r'<tr>\s*<th scope="row">L(\d)</th>\s*<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>', html
    )
    # (tier, open, unassigned) in the queue table, then the priority table repeats the tier headers.
    assert tiers[:3] == [("1", "1", "1"), ("2", "2", "1"), ("3", "0", "0")]
    oldest = population["oldest"]
    assert f'<a href="/tickets/{oldest.pk}/">{oldest.number}</a>' in html
    assert '<span class="badge breached">1</span>' in html
    assert '<span class="badge p1">P1</span>' in html


def test_it_shows_mttr_first_contact_resolution_and_firing_alerts(as_manager, population):
    html = as_manager.get(URL).content.decode()
    assert re.search(r'Alerts firing</p>\s*<p class="figure">2</p>', html)  # the resolved one is not counted
    assert re.search(r'Mean time to resolve \(last 7 days\)</p>\s*<p class="figure">2 h</p>', html)
    assert re.search(r'First-contact resolution \(last 7 days\)</p>\s*<p class="figure">100 %</p>', html)
    assert '<a href="/monitoring/alerts/?state=firing">' in html


def test_the_api_counts_the_same_firing_alerts(api, manager, population):
    assert api.as_(manager).get("/api/v1/dashboard/").json()["active_alerts"] == 2


def test_it_draws_the_flow_per_day_with_a_table_for_screen_readers(as_manager, population):
    html = as_manager.get(URL).content.decode()
    svg = re.search(r"<svg .*?</svg>", html, re.DOTALL).group(0)
    assert 'role="img"' in svg and 'aria-label="Tickets created, resolved and escalated per day, ' in svg
    assert svg.count('class="bar-created"') == 7
    assert "created 4, resolved 1, escalated 0 in total" in svg
    assert "<summary>The same figures as a table</summary>" in html


def test_it_refreshes_itself_with_htmx_at_the_configured_interval(as_manager, db, settings):
    settings.HELPDESK_DASHBOARD_REFRESH_SECONDS = 7
    html = as_manager.get(URL).content.decode()
    poller = re.search(r'<div id="dashboard-figures"[^>]*>', html).group(0)
    assert 'hx-get="/dashboard/"' in poller
    assert 'hx-trigger="every 7s"' in poller
    assert 'hx-swap="innerHTML"' in poller


def test_the_htmx_refresh_gets_only_the_figures(as_manager, population):
    response = as_manager.get(URL, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "<h1>" not in html and 'id="dashboard-figures"' not in html
    assert '<h2 id="tiers-heading">Queues per tier</h2>' in html
    assert "HX-Request" in response["Vary"]  # a cache keeps page and fragment apart
    assert "HX-Request" in as_manager.get(URL)["Vary"]


def test_the_page_obeys_the_content_security_policy(as_manager, population):
    assert_csp_clean(as_manager.get(URL))
    assert_csp_clean(as_manager.get(URL, **HTMX))


@pytest.mark.parametrize("tickets", [2, 20])
def test_queries_do_not_grow_with_tickets_or_alerts(as_manager, customer, tickets, django_assert_max_num_queries):
    now = timezone.now()
    for i in range(tickets):
        TicketFactory(requester=customer, tier=1 + i % 3, priority=1 + i % 5, created_at=now - timedelta(hours=i))
    AlertFactory.create_batch(tickets)
    with django_assert_max_num_queries(PAGE_QUERIES):
        response = as_manager.get(URL)
    assert response.status_code == 200
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert as_manager.get(URL, **HTMX).status_code == 200
