"""Mail admin: mailboxes saved through the services (the password write-only),
inbound messages read-only without their raw bytes."""

from __future__ import annotations

import re

import pytest

from mail.models import InboundMessage, Mailbox, MailboxKind
from mail.services import mailboxes
from mail.services.ingest import mail_ingest
from mail.tests.factories import MailboxFactory

ADMIN = "/admin/mail/"
pytestmark = pytest.mark.django_db


def imap_form(**extra) -> dict:
    data = {
        "name": "inbox",
        "address": "inbox@helpdesk.example",
        "kind": "imap",
        "host": "imap.example.com",
        "port": "",
        "security": "ssl",
        "username": "support",
        "password": "",
        "folder": "INBOX",
        "poll_interval_seconds": "60",
        "enabled": "on",
        "acknowledge": "on",
        "urgency": "medium",
        "impact": "medium",
    }
    data.update(extra)
    return {k: v for k, v in data.items()}


def test_every_mail_admin_page_renders_without_secrets_or_raw_bytes(admin_client):
    box = MailboxFactory(kind=MailboxKind.IMAP, host="imap.example.com", username="u", password="s3cret-pass")
    result = mail_ingest(mailbox=box, raw=b"\x00 raw-bytes-marker")
    for url in (
        f"{ADMIN}mailbox/",
        f"{ADMIN}mailbox/add/",
        f"{ADMIN}mailbox/{box.pk}/change/",
        f"{ADMIN}inboundmessage/",
        f"{ADMIN}inboundmessage/{result.message}/change/",
    ):
        response = admin_client.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert "s3cret-pass" not in html and "raw-bytes-marker" not in html, url
    assert admin_client.get(f"{ADMIN}inboundmessage/add/").status_code == 403


def test_an_imap_mailbox_is_validated_by_the_service(admin_client):
    response = admin_client.post(f"{ADMIN}mailbox/add/", imap_form(address="a+b@helpdesk.example", host="127.0.0.1"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert (
        "may not contain" in str(errors["address"]) and "outbound policy" in str(errors["host"]) and errors["password"]
    )
    assert not Mailbox.objects.exists()


def test_an_imap_mailbox_is_created_and_edited_keeping_the_password(admin_client):
    response = admin_client.post(f"{ADMIN}mailbox/add/", imap_form(password="s3cret-pass"))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    box = Mailbox.objects.get()
    assert box.password == "s3cret-pass" and box.port == 993
    response = admin_client.post(f"{ADMIN}mailbox/{box.pk}/change/", imap_form(folder="Support", port="993"))
    assert response.status_code == 302
    box.refresh_from_db()
    assert box.password == "s3cret-pass" and box.folder == "Support" and box.version == 2
    # A new host without a new password: the stored one is not sent there.
    response = admin_client.post(f"{ADMIN}mailbox/{box.pk}/change/", imap_form(host="imap.other.example", port="993"))
    assert response.status_code == 200 and response.context["adminform"].form.errors["password"]
    box.refresh_from_db()
    assert box.host == "imap.example.com"


def test_an_http_mailbox_gets_its_token_once_in_a_message(admin_client):
    response = admin_client.post(
        f"{ADMIN}mailbox/add/", imap_form(kind="http", host="", username="", folder="INBOX"), follow=True
    )
    box = Mailbox.objects.get()
    texts = [str(m) for m in response.context["messages"]]
    token = re.search(r"\(shown once\): (\S+)", " ".join(texts)).group(1)
    assert mailboxes.mailbox_for_token(token) == box
    assert token not in admin_client.get(f"{ADMIN}mailbox/{box.pk}/change/").content.decode()


def test_inbound_messages_cannot_be_changed_or_deleted(admin_client):
    box = MailboxFactory()
    result = mail_ingest(mailbox=box, raw=b"\x00 junk")
    url = f"{ADMIN}inboundmessage/{result.message}/"
    assert admin_client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert InboundMessage.objects.filter(pk=result.message).exists()
