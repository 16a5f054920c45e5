"""Providers' inbound webhooks (docs/EMAIL.md "Providers"): Mailgun, Postmark,
SendGrid and Amazon SES post each message they receive for us; django-anymail's
views check the provider's signature or basic auth and normalise the message;
``inbound_received`` (connected in ``MailConfig.ready``) hands its raw bytes to
``provider_ingest``, the one ingest path.

What a provider is answered, and why (each retries on anything but 2xx):
- 200: the message is stored (created, appended, ignored, quarantined, or a
  duplicate of one stored before), so the provider stops sending it;
- 400: the signature or basic auth is wrong (nothing read, nothing stored), or the
  payload is not one of the provider's inbound posts; 401 (Amazon SNS only): no
  basic auth yet, SNS then sends it; 413: larger than twice HELPDESK_MAIL_MAX_BYTES
  (than Django's DATA_UPLOAD_MAX_MEMORY_SIZE for a post without the basic auth);
- 404: the endpoint is off (its secret is not set);
- 503: not stored (no enabled http mailbox, the database failing): the provider
  keeps the message and tries again.
Only inbound: outbound mail stays on Django's EMAIL_* backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from email import encoders
from email.utils import getaddresses
from typing import Any

from anymail.exceptions import AnymailConfigurationError, AnymailError, AnymailWebhookValidationFailure
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from anymail.utils import get_request_basic_auth
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.base import AnymailBaseWebhookView, AnymailCoreWebhookView
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from mail.services.providers import provider_ingest

log = logging.getLogger(__name__)

# Headers that name where a message was delivered, after the provider's envelope recipient.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")


class NotStored(Exception):
    """The message could not be stored now; the provider must send it again (503)."""


def _binary_parts_encoded(message: AnymailInboundMessage) -> None:
    """anymail rebuilds a parsed post's attachments (Mailgun's and SendGrid's files)
    as raw bytes without a Content-Transfer-Encoding; serialised as they are, their
    CR LF pairs would become LF. Base64 keeps every byte."""
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() in ("text", "message"):
            continue
        if part.get("Content-Transfer-Encoding", "7bit").strip().lower() in ("7bit", "8bit", "binary"):
            data = part.get_payload(decode=True) or b""
            del part["Content-Transfer-Encoding"]
            part.set_payload(data)
            encoders.encode_base64(part)


def _raw(message: AnymailInboundMessage) -> bytes:
    _binary_parts_encoded(message)
    try:
        return message.as_bytes()
    except (LookupError, UnicodeError, ValueError, TypeError):
        # A header the generator cannot fold as it was given: the text, byte for byte where it can.
        return message.as_string().encode("utf-8", "surrogateescape")


def _recipients(message: AnymailInboundMessage) -> list[str]:
    """The envelope recipient first (where the provider received it), then the headers'."""
    found = [message.envelope_recipient] if getattr(message, "envelope_recipient", None) else []
    for name in RECIPIENT_HEADERS:
        values = [str(value) for value in message.get_all(name, [])]
        found += [address for _, address in getaddresses(values) if "@" in address]
    return found


def inbound_received(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail's ``inbound`` signal: store the message once, or raise ``NotStored``."""
    message = event.message
    if message is None:  # nothing to store (anymail sends none without a message)
        return
    try:
        result = provider_ingest(raw=_raw(message), recipients=_recipients(message), provider=esp_name)
    except Exception as exc:  # the database, no mailbox: whatever it is, the message is not stored
        log.warning("%s inbound message not stored: %s", esp_name, exc)
        raise NotStored(str(exc)) from exc
    log.info("%s inbound message: %s %s", esp_name, result.outcome, result.reason)


class AmazonSESInboundView(AmazonSESInboundWebhookView):
    """anymail's SES inbound view, for the SNS receipt-rule action only (the message is
    in the notification). Nothing a payload names is fetched: no S3 download, no
    subscription auto-confirmation (the SubscribeURL is logged for the operator), so no
    boto3 and no outbound request. anymail does not check SNS signatures; basic auth
    (HELPDESK_ANYMAIL_WEBHOOK_SECRET in the subscription URL) is the check."""

    def __init__(self, **kwargs: Any) -> None:
        self.auto_confirm_enabled = False
        self.session_params, self.client_params = {}, {}
        self.kms_key_id = None
        self.chunk_size = 0
        # The base class's own setup would build boto3 parameters: skip it, keep basic auth's.
        AnymailBaseWebhookView.__init__(self, **kwargs)

    def auto_confirm_sns_subscription(self, sns_message: dict) -> None:
        log.warning(
            "Amazon SNS asks to confirm a subscription of topic %s: open its SubscribeURL to confirm: %s",
            sns_message.get("TopicArn"),
            sns_message.get("SubscribeURL"),
        )

    def fetch_s3_chunks(self, bucket_name: str, object_key: str):
        raise AnymailConfigurationError(
            "Amazon SES receipt rules with an S3 action are not supported: use the SNS action (docs/EMAIL.md)."
        )


@dataclass(frozen=True)
class Provider:
    """One provider's inbound endpoint: anymail's view, and the ANYMAIL setting without which it is off."""

    path: str
    name: str
    view: type[AnymailCoreWebhookView]
    secret: str


PROVIDERS = (
    # Mailgun decides the post's shape by the URL: "mime" in it sends the raw message.
    Provider("mailgun/inbound/", "mailgun", MailgunInboundWebhookView, "MAILGUN_WEBHOOK_SIGNING_KEY"),
    Provider("mailgun/inbound_mime/", "mailgun-mime", MailgunInboundWebhookView, "MAILGUN_WEBHOOK_SIGNING_KEY"),
    Provider("postmark/inbound/", "postmark", PostmarkInboundWebhookView, "WEBHOOK_SECRET"),
    Provider("sendgrid/inbound/", "sendgrid", SendGridInboundWebhookView, "WEBHOOK_SECRET"),
    Provider("amazon_ses/inbound/", "amazon-ses", AmazonSESInboundView, "WEBHOOK_SECRET"),
)


def _plain(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 503:
        response["Retry-After"] = "60"
    return response


def _body_read(request: HttpRequest) -> HttpResponse | None:
    """Read the body up front, bounded by the mail limit rather than Django's 2.5 MB
    DATA_UPLOAD_MAX_MEMORY_SIZE (a message with attachments is bigger): anymail reads
    ``request.body``, which then is these bytes. Multipart text fields (Mailgun's
    ``body-mime``, SendGrid's raw ``email``) keep Django's field limit."""
    limit = 2 * settings.HELPDESK_MAIL_MAX_BYTES  # base64 in JSON, form encoding
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _plain(400, "Bad Content-Length.")
    if declared > limit:
        return _plain(413, "Larger than this helpdesk takes.")
    try:
        body = request.read(limit + 1)
    except OSError:  # the client went away mid-body
        return _plain(400, "The body could not be read.")
    if len(body) > limit:
        return _plain(413, "Larger than this helpdesk takes.")
    request._body = body  # what HttpRequest.body returns from now on
    return None


def _credentialed(request: HttpRequest) -> bool:
    """The post carries one of the configured basic-auth secrets, or none is configured.
    Only then is the body read past Django's limit: a stranger's post goes to anymail
    unread, which refuses it (the check stays anymail's)."""
    secrets = settings.ANYMAIL.get("WEBHOOK_SECRET") or []
    if isinstance(secrets, str):
        secrets = [secrets]
    if not secrets:
        return True
    given = get_request_basic_auth(request) or ""
    return any(constant_time_compare(given, secret) for secret in secrets)


def provider_endpoint(provider: Provider) -> Callable[..., HttpResponse]:
    """The provider's anymail view behind our answers (module docstring)."""
    inner = provider.view.as_view()

    @csrf_exempt
    def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.ANYMAIL.get(provider.secret):
            raise Http404("This provider's inbound webhook is not configured.")
        if request.method == "POST" and _credentialed(request) and (refused := _body_read(request)) is not None:
            return refused
        try:
            return inner(request, *args, **kwargs)
        except NotStored:
            return _plain(503, "Not stored; send it again later.")
        except AnymailWebhookValidationFailure as exc:
            log.warning("%s inbound webhook refused: %s", provider.name, exc)
            return _plain(400, "Signature or credentials refused.")
        except RequestDataTooBig:
            return _plain(413, "Larger than this helpdesk takes.")
        except (
            AnymailError,
            ImproperlyConfigured,
            SuspiciousOperation,
            LookupError,
            ValueError,
            TypeError,
            AttributeError,
            OSError,
        ) as exc:
            # Not one of the provider's inbound posts (or the wrong webhook pointed here).
            log.warning("%s inbound webhook: unreadable post: %s: %s", provider.name, type(exc).__name__, exc)
            return _plain(400, "Not an inbound message post of this provider.")

    return endpoint
