"""The ticket page's e-mail parts in a real browser: CCs added and removed with the
keyboard only, the requester's bounce cleared, a phone-sized screen (issue 13)."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import services
from tickets.models import TicketCc, Via

pytestmark = pytest.mark.django_db(transaction=True)


def _ticket():
    customer = UserFactory(role=Role.CUSTOMER, email="jane@customer.example")
    ticket = services.ticket_create(actor=customer, title="Printer jams")
    services.comment_create(ticket=ticket, actor=customer, body="Sent from my phone", via=Via.EMAIL)
    User.objects.filter(pk=customer.pk).update(email_bouncing_since=timezone.now(), email_bounce_reason="5.1.1")
    return ticket


def test_an_agent_manages_ccs_and_the_bounce_with_the_keyboard(web, l1):
    ticket = _ticket()
    web.login(l1)
    web.goto(f"/tickets/{ticket.pk}/")
    page = web.page
    expect(page.locator("#timeline")).to_contain_text("via e-mail")
    field = page.get_by_label("Add a CC address")
    field.focus()
    page.keyboard.type("Boss@Example.com")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/tickets/{ticket.pk}/$"))
    expect(page.locator("#ticket-cc")).to_contain_text("boss@example.com")
    # A bad address: the page says why (a 400), with the field marked invalid.
    web.allow_http_errors = True
    page.get_by_label("Add a CC address").fill("not an address")
    page.get_by_label("Add a CC address").press("Enter")
    expect(page.locator("#cc [role=alert]")).to_contain_text("Not a valid e-mail address")
    remove = page.get_by_role("button", name="Remove boss@example.com")
    remove.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#cc")).to_contain_text("No one is copied.")
    assert not TicketCc.objects.filter(ticket=ticket).exists()
    expect(page.locator("#requester-bounce")).to_contain_text("5.1.1")
    page.locator("#bounce-clear").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#requester-bounce")).to_have_count(0)


@pytest.mark.parametrize("web", [390], indirect=True)
def test_the_mail_parts_fit_a_phone_screen(web, l1):
    ticket = _ticket()
    services.ticket_cc_set(
        ticket=ticket, actor=l1, addresses=["a-very-long-mailbox-name.for-the-finance-team@subsidiary.customer.example"]
    )
    web.login(l1)
    web.goto(f"/tickets/{ticket.pk}/")
    page = web.page
    expect(page.locator("#requester-bounce")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    web.screenshot("ticket-page-mail-phone")
