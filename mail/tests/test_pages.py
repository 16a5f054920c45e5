"""Mail pages for managers: who sees them, what they show and cost, and their writes
(through the same services as the API)."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from helpdesk.tests.pages import assert_csp_clean, assert_labelled_controls
from mail.models import InboundMessage, Mailbox, MailboxKind, Outcome, Security
from mail.services import mailboxes
from mail.services.ingest import mail_ingest
from mail.tests.factories import MailboxFactory, raw_message

MAILBOXES = "/mail/mailboxes/"
NEW = "/mail/mailboxes/new/"
QUARANTINE = "/mail/quarantine/"
HUGE = "99999999999999999999999"
GARBAGE = b"\x00\x01\x02 this is no message"


@pytest.fixture
def login(client):
    def as_(user):
        client.force_login(user)
        return client

    return as_


@pytest.fixture
def mailbox(db):
    return MailboxFactory(name="support", address="support@helpdesk.example")


def quarantine(mailbox: Mailbox, n: int = 1) -> list[InboundMessage]:
    """``n`` unreadable messages (each its own bytes: the same bytes are one message)."""
    rows = []
    for i in range(n):
        raw = GARBAGE + str(i + mailbox.messages.count()).encode()
        result = mail_ingest(mailbox=mailbox, raw=raw)
        assert result.outcome == Outcome.QUARANTINED
        rows.append(InboundMessage.objects.get(pk=result.message))
    return rows


def edit_url(mailbox: Mailbox) -> str:
    return f"/mail/mailboxes/{mailbox.pk}/"


def form_values(mailbox: Mailbox, **changes) -> dict:
    values = {
        "name": mailbox.name,
        "address": mailbox.address,
        "urgency": mailbox.urgency,
        "impact": mailbox.impact,
        "version": mailbox.version,
        "enabled": "on" if mailbox.enabled else "",
        "acknowledge": "on" if mailbox.acknowledge else "",
    }
    if mailbox.kind == MailboxKind.IMAP:
        values.update(
            host=mailbox.host,
            port=mailbox.port or "",
            security=mailbox.security,
            username=mailbox.username,
            folder=mailbox.folder,
            poll_interval_seconds=mailbox.poll_interval_seconds,
        )
    values.update(changes)
    return {k: v for k, v in values.items() if v != ""}


# --- who -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["customer", "l1", "l2", "l3"])
def test_pages_do_not_exist_for_non_managers(request, client, mailbox, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    (message,) = quarantine(mailbox)
    for url in (MAILBOXES, NEW, edit_url(mailbox), QUARANTINE, f"/mail/quarantine/{message.pk}/raw/"):
        assert client.get(url).status_code == 404, url
    for url in (
        f"{edit_url(mailbox)}rotate-token/",
        f"{edit_url(mailbox)}enable/",
        f"/mail/quarantine/{message.pk}/retry/",
        f"/mail/quarantine/{message.pk}/discard/",
    ):
        assert client.post(url, {"enabled": "0"}).status_code == 404, url
    mailbox.refresh_from_db()
    assert mailbox.enabled and InboundMessage.objects.filter(pk=message.pk, outcome=Outcome.QUARANTINED).exists()


def test_anonymous_users_go_to_the_login_page(client, mailbox):
    for url in (MAILBOXES, QUARANTINE, "/account/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url


# --- the mailbox list ----------------------------------------------------------------------------


def test_the_list_shows_kind_address_health_and_quarantined_count_in_constant_queries(
    login, manager, django_assert_max_num_queries
):
    client = login(manager)
    first = MailboxFactory(name="alpha", address="alpha@helpdesk.example")
    quarantine(first, 2)
    client.get(MAILBOXES)  # warm the session and the content types
    with django_assert_max_num_queries(8) as few:
        assert client.get(MAILBOXES).status_code == 200
    for n in range(12):
        box = MailboxFactory(
            kind=MailboxKind.IMAP,
            host="imap.example.com",
            username="u",
            password="p",
            last_error="Login refused" if n == 3 else "",
            consecutive_failures=4 if n == 3 else 0,
            last_polled_at=timezone.now(),
        )
        quarantine(box, 1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(MAILBOXES)
    html = assert_csp_clean(response)
    assert_labelled_controls(html)
    assert "alpha@helpdesk.example" in html and "imap" in html and "Login refused" in html
    assert re.search(rf'\?mailbox={first.pk}">2</a>', html)
    assert "p" not in re.findall(r'value="([^"]*)"', html)  # no password anywhere near the page


# --- create and edit -----------------------------------------------------------------------------


def test_a_new_http_mailbox_shows_its_token_once_with_the_commands(login, manager, db):
    client = login(manager)
    response = client.post(
        NEW,
        {
            "kind": "http",
            "name": "sales",
            "address": "Sales@Helpdesk.example",
            "urgency": "medium",
            "impact": "medium",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = assert_csp_clean(response)
    token = re.search(r'id="mailbox-token"[^>]*value="([^"]+)"', html).group(1)
    created = Mailbox.objects.get(name="sales")
    assert created.address == "sales@helpdesk.example" and created.kind == MailboxKind.HTTP
    assert mailboxes.mailbox_for_token(token) == created
    assert f"Bearer {token}" in html and "mail_ingest --mailbox sales &lt; message.eml" in html
    assert "/api/v1/mail/inbound/" in html
    # Never again: not on the list, the edit page, nor in the next page's messages.
    for url in (MAILBOXES, edit_url(created)):
        assert token not in client.get(url).content.decode()


def test_rotate_token_shows_the_new_one_once_and_the_old_one_stops(login, manager, db):
    client = login(manager)
    box, old = mailboxes.mailbox_create(name="sales", address="sales@helpdesk.example", kind="http")
    response = client.post(f"{edit_url(box)}rotate-token/")
    assert response.status_code == 200
    new = re.search(r'id="mailbox-token"[^>]*value="([^"]+)"', response.content.decode()).group(1)
    assert new != old and mailboxes.mailbox_for_token(old) is None and mailboxes.mailbox_for_token(new) == box
    assert new not in client.get(edit_url(box)).content.decode()


def test_rotate_token_of_an_imap_mailbox_is_refused_with_a_message(login, manager, db):
    box = MailboxFactory(kind=MailboxKind.IMAP, host="imap.example.com", username="u", password="p")
    response = login(manager).post(f"{edit_url(box)}rotate-token/", follow=True)
    assert "Only http mailboxes" in response.content.decode()
    box.refresh_from_db()
    assert box.token_hash == ""


def test_an_imap_mailbox_is_validated_by_the_service_and_errors_show_on_the_fields(login, manager, db):
    client = login(manager)
    response = client.get(f"{NEW}?kind=imap")
    html = assert_csp_clean(response)
    assert_labelled_controls(html)
    assert 'name="host"' in html and 'name="password"' in html
    response = client.post(
        NEW,
        {
            "kind": "imap",
            "name": "inbox",
            "address": "help+x@helpdesk.example",
            "host": "127.0.0.1",
            "security": "ssl",
            "folder": "INBOX",
            "poll_interval_seconds": 60,
            "urgency": "medium",
            "impact": "medium",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "may not contain '+'" in " ".join(form.errors["address"])
    assert "outbound policy" in " ".join(form.errors["host"])
    assert form.errors["username"] and form.errors["password"]
    assert not Mailbox.objects.exists()


def test_the_password_is_write_only_and_an_empty_box_keeps_it(login, manager, db):
    box = MailboxFactory(
        kind=MailboxKind.IMAP, host="imap.example.com", username="u", password="s3cret-pass", security=Security.SSL
    )
    client = login(manager)
    html = client.get(edit_url(box)).content.decode()
    assert "s3cret-pass" not in html and "A password is set" in html
    response = client.post(edit_url(box), form_values(box, folder="Support"))
    assert response.status_code == 303
    box.refresh_from_db()
    assert box.password == "s3cret-pass" and box.folder == "Support" and box.version == 2
    response = client.post(edit_url(box), form_values(box, password="n3w-pass"))
    assert response.status_code == 303
    box.refresh_from_db()
    assert box.password == "n3w-pass"


def test_a_stale_version_is_refused_and_changes_nothing(login, manager, mailbox):
    client = login(manager)
    stale = form_values(mailbox, name="renamed")
    mailboxes.mailbox_update(mailbox=mailbox, changes={"acknowledge": False})
    response = client.post(edit_url(mailbox), stale)
    assert response.status_code == 409
    assert "changed this mailbox meanwhile" in response.content.decode()
    mailbox.refresh_from_db()
    assert mailbox.name == "support"


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"address": "not an address"},
        {"urgency": "extreme"},
        {"category": HUGE},
        {"application": "x"},
        {"version": "0"},
        {"name": "x" * 101},
        {"name": "bad\x00name"},
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(login, manager, mailbox, bad):
    response = login(manager).post(edit_url(mailbox), form_values(mailbox, **bad))
    assert response.status_code == 400
    mailbox.refresh_from_db()
    assert mailbox.name == "support" and mailbox.version == 1


def test_the_kind_of_a_mailbox_stays(login, manager, mailbox):
    response = login(manager).post(edit_url(mailbox), form_values(mailbox, kind="imap", host="imap.example.com"))
    assert response.status_code == 303
    mailbox.refresh_from_db()
    assert mailbox.kind == MailboxKind.HTTP and mailbox.host == ""


def test_unknown_ids_are_404(login, manager, db):
    client = login(manager)
    assert client.get(f"/mail/mailboxes/{HUGE}/").status_code == 404
    assert client.post(f"/mail/quarantine/{HUGE}/retry/").status_code == 404
    assert client.get(f"/mail/quarantine/{HUGE}/raw/").status_code == 404


def test_enable_and_disable(login, manager, mailbox):
    client = login(manager)
    assert client.post(f"{edit_url(mailbox)}enable/", {"enabled": "0"}).status_code == 303
    mailbox.refresh_from_db()
    assert not mailbox.enabled and mailbox.version == 2
    assert client.post(f"{edit_url(mailbox)}enable/", {"enabled": "1"}).status_code == 303
    mailbox.refresh_from_db()
    assert mailbox.enabled
    for bad in ({"enabled": "maybe"}, {}):
        assert client.post(f"{edit_url(mailbox)}enable/", bad).status_code == 400
    mailbox.refresh_from_db()
    assert mailbox.enabled and mailbox.version == 3


def test_test_connection_shows_the_short_reason_through_the_outbound_policy(login, manager, db):
    box = MailboxFactory(kind=MailboxKind.IMAP, host="127.0.0.1", port=1, username="u", password="s3cret-pass")
    response = login(manager).post(f"{edit_url(box)}test/", follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0] == edit_url(box)
    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith(f"{box.name}: ") and "refused" in message and "s3cret" not in message


def test_test_connection_against_a_real_server(login, manager, db, outbound_allow_loopback, tmp_path):
    from helpdesk.testing.dovecot import dovecot_server

    with dovecot_server(tmp_path / "dovecot") as server:
        user, password = next(iter(server.users.items()))
        box = MailboxFactory(
            kind=MailboxKind.IMAP,
            host="127.0.0.1",
            port=server.port,
            security=Security.NONE,
            username=user,
            password=password,
        )
        client = login(manager)
        response = client.post(f"{edit_url(box)}test/", follow=True)
        assert "connected, logged in and opened INBOX" in response.content.decode()
        Mailbox.objects.filter(pk=box.pk).update(password="wrong")
        response = client.post(f"{edit_url(box)}test/", follow=True)
        (text,) = [str(m) for m in response.context["messages"]]
        assert text.startswith(f"{box.name}: login failed") and "wrong" not in text


# --- quarantine ----------------------------------------------------------------------------------


def test_the_quarantine_lists_in_constant_queries(login, manager, mailbox, django_assert_max_num_queries):
    client = login(manager)
    quarantine(mailbox, 1)
    client.get(QUARANTINE)
    with django_assert_max_num_queries(8) as few:
        assert client.get(QUARANTINE).status_code == 200
    other = MailboxFactory()
    quarantine(mailbox, 10)
    quarantine(other, 10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(QUARANTINE)
    html = assert_csp_clean(response)
    assert_labelled_controls(html)
    assert html.count("/retry/") == 21 and "cannot be read" in html
    filtered = client.get(f"{QUARANTINE}?mailbox={other.pk}").content.decode()
    assert filtered.count("/retry/") == 10
    for bad in ("x", HUGE, "-1"):
        assert client.get(f"{QUARANTINE}?mailbox={bad}").status_code == 200


def test_the_quarantine_is_paginated(login, manager, mailbox, settings):
    settings.HELPDESK_PAGE_SIZE = 5
    quarantine(mailbox, 7)
    client = login(manager)
    assert client.get(QUARANTINE).content.decode().count("/retry/") == 5
    assert client.get(f"{QUARANTINE}?page=2").content.decode().count("/retry/") == 2


def test_download_is_an_attachment_never_rendered(login, manager, mailbox):
    (message,) = quarantine(mailbox)
    response = login(manager).get(f"/mail/quarantine/{message.pk}/raw/")
    assert response.status_code == 200
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="quarantined-{message.pk}.eml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == GARBAGE + b"0"


def test_retry_after_the_cause_is_fixed_creates_the_ticket(login, manager, mailbox, customer):
    customer.is_active = False
    customer.save()
    raw = raw_message(sender=f"Carl <{customer.email}>", to=mailbox.address)
    result = mail_ingest(mailbox=mailbox, raw=raw)
    assert result.outcome == Outcome.QUARANTINED
    client = login(manager)
    response = client.post(f"/mail/quarantine/{result.message}/retry/", follow=True)
    assert "Retried: quarantined" in response.content.decode()
    message = InboundMessage.objects.get(mailbox=mailbox, outcome=Outcome.QUARANTINED)
    customer.is_active = True
    customer.save()
    response = client.post(f"/mail/quarantine/{message.pk}/retry/", follow=True)
    assert "Retried: created HD-" in response.content.decode()
    assert not InboundMessage.objects.filter(outcome=Outcome.QUARANTINED).exists()
    assert InboundMessage.objects.get(mailbox=mailbox).ticket.requester == customer
    # Retrying again: it is no longer in quarantine.
    assert client.post(f"/mail/quarantine/{message.pk}/retry/").status_code == 404


def test_discard_drops_the_bytes(login, manager, mailbox):
    (message,) = quarantine(mailbox)
    client = login(manager)
    assert client.post(f"/mail/quarantine/{message.pk}/discard/").status_code == 303
    message.refresh_from_db()
    assert message.outcome == Outcome.IGNORED and message.raw is None
    assert client.post(f"/mail/quarantine/{message.pk}/discard/").status_code == 404
    assert client.get(f"/mail/quarantine/{message.pk}/raw/").status_code == 404


def test_get_on_a_write_is_refused(login, manager, mailbox):
    (message,) = quarantine(mailbox)
    client = login(manager)
    assert client.get(f"/mail/quarantine/{message.pk}/retry/").status_code == 405
    assert client.get(f"{edit_url(mailbox)}rotate-token/").status_code == 405


def test_an_empty_form_shows_the_errors(login, manager, mailbox):
    client = login(manager)
    for url in (NEW, edit_url(mailbox)):
        response = client.post(url, {})
        assert response.status_code == 400
        assert response.context["form"].errors["name"], url
