"""Mail pages in a real browser: keyboard only, on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mail.models import Mailbox
from mail.services import mailboxes
from mail.services.ingest import mail_ingest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("web", [390], indirect=True)
def test_a_manager_adds_an_http_mailbox_by_keyboard_and_sees_its_token_once(web, manager):
    web.login(manager)
    page = web.page
    web.goto("/mail/mailboxes/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    link = page.get_by_role("link", name="New http mailbox")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    page.get_by_label("Name").fill("sales")
    page.get_by_label("Address").fill("sales@helpdesk.example")
    page.get_by_label("Address").press("Enter")  # submits the form
    page.wait_for_load_state("networkidle")

    token_box = page.get_by_label("Bearer token")
    expect(token_box).to_be_visible()
    token = token_box.input_value()
    box = Mailbox.objects.get(name="sales")
    assert mailboxes.mailbox_for_token(token) == box
    expect(page.locator("main")).to_contain_text(f"Bearer {token}")
    expect(page.locator("main")).to_contain_text("mail_ingest --mailbox sales < message.eml")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    web.screenshot("mail-token-phone")

    page.go_back()
    page.reload()
    web.goto("/mail/mailboxes/")
    assert token not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    web.goto(f"/mail/mailboxes/{box.pk}/")
    assert token not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("web", [390], indirect=True)
def test_a_manager_discards_a_quarantined_message_by_keyboard(web, manager):
    box, _ = mailboxes.mailbox_create(name="support", address="support@helpdesk.example", kind="http")
    mail_ingest(mailbox=box, raw=b"\x00\x01 not a message")
    web.login(manager)
    page = web.page
    web.goto("/mail/quarantine/")
    expect(page.locator("main")).to_contain_text("cannot be read")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    button = page.get_by_role("button", name=re.compile("Discard"))
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    expect(page.locator("main")).to_contain_text("Nothing in quarantine")
