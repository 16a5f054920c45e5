from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from escalation import services, webhooks
from escalation.api import serializers as s
from escalation.api.serializers import EscalationRuleSerializer
from escalation.engine import rule_matches
from escalation.models import EscalationRule, WebhookEndpoint
from helpdesk.api.base import IsManager, no_store_response, validated
from helpdesk.api.if_match import VersionedViewSetMixin
from tickets.api.serializers import TicketSerializer


class EscalationRuleViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Escalation rules (managers). Evaluated by the engine every tick."""

    serializer_class = EscalationRuleSerializer
    permission_classes = [IsManager]
    queryset = EscalationRule.objects.all()
    filterset_fields = ["enabled", "trigger"]

    def perform_create(self, serializer: EscalationRuleSerializer) -> None:
        serializer.instance = services.rule_create(**serializer.validated_data)

    def perform_update(self, serializer: EscalationRuleSerializer) -> None:
        serializer.instance = services.rule_update(
            rule=serializer.instance,
            changes=dict(serializer.validated_data),
            expected_version=self.if_match_version,
        )

    def perform_destroy(self, instance: EscalationRule) -> None:
        services.rule_delete(rule=instance)

    @extend_schema(responses=TicketSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], serializer_class=TicketSerializer, filterset_fields=None)
    def preview(self, request: Request, pk: str) -> Response:
        """The tickets the rule would fire on if the engine ran now."""
        rule = self.get_object()
        page = self.paginate_queryset(rule_matches(rule).select_related("category").order_by("pk"))
        return self.get_paginated_response(TicketSerializer(page, many=True).data)


@extend_schema_view(
    create=extend_schema(
        responses={201: s.WebhookEndpointCreatedSerializer},
        description="Register a receiver. The response carries its signing `secret`, shown this once.",
    ),
    destroy=extend_schema(responses={204: None, 409: OpenApiResponse(description="A rule notifies this webhook")}),
)
class WebhookEndpointViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Webhook endpoints (managers): the receivers rules notify as `webhook:URL`,
    each with its own signing secret (docs/WEBHOOKS.md). The secret is never returned
    after the create and rotate-secret responses."""

    serializer_class = s.WebhookEndpointSerializer
    permission_classes = [IsManager]
    queryset = WebhookEndpoint.objects.all()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated(self.get_serializer(data=request.data))
        endpoint = webhooks.webhook_endpoint_create(**data)
        return no_store_response(s.WebhookEndpointCreatedSerializer(endpoint).data, status.HTTP_201_CREATED)

    def perform_update(self, serializer: s.WebhookEndpointSerializer) -> None:
        serializer.instance = webhooks.webhook_endpoint_update(
            endpoint=serializer.instance,
            changes=validated(serializer),
            expected_version=self.if_match_version,
        )

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        webhooks.webhook_endpoint_delete(endpoint=instance)

    @extend_schema(request=s.WebhookRotateSerializer, responses={200: s.WebhookSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret", serializer_class=s.WebhookRotateSerializer)
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new signing secret (shown this once). The old one stops signing at once,
        or after `grace_hours` during which deliveries carry both signatures."""
        endpoint = self.get_object()
        grace_hours = validated(s.WebhookRotateSerializer(data=request.data))["grace_hours"]
        endpoint = webhooks.webhook_secret_rotate(endpoint=endpoint, grace_hours=grace_hours)
        return no_store_response(s.WebhookSecretSerializer(endpoint).data, status.HTTP_200_OK)
