"""The agents' main flows in a real browser: the L1 console with the keyboard
only, escalation with a handover, "next ticket" for L2, the manager dashboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from catalog.tests.factories import ApplicationFactory
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import services
from tickets.models import Level, Status, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_l1_logs_a_ticket_with_the_keyboard_only_and_sees_the_priority_change_live(web, l1):
    ApplicationFactory(name="Webshop")
    web.login(l1)
    page = web.page
    expect(page).to_have_url(re.compile(r"/console/$"))  # L1 lands on the console
    expect(page.locator("#id_requester_email")).to_be_focused()

    keyboard = page.keyboard
    keyboard.type("caller@example.com")
    keyboard.press("Tab")  # application
    keyboard.press("ArrowDown")  # Webshop
    keyboard.press("Tab")  # category
    keyboard.press("Tab")  # kind
    keyboard.press("Tab")  # title
    keyboard.type("Checkout page shows an error")
    keyboard.press("Tab")  # description
    keyboard.type("Since 10:00 the **payment** step fails.")
    preview = page.locator("#preview-priority")
    expect(preview).to_have_text("P3 medium")
    keyboard.press("Tab")  # urgency: the checked radio (medium)
    keyboard.press("ArrowUp")  # high
    expect(preview).to_have_text("P2 high")
    keyboard.press("Tab")  # impact
    keyboard.press("ArrowUp")  # high
    expect(preview).to_have_text("P1 critical")
    expect(page.locator("#preview-resolution")).to_be_visible()
    web.screenshot("l1-console")
    keyboard.press("Tab")  # the save button
    expect(page.locator("#save-ticket")).to_be_focused()
    keyboard.press("Enter")

    number = page.locator("#created-number")
    expect(number).to_have_text(re.compile(r"^HD-\d{6}$"))
    ticket = Ticket.objects.get()
    assert number.inner_text() == ticket.number
    assert (ticket.priority, ticket.urgency, ticket.impact) == (1, Level.HIGH, Level.HIGH)
    assert ticket.requester.email == "caller@example.com" and ticket.application.name == "Webshop"
    assert ticket.title == "Checkout page shows an error"
    # Ready for the next call: an empty form, focus back in the first field.
    expect(page.locator("#id_requester_email")).to_have_value("")
    expect(page.locator("#id_requester_email")).to_be_focused()
    web.screenshot("l1-console-saved")


def test_the_console_offers_the_open_incident_of_the_chosen_application(web, l1):
    app = ApplicationFactory(name="Payments")
    incident = TicketFactory(kind="incident", major=True, application=app, title="Payments are down", tier=2)
    web.login(l1)
    page = web.page
    page.get_by_label("Requester e-mail").fill("caller@example.com")
    page.get_by_label("Application").select_option(str(app.pk))
    expect(page.locator("#incident-alert")).to_contain_text(incident.number)
    page.locator("#link-first-incident").check()
    page.get_by_label("Title").fill("Cannot pay")
    page.locator("#save-ticket").click()
    expect(page.locator("#created-number")).to_be_visible()
    ticket = Ticket.objects.exclude(pk=incident.pk).get()
    assert ticket.parent_id == incident.pk
    incident.refresh_from_db()
    assert incident.linked_count == 1


def test_l1_escalates_with_a_handover_that_l2_sees(web, l1, l2):
    ticket = TicketFactory(title="VPN drops every hour", tier=1)
    web.login(l1)
    page = web.page
    web.goto(f"/tickets/{ticket.pk}/")
    page.get_by_text("Escalate with a handover").click()
    page.get_by_label("To tier").select_option("2")
    page.get_by_label("Reason").fill("Needs a network engineer")
    page.get_by_label("Summary for the next tier").fill("Drops at :00 each hour since Monday")
    page.get_by_label("Steps already tried").fill("Reinstalled the client; other users fine")
    page.locator("#escalate").click()
    expect(page.locator("#ticket-tier")).to_have_text("L2")
    expect(page.locator(".message.success")).to_contain_text("escalated to L2")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    web.login(l2)
    web.goto(f"/tickets/{ticket.pk}/")
    handover = page.locator(".handover")
    expect(handover).to_contain_text("Needs a network engineer")
    expect(handover).to_contain_text("Drops at :00 each hour since Monday")
    expect(handover).to_contain_text("Reinstalled the client")
    web.screenshot("ticket-page-handover")


def test_l1_cannot_work_an_l3_ticket_from_its_page(web, l1):
    ticket = TicketFactory(tier=3, status=Status.NEW)
    web.login(l1)
    web.goto(f"/tickets/{ticket.pk}/")
    expect(web.page.locator("#claim")).to_have_count(0)
    # Posting the claim anyway (a crafted form) is refused by the service.
    token = next(c["value"] for c in web.page.context.cookies() if c["name"] == "csrftoken")
    response = web.page.request.post(f"{web.base_url}/tickets/{ticket.pk}/claim/", headers={"X-CSRFToken": token})
    assert response.status == 403
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


def test_l2_takes_the_next_ticket_of_the_queue(web, l2):
    low = TicketFactory(tier=2, priority=4, title="Slow report")
    best = TicketFactory(tier=2, priority=1, title="Orders are lost")
    TicketFactory(tier=1, priority=1, title="Not in this queue")
    web.login(l2)
    page = web.page
    expect(page).to_have_url(re.compile(r"/queue/$"))
    expect(page.locator("tbody tr")).to_have_count(2)
    web.screenshot("queue-l2")
    page.locator("#next-ticket").click()
    expect(page).to_have_url(re.compile(rf"/tickets/{best.pk}/$"))
    expect(page.locator("#ticket-assignee")).to_contain_text(l2.get_full_name())
    best.refresh_from_db()
    low.refresh_from_db()
    assert best.assignee_id == l2.pk and low.assignee_id is None


def test_the_manager_lands_on_the_dashboard(web, manager):
    TicketFactory.create_batch(3, tier=1)
    services.ticket_create(
        actor=manager, title="Breached", requester_email="c@example.com", urgency="high", impact="high"
    )
    web.login(manager)
    page = web.page
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("main")).to_contain_text("L1")
    web.screenshot("manager-dashboard")


@pytest.mark.parametrize("web", [390], indirect=True)
def test_the_console_fits_a_phone_screen(web, l1):
    web.login(l1)
    page = web.page
    expect(page.locator("#save-ticket")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    web.screenshot("l1-console-phone")


def test_every_control_of_the_console_has_a_label(web, l1):
    web.login(l1)
    unlabeled = web.page.evaluate(
        """() => [...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.name)"""
    )
    assert unlabeled == []


def test_a_customer_cannot_open_agent_pages(web):
    customer = UserFactory(role=Role.CUSTOMER)
    web.login(customer)
    web.allow_http_errors = True
    response = web.goto("/console/")
    assert response.status == 404
