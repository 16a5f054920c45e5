"""Escalation rule shape of docs/API.md "Configuration objects" (flat JSON, an empty list means "any") and webhook endpoints."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from escalation import services
from escalation.models import EscalationRule, WebhookEndpoint
from escalation.webhooks import MAX_GRACE_HOURS
from helpdesk.api.fields import SafePrimaryKeyRelatedField
from helpdesk.errors import MAX_ID
from helpdesk.models import User
from tickets.models import Kind, Status

MAX_ITEMS = 50


def id_list() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=MAX_ITEMS
    )


class EscalationRuleSerializer(serializers.ModelSerializer):
    tiers = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=3), required=False, max_length=3
    )
    priorities = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=5), required=False, max_length=5
    )
    statuses = serializers.ListField(
        child=serializers.ChoiceField(choices=[Status.NEW, Status.OPEN, Status.PENDING]), required=False, max_length=3
    )
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=Kind.choices), required=False, max_length=2)
    applications = id_list()
    categories = id_list()
    threshold = serializers.IntegerField(min_value=0, max_value=525_600, default=0)
    escalate_to_tier = serializers.IntegerField(min_value=1, max_value=3, required=False, allow_null=True)
    assign_to = SafePrimaryKeyRelatedField(queryset=User.objects.all(), required=False, allow_null=True)
    notify = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, max_length=MAX_ITEMS
    )
    note = serializers.CharField(max_length=10_000, required=False, allow_blank=True)

    class Meta:
        model = EscalationRule
        fields = [
            "id",
            "name",
            "enabled",
            "order",
            "tiers",
            "priorities",
            "statuses",
            "kinds",
            "applications",
            "categories",
            "trigger",
            "threshold",
            "escalate_to_tier",
            "raise_urgency",
            "assign_to",
            "notify",
            "note",
            "version",
        ]
        read_only_fields = ["id", "version"]
        extra_kwargs = {"order": {"min_value": -1_000_000, "max_value": 1_000_000}}

    # The checks that involve settings or other rows are the service's (the admin's too).
    validate_tiers = staticmethod(services.rule_tiers)
    validate_escalate_to_tier = staticmethod(services.rule_escalate_to_tier)
    validate_applications = staticmethod(services.rule_applications)
    validate_categories = staticmethod(services.rule_categories)
    validate_assign_to = staticmethod(services.rule_assign_to)
    validate_notify = staticmethod(services.rule_notify)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        trigger = attrs.get("trigger", getattr(self.instance, "trigger", None))
        threshold = attrs.get("threshold", getattr(self.instance, "threshold", 0))
        if problem := services.rule_threshold_problem(trigger, threshold):
            raise serializers.ValidationError({"threshold": [problem]})
        return attrs


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """A webhook receiver. The signing secret is never part of it: only the create
    and rotate-secret responses carry it (WebhookEndpointCreatedSerializer, WebhookSecretSerializer)."""

    name = serializers.CharField(max_length=200)
    url = serializers.CharField(
        max_length=500, help_text="http:// or https://; fixed once created (rules name it as webhook:URL)."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "created_at", "secret_rotated_at", "previous_secret_expires_at", "version"]
        read_only_fields = ["id", "created_at", "secret_rotated_at", "previous_secret_expires_at", "version"]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret, shown this once.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookRotateSerializer(serializers.Serializer):
    grace_hours = serializers.IntegerField(
        min_value=0,
        max_value=MAX_GRACE_HOURS,
        default=0,
        help_text="How long the old secret keeps signing too (a second signature); 0: it stops at once.",
    )


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True, help_text="The new signing secret, shown this once.")
    secret_rotated_at = serializers.DateTimeField(read_only=True)
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Until then the old secret signs too; null: it stopped at once."
    )
