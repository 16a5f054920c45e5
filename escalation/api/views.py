from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from escalation.api.serializers import EscalationRuleSerializer
from escalation.engine import rule_matches
from escalation.models import EscalationRule
from helpdesk.api.base import IsManager
from helpdesk.api.versioning import VersionedViewSetMixin
from tickets.api.serializers import TicketSerializer


class EscalationRuleViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Escalation rules (managers). Evaluated by the engine every tick."""

    serializer_class = EscalationRuleSerializer
    permission_classes = [IsManager]
    queryset = EscalationRule.objects.all()
    filterset_fields = ["enabled", "trigger"]

    @extend_schema(responses=TicketSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], serializer_class=TicketSerializer, filterset_fields=None)
    def preview(self, request: Request, pk: str) -> Response:
        """The tickets the rule would fire on if the engine ran now."""
        rule = self.get_object()
        page = self.paginate_queryset(rule_matches(rule).select_related("category").order_by("pk"))
        return self.get_paginated_response(TicketSerializer(page, many=True).data)
