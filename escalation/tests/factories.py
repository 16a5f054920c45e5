"""Factories for escalation rows. Set-up only: changes under test go through services."""

from __future__ import annotations

import factory

from escalation.models import EscalationRule, Trigger, WebhookEndpoint


class EscalationRuleFactory(factory.django.DjangoModelFactory):
    """A rule as a row, with the model's defaults (enabled, any ticket, no action)
    and "no update for 0 minutes" unless told; rules under test are made through
    the API or the services."""

    class Meta:
        model = EscalationRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    trigger = Trigger.IDLE_FOR


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """A registered webhook receiver with its own secret (the model's default);
    asking again for a URL returns the endpoint already registered for it."""

    class Meta:
        model = WebhookEndpoint
        django_get_or_create = ("url",)

    name = factory.Sequence(lambda n: f"Receiver {n}")
    url = factory.Sequence(lambda n: f"https://hooks.example.com/receiver-{n}")
