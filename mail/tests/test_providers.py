"""Providers' inbound webhooks (docs/EMAIL.md "Providers"): each provider's post as
it sends it (shapes from the providers' documentation and anymail's own tests),
through anymail's signature or basic-auth check, into the one ingest path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.test import Client, override_settings

from mail import providers
from mail.models import InboundMessage, MailboxKind, MailThread, Outcome
from mail.services.ingest import quarantine_retry
from mail.services.providers import mailbox_address
from mail.tests.factories import MailboxFactory, raw_message
from tickets.models import Attachment, Comment, Ticket

pytestmark = pytest.mark.django_db

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SECRET = "hook:8f14e45fceea167a5a36"
ANYMAIL = {
    "WEBHOOK_SECRET": [SECRET],
    "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
}
BASE = "/mail/providers/"


@pytest.fixture(autouse=True)
def _configured():
    with override_settings(ANYMAIL=ANYMAIL):
        yield


@pytest.fixture
def mailbox():
    return MailboxFactory(address="support@helpdesk.example", name="support")


def _basic(secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


# --- each provider's post ---------------------------------------------------------------------


def mailgun_post(
    raw: bytes, *, recipient: str = "support@helpdesk.example", mime: bool = True, key=SIGNING_KEY, auth=None
):
    """Mailgun's route forward(): form fields, signed with HMAC-SHA256 over timestamp + token
    (and the basic auth of its URL, checked when HELPDESK_ANYMAIL_WEBHOOK_SECRET is set)."""
    extra = {"HTTP_AUTHORIZATION": auth if auth is not None else _basic()} if auth != "" else {}
    token, timestamp = uuid.uuid4().hex + uuid.uuid4().hex[:18], "1765137600"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    fields = {
        "token": token,
        "timestamp": timestamp,
        "signature": signature,
        "recipient": recipient,
        "sender": "jane@customer.example",
    }
    if mime:
        fields["body-mime"] = raw.decode()
        return Client().post(BASE + "mailgun/inbound_mime/", fields, **extra)
    from email import message_from_bytes, policy

    message = message_from_bytes(raw, policy=policy.default)
    headers = [[name, str(value)] for name, value in message.items() if name.lower() != "content-type"]
    fields.update(
        {
            "message-headers": json.dumps(headers),
            "From": message["From"],
            "subject": message["Subject"],
            "body-plain": message.get_body(("plain",)).get_content(),
            "stripped-text": message.get_body(("plain",)).get_content(),
            "attachment-count": "0",
        }
    )
    return Client().post(BASE + "mailgun/inbound/", fields, **extra)


def postmark_payload(
    *,
    subject: str = "Printer on fire",
    text: str = "It smokes.\n",
    to: str = "support@helpdesk.example",
    message_id: str = "<pm-1@customer.example>",
    attachments: list[dict] = (),
    raw: bytes | None = None,
) -> dict:
    """Postmark's inbound JSON (the parsed form; RawEmail when the server is set to include it)."""
    payload = {
        "FromName": "Jane Doe",
        "MessageStream": "inbound",
        "From": "jane@customer.example",
        "FromFull": {"Email": "jane@customer.example", "Name": "Jane Doe", "MailboxHash": ""},
        "To": to,
        "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": to,
        "Subject": subject,
        "MessageID": str(uuid.uuid4()),
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": "Sun, 7 Dec 2026 10:00:00 +0000",
        "TextBody": text,
        "HtmlBody": "",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<jane@customer.example>"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "Message-ID", "Value": message_id},
            {"Name": "MIME-Version", "Value": "1.0"},
        ],
        "Attachments": list(attachments),
    }
    if raw is not None:
        payload["RawEmail"] = raw.decode()
    return payload


def postmark_post(payload: dict, *, auth: str | None = None):
    extra = {"HTTP_AUTHORIZATION": auth if auth is not None else _basic()}
    return Client().post(BASE + "postmark/inbound/", json.dumps(payload), content_type="application/json", **extra)


def sendgrid_post(raw: bytes, *, to: str = "support@helpdesk.example", auth: str | None = None):
    """SendGrid's Inbound Parse with "POST the raw, full MIME message" on: multipart form fields."""
    fields = {
        "email": raw.decode(),
        "to": to,
        "from": "Jane Doe <jane@customer.example>",
        "subject": "Printer on fire",
        "envelope": json.dumps({"to": [to], "from": "jane@customer.example"}),
        "charsets": json.dumps({"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8"}),
        "dkim": "{@customer.example : pass}",
        "SPF": "pass",
        "spam_score": "0.1",
        "sender_ip": "192.0.2.10",
    }
    extra = {"HTTP_AUTHORIZATION": auth if auth is not None else _basic()}
    return Client().post(BASE + "sendgrid/inbound/", fields, **extra)


def ses_notification(raw: bytes, *, recipient: str = "support@helpdesk.example", encoding: str = "UTF8") -> dict:
    """An SNS notification of an SES receipt rule's SNS action (the message inside)."""
    content = base64.b64encode(raw).decode() if encoding == "BASE64" else raw.decode()
    ses_event = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-12-07T10:00:00.000Z",
            "source": "jane@customer.example",
            "messageId": uuid.uuid4().hex,
            "destination": [recipient],
        },
        "receipt": {
            "recipients": [recipient],
            "spamVerdict": {"status": "PASS"},
            "action": {"type": "SNS", "topicArn": "arn:aws:sns:eu-west-1:111111111111:inbound", "encoding": encoding},
        },
        "content": content,
    }
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:eu-west-1:111111111111:inbound",
        "Subject": "Amazon SES Email Receipt Notification",
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-12-07T10:00:01.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE==",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
    }


def ses_post(sns: dict, *, auth: str | None = None):
    extra = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": sns["Type"],
        "HTTP_X_AMZ_SNS_MESSAGE_ID": sns["MessageId"],
        "HTTP_X_AMZ_SNS_TOPIC_ARN": sns["TopicArn"],
    }
    if auth != "":
        extra["HTTP_AUTHORIZATION"] = auth if auth is not None else _basic()
    return Client().post(
        BASE + "amazon_ses/inbound/", json.dumps(sns), content_type="text/plain; charset=UTF-8", **extra
    )


def _message(**kwargs) -> bytes:
    return raw_message(to=kwargs.pop("to", "Support <support@helpdesk.example>"), **kwargs)


# --- created, then duplicate, per provider -----------------------------------------------------

POSTS = {
    "mailgun-mime": lambda raw: mailgun_post(raw),
    "mailgun-parsed": lambda raw: mailgun_post(raw, mime=False),
    "postmark-raw": lambda raw: postmark_post(postmark_payload(raw=raw, message_id="<x@y>")),
    "sendgrid-raw": lambda raw: sendgrid_post(raw),
    "amazon-ses-utf8": lambda raw: ses_post(ses_notification(raw)),
    "amazon-ses-base64": lambda raw: ses_post(ses_notification(raw, encoding="BASE64")),
}


@pytest.mark.parametrize("provider", POSTS)
def test_a_message_opens_a_ticket_once(provider, mailbox):
    raw = _message(subject="VPN down", body="Since nine.\n", message_id="<once-1@customer.example>")
    first = POSTS[provider](raw)
    assert first.status_code == 200, first.content
    row = InboundMessage.objects.get()
    assert (row.mailbox, row.outcome, row.message_key) == (mailbox, Outcome.CREATED, "once-1@customer.example")
    ticket = Ticket.objects.get()
    assert ticket.title == "VPN down"
    assert ticket.description.strip() == "Since nine."
    assert ticket.requester.email == "jane@customer.example"

    # The provider's retry (or a second delivery): 2xx so it stops, nothing new.
    again = POSTS[provider](raw)
    assert again.status_code == 200
    assert InboundMessage.objects.count() == 1
    assert Ticket.objects.count() == 1


def test_postmark_parsed_json_with_an_attachment_bigger_than_djangos_form_limit(mailbox, settings, tmp_path):
    """Postmark's default post (no RawEmail) is rebuilt into a message by anymail; a
    3 MiB attachment is past Django's 2.5 MB DATA_UPLOAD_MAX_MEMORY_SIZE, and is taken."""
    settings.HELPDESK_ATTACHMENT_ROOT = tmp_path
    content = b"%PDF-1.4\r\n" + b"0\r\n" * (2**20)
    attachment = {
        "Name": "report.pdf",
        "Content": base64.b64encode(content).decode(),
        "ContentType": "application/pdf",
        "ContentLength": len(content),
    }
    response = postmark_post(postmark_payload(message_id="<pm-big@customer.example>", attachments=[attachment]))
    assert response.status_code == 200, response.content
    row = InboundMessage.objects.get()
    assert (row.outcome, row.message_key) == (Outcome.CREATED, "pm-big@customer.example")
    assert Ticket.objects.get().title == "Printer on fire"
    (stored,) = Attachment.objects.all()
    assert (stored.name, stored.sha256) == ("report.pdf", hashlib.sha256(content).hexdigest())


def test_a_reply_to_the_reply_address_lands_on_its_ticket(mailbox):
    assert mailgun_post(_message(message_id="<first@customer.example>")).status_code == 200
    ticket = Ticket.objects.get()
    token = MailThread.objects.get(ticket=ticket).token
    reply_to = f"support+{token}@helpdesk.example"
    reply = _message(to=reply_to, subject="Re: anything", body="Still smoking.\n", message_id="<r@customer.example>")
    assert sendgrid_post(reply, to=reply_to).status_code == 200
    row = InboundMessage.objects.get(message_key="r@customer.example")
    assert (row.mailbox, row.outcome, row.ticket_id) == (mailbox, Outcome.APPENDED, ticket.pk)
    assert Comment.objects.filter(ticket=ticket, body__contains="Still smoking").exists()


def test_the_envelope_recipient_chooses_the_mailbox(mailbox):
    """Mail Bcc'd to sales: the headers name only the customer's colleagues."""
    sales = MailboxFactory(address="sales@helpdesk.example", name="sales")
    raw = _message(to="colleague@customer.example", message_id="<bcc@customer.example>")
    assert mailgun_post(raw, recipient="Sales@Helpdesk.example").status_code == 200
    assert InboundMessage.objects.get().mailbox == sales


# --- refused: nothing stored -------------------------------------------------------------------


def test_a_wrong_mailgun_signature_stores_nothing(mailbox):
    response = mailgun_post(_message(), key="key-not-ours")
    assert response.status_code == 400
    assert not InboundMessage.objects.exists() and not Ticket.objects.exists()


def test_a_mailgun_post_without_its_signature_stores_nothing(mailbox):
    response = Client().post(
        BASE + "mailgun/inbound_mime/", {"body-mime": _message().decode()}, HTTP_AUTHORIZATION=_basic()
    )
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_mailgun_needs_the_basic_auth_too_once_the_secret_is_set(mailbox):
    assert mailgun_post(_message(), auth="").status_code == 400
    assert not InboundMessage.objects.exists()
    # With only the signing key set, the signature alone is the check.
    with override_settings(ANYMAIL={"WEBHOOK_SECRET": [], "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}):
        assert mailgun_post(_message(), auth="").status_code == 200
    assert InboundMessage.objects.get().outcome == Outcome.CREATED


@pytest.mark.parametrize("auth", ["", _basic("hook:wrong"), "Bearer " + SECRET])
def test_postmark_and_sendgrid_without_the_basic_auth_store_nothing(auth, mailbox):
    assert postmark_post(postmark_payload(), auth=auth).status_code == 400
    assert sendgrid_post(_message(), auth=auth).status_code == 400
    assert not InboundMessage.objects.exists()


def test_sns_is_asked_for_basic_auth_and_a_wrong_one_is_refused(mailbox):
    sns = ses_notification(_message())
    first = ses_post(sns, auth="")
    assert first.status_code == 401
    assert first["WWW-Authenticate"].startswith("Basic")
    assert ses_post(sns, auth=_basic("hook:wrong")).status_code == 400
    assert not InboundMessage.objects.exists()


def test_an_endpoint_is_off_until_its_secret_is_set(mailbox):
    with override_settings(ANYMAIL={"WEBHOOK_SECRET": [], "MAILGUN_WEBHOOK_SIGNING_KEY": ""}):
        assert mailgun_post(_message()).status_code == 404
        assert postmark_post(postmark_payload()).status_code == 404
        assert sendgrid_post(_message()).status_code == 404
        assert ses_post(ses_notification(_message())).status_code == 404
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(
    "post",
    [
        lambda: Client().post(BASE + "postmark/inbound/", "{not json", "application/json", HTTP_AUTHORIZATION=_basic()),
        lambda: Client().post(BASE + "postmark/inbound/", "[1, 2]", "application/json", HTTP_AUTHORIZATION=_basic()),
        lambda: postmark_post({**postmark_payload(), "RecordType": "Delivery"}),
        lambda: Client().post(BASE + "sendgrid/inbound/", {"to": "x"}, HTTP_AUTHORIZATION=_basic()),
        lambda: ses_post({**ses_notification(b"x"), "Message": "{broken"}),
        lambda: ses_post({**ses_notification(b"x"), "Message": json.dumps({"notificationType": "Bounce"})}),
        lambda: Client().post(
            BASE + "amazon_ses/inbound/",
            "\xff",
            content_type="text/plain",
            HTTP_AUTHORIZATION=_basic(),
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        ),
    ],
    ids=[
        "bad-json",
        "json-list",
        "postmark-tracking",
        "sendgrid-no-message",
        "sns-bad-message",
        "ses-bounce",
        "sns-junk",
    ],
)
def test_a_post_that_is_no_inbound_message_is_a_400(post, mailbox):
    response = post()
    assert response.status_code == 400, response.content
    assert not InboundMessage.objects.exists()


def test_an_ses_s3_action_is_refused_and_nothing_is_fetched(mailbox):
    sns = ses_notification(b"")
    event = json.loads(sns["Message"])
    event.pop("content")
    event["receipt"]["action"] = {"type": "S3", "bucketName": "inbound", "objectKey": "inbound/abc"}
    response = ses_post({**sns, "Message": json.dumps(event)})
    assert response.status_code == 400
    assert not InboundMessage.objects.exists()


def test_an_sns_subscription_is_confirmed_by_the_operator_not_fetched(mailbox, caplog):
    sns = {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": "2336412f37fb687f5d51e6e2425c464de",
        "TopicArn": "arn:aws:sns:eu-west-1:111111111111:inbound",
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37",
        "Timestamp": "2026-12-07T10:00:00.000Z",
    }
    with caplog.at_level(logging.WARNING, logger="mail.providers"):
        response = ses_post(sns)
    assert response.status_code == 200
    assert sns["SubscribeURL"] in caplog.text
    assert not InboundMessage.objects.exists()


# --- a message for no mailbox ------------------------------------------------------------------


def test_mail_for_no_mailbox_is_quarantined_in_the_oldest_http_mailbox(mailbox):
    MailboxFactory(address="later@helpdesk.example", name="later")
    MailboxFactory(address="imap@helpdesk.example", name="imap", kind=MailboxKind.IMAP, host="imap.example")
    raw = _message(to="imap@helpdesk.example", message_id="<lost@customer.example>")
    response = postmark_post(postmark_payload(raw=raw, to="imap@helpdesk.example"))
    assert response.status_code == 200
    row = InboundMessage.objects.get()
    assert (row.mailbox, row.outcome) == (mailbox, Outcome.QUARANTINED)
    assert "addressed to no mailbox (imap@helpdesk.example" in row.reason
    assert bytes(row.raw) and not Ticket.objects.exists()
    # The provider's retry: stored already.
    assert postmark_post(postmark_payload(raw=raw, to="imap@helpdesk.example")).status_code == 200
    assert InboundMessage.objects.count() == 1


def test_a_manager_retries_unrouted_mail_into_that_mailbox(mailbox):
    raw = _message(to="nobody@helpdesk.example", message_id="<stray@customer.example>")
    assert sendgrid_post(raw, to="nobody@helpdesk.example").status_code == 200
    row = InboundMessage.objects.get()
    assert row.outcome == Outcome.QUARANTINED
    result = quarantine_retry(message=row)
    assert result.outcome == Outcome.CREATED
    assert Ticket.objects.get().pk == result.ticket
    assert InboundMessage.objects.get().mailbox == mailbox


def test_a_disabled_mailbox_takes_nothing_and_without_any_the_provider_retries():
    MailboxFactory(address="support@helpdesk.example", name="support", enabled=False)
    raw = _message(message_id="<wait@customer.example>")
    response = mailgun_post(raw)
    assert response.status_code == 503
    assert response["Retry-After"]
    assert not InboundMessage.objects.exists()
    # The operator enables the mailbox; the provider's next try lands.
    from mail.models import Mailbox

    Mailbox.objects.update(enabled=True)
    assert mailgun_post(raw).status_code == 200
    assert InboundMessage.objects.get().outcome == Outcome.CREATED


def test_a_database_failure_is_a_503_so_the_provider_retries(mailbox, monkeypatch):
    def failing(**kwargs):
        raise OperationalError("the database is gone")

    monkeypatch.setattr(providers, "provider_ingest", failing)
    assert sendgrid_post(_message()).status_code == 503
    assert not InboundMessage.objects.exists()


def test_only_inbound_endpoints_are_mounted():
    for path in (
        "mailgun/tracking/",
        "postmark/tracking/",
        "sendgrid/tracking/",
        "amazon_ses/tracking/",
        "brevo/inbound/",
    ):
        assert Client().post(BASE + path, {}).status_code == 404
    assert Client().get(BASE + "postmark/inbound/", HTTP_AUTHORIZATION=_basic()).status_code == 405


def test_a_post_past_twice_the_mail_limit_is_a_413_unread(mailbox):
    with override_settings(HELPDESK_MAIL_MAX_BYTES=1000):
        response = postmark_post(postmark_payload(text="x" * 3000))
    assert response.status_code == 413
    assert not InboundMessage.objects.exists()


def test_only_a_credentialed_post_is_read_past_djangos_limit(mailbox):
    """Over Django's 2.5 MB: with the basic auth it is read (here: past the mail limit,
    413); without, it goes to anymail under Django's limit, which refuses it (400; SNS
    asks for credentials, 401)."""
    big = postmark_payload(text="x" * (3 * 2**20))
    with override_settings(HELPDESK_MAIL_MAX_BYTES=2**20):
        assert postmark_post(big).status_code == 413
        assert postmark_post(big, auth=_basic("hook:wrong")).status_code == 400
        sns = ses_notification(_message(body="x" * (3 * 2**20)))
        assert ses_post(sns, auth="").status_code == 401
        # anymail's SNS check reads the body before the auth: Django's own limit answers.
        assert ses_post(sns, auth=_basic("hook:wrong")).status_code == 413
    assert not InboundMessage.objects.exists()


def test_a_provider_checking_the_url_with_head_gets_200():
    assert Client().head(BASE + "postmark/inbound/").status_code == 200


# --- what the message carries arrives whole -----------------------------------------------------


@pytest.mark.parametrize("provider", POSTS)
def test_non_ascii_headers_and_bodies_arrive_intact(provider, mailbox):
    raw = _message(
        sender="Jürgen Groß <juergen@customer.example>",
        subject="Drucker brennt – schon wieder",
        body="Grüße aus Köln: 温度が高い\n",
        message_id="<utf8@customer.example>",
    )
    assert POSTS[provider](raw).status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.title == "Drucker brennt – schon wieder"
    assert "Grüße aus Köln: 温度が高い" in ticket.description
    assert ticket.requester.get_full_name() == "Jürgen Groß"


def test_mailgun_parsed_attachments_arrive_as_files_and_land_on_the_ticket(mailbox, settings, tmp_path):
    settings.HELPDESK_ATTACHMENT_ROOT = tmp_path
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    token, timestamp = uuid.uuid4().hex, "1765137600"
    fields = {
        "token": token,
        "timestamp": timestamp,
        "signature": hmac.new(SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest(),
        "recipient": "support@helpdesk.example",
        "sender": "jane@customer.example",
        "message-headers": json.dumps(
            [
                ["From", "Jane Doe <jane@customer.example>"],
                ["To", "support@helpdesk.example"],
                ["Subject", "Screenshot attached"],
                ["Message-Id", "<att@customer.example>"],
                ["Date", "Sun, 07 Dec 2026 10:00:00 +0000"],
            ]
        ),
        "body-plain": "See the picture.\n",
        "attachment-count": "1",
        "attachment-1": SimpleUploadedFile("screen.png", png, content_type="image/png"),
    }
    response = Client().post(BASE + "mailgun/inbound/", fields, HTTP_AUTHORIZATION=_basic())
    assert response.status_code == 200, response.content
    ticket = Ticket.objects.get()
    assert ticket.title == "Screenshot attached"
    (attachment,) = Attachment.objects.filter(comment__ticket=ticket)
    assert (attachment.name, attachment.size) == ("screen.png", len(png))
    assert attachment.sha256 == hashlib.sha256(png).hexdigest()  # CR LF inside kept


def test_sendgrid_parsed_fields_in_their_own_charsets(mailbox):
    """SendGrid's default mode: headers and parts as form fields, each in the charset
    its "charsets" field names (the shape SendGrid sends, as anymail's tests keep it)."""
    post = (
        b"--xYzZY\r\n"
        b'Content-Disposition: form-data; name="headers"\r\n\r\n'
        b"Date: Sun, 07 Dec 2026 10:00:00 +0000\r\n"
        b"To: support@helpdesk.example\r\n"
        b"From: =?utf-8?q?Op=C3=A9rateur?= <operateur@customer.example>\r\n"
        b"Subject: =?cp850?q?Como_usted_pidi=A2?=\r\n"
        b"Message-ID: <sg-parsed@customer.example>\r\n\r\n"
        b"--xYzZY\r\n"
        b'Content-Disposition: form-data; name="text"\r\n\r\n'
        b"The ESP\x92s charset\x85\r\n"
        b"--xYzZY\r\n"
        b'Content-Disposition: form-data; name="envelope"\r\n\r\n'
        b'{"to":["support@helpdesk.example"],"from":"operateur@customer.example"}\r\n'
        b"--xYzZY\r\n"
        b'Content-Disposition: form-data; name="charsets"\r\n\r\n'
        b'{"to":"UTF-8","subject":"cp850","from":"UTF-8","text":"windows-1252"}\r\n'
        b"--xYzZY--\r\n"
    )
    response = Client().post(
        BASE + "sendgrid/inbound/",
        post,
        content_type="multipart/form-data; boundary=xYzZY",
        HTTP_AUTHORIZATION=_basic(),
    )
    assert response.status_code == 200, response.content
    ticket = Ticket.objects.get()
    assert ticket.title == "Como usted pidió"
    assert "The ESP’s charset…" in ticket.description
    assert InboundMessage.objects.get().message_key == "sg-parsed@customer.example"


@pytest.mark.parametrize(
    ("address", "mailbox_of"),
    [
        ("Support+Xk3_9-a@Helpdesk.Example", "support@helpdesk.example"),
        ("support+a+b@helpdesk.example", "support@helpdesk.example"),
        ("support@helpdesk.example", "support@helpdesk.example"),
        ("no-at-sign", ""),
        ("@helpdesk.example", ""),
        ("support@", ""),
    ],
)
def test_the_mailbox_an_address_reaches(address, mailbox_of):
    assert mailbox_address(address) == mailbox_of


@pytest.mark.parametrize("odd", ["\ud800", "a\x00b", "\u202e٣"])
@pytest.mark.parametrize("field", ["Subject", "TextBody", "FromName"])
def test_odd_characters_in_a_providers_json_never_make_a_500(mailbox, field, odd):
    """json.dumps spells a lone surrogate as its \\u escape, the way a provider's JSON would."""
    payload = postmark_payload(message_id=f"<odd-{field}-{len(odd)}@customer.example>")
    payload[field] = odd
    answer = postmark_post(payload)
    assert answer.status_code in (200, 400), answer.content
    # Stored once when taken (as a ticket, or quarantined), nothing when refused.
    assert InboundMessage.objects.count() == (1 if answer.status_code == 200 else 0)
