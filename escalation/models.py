"""Escalation rules, their firings and the webhook endpoints they notify (the outbox they
write to is ``notifications.Notification``, a floor below)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Trigger(models.TextChoices):
    FIRST_RESPONSE_OVERDUE = "first_response_overdue", "First response overdue"
    RESOLUTION_OVERDUE = "resolution_overdue", "Resolution overdue"
    RESOLUTION_ELAPSED_PCT = "resolution_elapsed_pct", "Resolution time elapsed (%)"
    UNASSIGNED_FOR = "unassigned_for", "Unassigned for (minutes)"
    IDLE_FOR = "idle_for", "No update for (minutes)"


class EscalationRule(models.Model):
    """Conditions (empty list = any) plus one trigger, and the actions to take.

    Evaluated by the engine every tick; fires at most once per ticket episode.
    """

    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    order = models.IntegerField(default=100)
    tiers = models.JSONField(default=list, blank=True)
    priorities = models.JSONField(default=list, blank=True)
    statuses = models.JSONField(default=list, blank=True)
    kinds = models.JSONField(default=list, blank=True)
    applications = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    trigger = models.CharField(max_length=32, choices=Trigger.choices)
    # Minutes, or percent for resolution_elapsed_pct.
    threshold = models.PositiveIntegerField(default=0)
    escalate_to_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    raise_urgency = models.BooleanField(default=False)
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notify = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # One per configuration edit (API, admin); never bumped by polls or counters. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(trigger__in=Trigger.values), name="rule_trigger_valid"),
            models.CheckConstraint(
                condition=Q(escalate_to_tier__isnull=True) | Q(escalate_to_tier__gte=1, escalate_to_tier__lte=3),
                name="rule_escalate_tier_1_3",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RuleFiring(models.Model):
    """A rule fired for a ticket in an episode. The unique constraint is what
    makes concurrent ticks, retries and crashed workers fire at most once."""

    # The unique constraint's index leads with the rule: no index of its own.
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings", db_index=False)
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="rule_firings")
    episode = models.PositiveIntegerField()
    fired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "ticket", "episode"], name="rule_fires_once_per_episode"),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} on ticket {self.ticket_id} (episode {self.episode})"


def new_webhook_secret() -> str:
    """A fresh signing secret: 256 random bits; the prefix lets secret scanners spot a leaked one."""
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A receiver of webhook notifications, registered by a manager. Rules name it
    as ``webhook:URL``; every delivery to it is signed with its own secret.

    The secret is a signing key the sender needs in clear (HMAC), not a password,
    so it is stored as is; the API and the admin show it only when it is made
    (create, rotate), never again. During a rotation's grace period the previous
    secret signs too, until ``previous_secret_expires_at``."""

    name = models.CharField(max_length=200)
    # Fixed once created: rules and queued notifications find the endpoint by it.
    url = models.CharField(max_length=500, unique=True)
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(default=timezone.now, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # One per configuration edit (API, admin); a secret rotation is not one. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
