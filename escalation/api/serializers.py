"""Escalation rule shape of SPEC 6 (flat JSON, an empty list means "any") and webhook endpoints."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from catalog.models import Application
from escalation.models import EscalationRule, WebhookEndpoint
from escalation.notifications import validate_notify_spec
from escalation.webhooks import MAX_GRACE_HOURS
from helpdesk import roles
from helpdesk.api.fields import SafePrimaryKeyRelatedField
from helpdesk.errors import MAX_ID
from helpdesk.models import User
from tickets.models import Category, Kind, Status

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

    def validate_tiers(self, value: list[int]) -> list[int]:
        return self._tiers_in_use(value, "tiers")

    def validate_escalate_to_tier(self, value: int | None) -> int | None:
        if value is not None:
            self._tiers_in_use([value], "escalate_to_tier")
        return value

    def _tiers_in_use(self, value: list[int], field: str) -> list[int]:
        beyond = [t for t in value if t > roles.max_tier()]
        if beyond:
            raise serializers.ValidationError(f"Only tiers 1-{roles.max_tier()} are in use.")
        return sorted(set(value))

    def validate_applications(self, value: list[int]) -> list[int]:
        return self._existing(Application, value)

    def validate_categories(self, value: list[int]) -> list[int]:
        return self._existing(Category, value)

    @staticmethod
    def _existing(model: Any, ids: list[int]) -> list[int]:
        ids = sorted(set(ids))
        found = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(f"Unknown ids: {', '.join(map(str, missing))}.")
        return ids

    def validate_assign_to(self, value: User | None) -> User | None:
        if value is not None and not (value.is_active and roles.is_agent(value)):
            raise serializers.ValidationError("Tickets can only be assigned to an active agent.")
        return value

    def validate_notify(self, value: list[str]) -> list[str]:
        errors = [f"{spec}: {error}" for spec in value if (error := validate_notify_spec(spec))]
        if errors:
            raise serializers.ValidationError(errors)
        return list(dict.fromkeys(value))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        trigger = attrs.get("trigger", getattr(self.instance, "trigger", None))
        threshold = attrs.get("threshold", getattr(self.instance, "threshold", 0))
        if trigger == "resolution_elapsed_pct" and not 0 <= threshold <= 1000:
            raise serializers.ValidationError({"threshold": ["A percentage between 0 and 1000."]})
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
