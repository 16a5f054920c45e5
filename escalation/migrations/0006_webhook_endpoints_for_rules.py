"""Register a webhook endpoint, with a fresh secret of its own, for every webhook
URL a rule notifies or a pending notification is queued for. Until now every
webhook was signed with SECRET_KEY; from now on a delivery is signed with its
endpoint's secret, and an unregistered URL gets nothing. Rotate an endpoint's
secret (the API or the admin) to see it and give it to the receiver."""

import secrets
from urllib.parse import urlsplit

from django.db import migrations
from django.utils import timezone

URL_MAX = 500
NAME_MAX = 200


def _webhook_url(spec):
    if not isinstance(spec, str) or ":" not in spec:
        return None
    kind, _, value = spec.strip().partition(":")
    url = value.strip()
    if kind.strip().lower() != "webhook" or not url or len(url) > URL_MAX:
        return None
    return url


def _name(url):
    try:
        host = urlsplit(url).hostname or url
    except ValueError:
        host = url
    return f"{host} (registered on upgrade)"[:NAME_MAX]


def register_webhook_urls(apps, schema_editor):
    EscalationRule = apps.get_model("escalation", "EscalationRule")
    Notification = apps.get_model("escalation", "Notification")
    WebhookEndpoint = apps.get_model("escalation", "WebhookEndpoint")
    urls = {}  # ordered, unique
    for notify in EscalationRule.objects.order_by("id").values_list("notify", flat=True):
        for spec in notify or []:
            if url := _webhook_url(spec):
                urls[url] = None
    pending = Notification.objects.filter(channel="webhook", status="pending")
    for target in pending.order_by("target").values_list("target", flat=True).distinct():
        if target and len(target) <= URL_MAX:
            urls[target] = None
    existing = set(WebhookEndpoint.objects.values_list("url", flat=True))
    now = timezone.now()
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(name=_name(url), url=url, secret="whsec_" + secrets.token_urlsafe(32), secret_rotated_at=now)
        for url in urls
        if url not in existing
    )


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0005_webhookendpoint"),
    ]

    operations = [
        migrations.RunPython(register_webhook_urls, migrations.RunPython.noop),
    ]
