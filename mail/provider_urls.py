"""Providers' inbound webhooks, under /mail/providers/ (docs/EMAIL.md "Providers"):
anymail's inbound views at anymail's own paths (``<provider>/inbound/``), only those
this helpdesk supports and tests; anymail's tracking webhooks are not mounted."""

from django.urls import path

from mail.providers import PROVIDERS, provider_endpoint

app_name = "mail-providers"
urlpatterns = [path(p.path, provider_endpoint(p), name=p.name) for p in PROVIDERS]
