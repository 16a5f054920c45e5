"""Monitoring pages and the live dashboard in a real browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog.tests.factories import ApplicationFactory
from monitoring.models import Alert, Sample
from monitoring.tests.factories import AlertFactory, MonitorFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _monitored_application():
    app = ApplicationFactory(name="Webshop")
    monitor = MonitorFactory(application=app, name="Checkout response time")
    now = timezone.now()
    Sample.objects.bulk_create(
        Sample(monitor=monitor, at=now - timedelta(minutes=5 * (60 - i)), value=300 + (900 if i > 50 else i * 3))
        for i in range(60)
    )
    alert = AlertFactory(monitor=monitor, severity="critical", name="Checkout response time")
    return app, monitor, alert


def test_an_engineer_reads_the_health_and_charts_and_acknowledges_an_alert_by_keyboard(web, l2):
    app, monitor, alert = _monitored_application()
    web.login(l2)
    page = web.page
    web.goto("/monitoring/")
    tile = page.locator("main").get_by_role("link", name=re.compile("Webshop"))
    expect(tile).to_be_visible()
    web.screenshot("monitoring-applications")
    tile.click()
    expect(page).to_have_url(re.compile(rf"/monitoring/applications/{app.pk}/"))
    chart = page.locator("svg.chart").first
    expect(chart).to_be_visible()
    assert "Checkout response time" in (chart.get_attribute("aria-label") or "") + page.locator("main").inner_text()
    assert page.locator("svg.chart .line").count() >= 1
    web.screenshot("monitoring-application")

    button = page.get_by_role("button", name=re.compile("Acknowledge"))
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None and alert.acknowledged_by_id == l2.pk


def test_the_alert_list_filters(web, l1):
    _monitored_application()
    AlertFactory(monitor=MonitorFactory(), severity="warning", name="Disk almost full")
    web.login(l1)
    page = web.page
    web.goto("/monitoring/alerts/?severity=critical")
    expect(page.locator("main")).to_contain_text("Checkout response time")
    expect(page.locator("main")).not_to_contain_text("Disk almost full")
    web.screenshot("monitoring-alerts")
    assert Alert.objects.count() == 2


def test_the_dashboard_refreshes_itself(web, manager, settings):
    settings.HELPDESK_DASHBOARD_REFRESH_SECONDS = 1
    web.login(manager)
    page = web.page
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    with page.expect_request(
        lambda request: "/dashboard/" in request.url and request.headers.get("hx-request") == "true"
    ):
        pass
    _monitored_application()  # an alert starts firing
    expect(page.locator("main")).to_contain_text(re.compile(r"Alerts firing\s*1"), timeout=5000)


@pytest.mark.parametrize("web", [390], indirect=True)
def test_every_main_screen_fits_a_phone_screen(web, manager):
    from tickets.tests.factories import TicketFactory

    app, _, _ = _monitored_application()
    ticket = TicketFactory(application=app, title="A rather long ticket title that must wrap on a phone screen")
    web.login(manager)
    page = web.page
    for path in [
        "/dashboard/",
        "/queue/",
        f"/tickets/{ticket.pk}/",
        "/monitoring/",
        f"/monitoring/applications/{app.pk}/",
        "/known-issues/",
    ]:
        web.goto(path)
        # Wide tables scroll inside their own box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    web.goto(f"/tickets/{ticket.pk}/")
    web.screenshot("ticket-page-phone")


def test_the_api_docs_and_the_admin_load_cleanly(web, admin_user):
    """Swagger UI from the sidecar and the Django admin: no console error, nothing from outside."""
    web.login(admin_user)
    page = web.page
    web.goto("/api/docs/")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Helpdesk API")
    web.goto("/admin/")
    expect(page.get_by_role("heading", name=re.compile("Site administration"))).to_be_visible()
