"""Known issues, the customer portal and hostile content in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import services
from tickets.models import Comment, KnownIssue, Status, Ticket
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD_STEPS = "1. Open **Settings → Security**.\n2. Choose *Reset password*.\n3. Sign in with the mailed link."


def test_l1_applies_a_suggested_known_issue_from_the_console_in_one_click(web, l1):
    issue = KnownIssue.objects.create(
        title="Password reset link expired", symptoms="The reset link says expired", resolution_steps=PASSWORD_STEPS
    )
    web.login(l1)
    page = web.page
    page.get_by_label("Requester e-mail").fill("caller@example.com")
    page.get_by_label("Title").fill("Cannot log in")
    page.get_by_label("Description").press_sequentially("The password reset link is expired")
    suggestion = page.locator(f"[data-apply-resolve='{issue.pk}']")
    expect(suggestion).to_be_visible()
    web.screenshot("l1-console-known-issue")
    suggestion.click()

    expect(page.locator("#created-number")).to_be_visible()
    ticket = Ticket.objects.get()
    issue.refresh_from_db()
    assert ticket.status == Status.RESOLVED and ticket.resolution == PASSWORD_STEPS
    assert issue.usage_count == 1 and list(ticket.known_issues.all()) == [issue]
    assert Comment.objects.get(ticket=ticket, internal=False).body == PASSWORD_STEPS


def test_an_agent_applies_a_known_issue_on_the_ticket_page(web, l1):
    issue = KnownIssue.objects.create(title="Printer queue stuck", resolution_steps="Restart the spooler.")
    ticket = TicketFactory(title="Printer queue stuck again", description="Nothing prints", tier=1)
    web.login(l1)
    page = web.page
    web.goto(f"/tickets/{ticket.pk}/")
    page.locator(f"#apply-known-issue [data-apply='{issue.pk}']").click()
    expect(page.locator(".message.success")).to_contain_text("Known issue applied")
    expect(page.locator("#timeline")).to_contain_text("Restart the spooler.")
    ticket.refresh_from_db()
    assert ticket.status != Status.RESOLVED and list(ticket.known_issues.all()) == [issue]


def test_the_knowledge_base_is_searched_as_the_agent_types(web, manager):
    KnownIssue.objects.create(title="VPN certificate expired", resolution_steps="Renew it in the portal.")
    KnownIssue.objects.create(title="Printer offline", resolution_steps="Power-cycle it.")
    web.login(manager)
    page = web.page
    web.goto("/known-issues/")
    page.get_by_role("searchbox", name="Search").press_sequentially("certif")
    results = page.locator("#results summary")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("VPN certificate expired")
    web.screenshot("known-issues")


def test_a_customer_sees_only_their_tickets_and_public_comments(web, l1):
    me, other = UserFactory(role=Role.CUSTOMER), UserFactory(role=Role.CUSTOMER)
    mine = services.ticket_create(actor=me, title="My laptop is slow")
    theirs = services.ticket_create(actor=other, title="Someone else's problem")
    services.comment_create(ticket=mine, actor=l1, body="We are looking at it.")
    services.comment_create(ticket=mine, actor=l1, body="SECRET internal guess", internal=True)
    web.login(me)
    page = web.page
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("main")).to_contain_text("My laptop is slow")
    expect(page.locator("main")).not_to_contain_text("Someone else")
    web.screenshot("customer-portal")

    page.get_by_role("link", name=mine.number).click()
    expect(page.locator("#timeline")).to_contain_text("We are looking at it.")
    expect(page.locator("main")).not_to_contain_text("SECRET")
    page.get_by_role("textbox", name="Comment").fill("Thanks, it is still slow today.")
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#timeline")).to_contain_text("still slow today")
    web.screenshot("customer-ticket")

    web.allow_http_errors = True
    assert web.goto(f"/tickets/{theirs.pk}/").status == 404


def test_a_customer_opens_a_new_request(web):
    me = UserFactory(role=Role.CUSTOMER)
    web.login(me)
    page = web.page
    page.get_by_role("link", name="New request").first.click()
    page.get_by_label("Title").fill("Invoice PDF is empty")
    page.get_by_label("Description").fill("Since yesterday")
    page.get_by_role("button", name="Send").click()
    ticket = Ticket.objects.get(requester=me)
    expect(page.locator(".message.success")).to_contain_text(ticket.number)


XSS = [
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "[click](javascript:document.title='pwned')",
    "[split](java\nscript:document.title='pwned')",
    "[entity](&#106;avascript:document.title='pwned')",
    "<a href=\"javascript:document.title='pwned'\">raw link</a>",
    "<svg onload=\"document.title='pwned'\"></svg>",
    "<iframe src=\"javascript:document.title='pwned'\"></iframe>",
    "<div style=\"background:url(javascript:document.title='pwned')\">styled</div>",
    "\"><script>document.title='pwned'</script>",
    "<details open ontoggle=\"document.title='pwned'\">",
    "![img](https://evil.example.com/pixel.png)",
    '<form action="https://evil.example.com"><button>go</button></form>',
    "{{ 7*7 }} {% csrf_token %}",
]


def test_hostile_titles_descriptions_and_comments_execute_nothing(web, l1):
    customer = UserFactory(role=Role.CUSTOMER)
    tickets = []
    for payload in XSS:
        ticket = services.ticket_create(actor=customer, title=payload[:200], description=payload)
        services.comment_create(ticket=ticket, actor=customer, body=payload)
        services.comment_create(ticket=ticket, actor=l1, body=payload, internal=True)
        tickets.append(ticket)
    KnownIssue.objects.create(title=XSS[1], symptoms=XSS[0], resolution_steps=XSS[2])

    web.login(l1)
    page = web.page
    pages = ["/queue/?tier=1", "/known-issues/", *[f"/tickets/{t.pk}/" for t in tickets]]
    for path in pages:
        web.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.title() != "pwned", path
        assert page.evaluate("document.querySelectorAll('main script, main iframe, main svg, main img').length") == 0
        hrefs = page.evaluate("[...document.querySelectorAll('main a')].map(a => a.getAttribute('href') || '')")
        assert not [h for h in hrefs if h.strip().lower().startswith(("javascript", "data"))], path
    web.screenshot("xss-ticket-as-agent")
    # Links a user can click, clicked: nothing runs.
    web.goto(f"/tickets/{tickets[2].pk}/")
    for link in page.locator(".markdown a").all():
        if link.get_attribute("href") is None and link.is_visible():  # the sanitiser took javascript: away
            link.click()
    assert page.title() != "pwned"

    page.get_by_role("button", name="Log out").click()
    web.login(customer)
    for path in ["/portal/", *[f"/tickets/{t.pk}/" for t in tickets[:4]]]:
        web.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.title() != "pwned", path
