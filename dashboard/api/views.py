"""The manager dashboard as JSON: queue figures per tier and the last week's flow."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.selectors import manager_dashboard_for
from helpdesk.api.base import IsAgent

_oldest = inline_serializer(
    "DashboardOldestTicket",
    {"id": serializers.IntegerField(), "number": serializers.CharField(), "created_at": serializers.DateTimeField()},
    allow_null=True,
)
_tier = inline_serializer(
    "DashboardTier",
    {
        "tier": serializers.IntegerField(),
        "open": serializers.IntegerField(help_text="Active tickets: new, open or pending."),
        "unassigned": serializers.IntegerField(help_text="Active tickets without an assignee."),
        "breached": serializers.IntegerField(help_text="Active tickets that missed an SLA target."),
        "at_risk": serializers.IntegerField(
            help_text="New or open tickets not breached yet with HELPDESK_AT_RISK_PCT % of the resolution time elapsed."
        ),
        "by_priority": serializers.DictField(
            child=serializers.IntegerField(), help_text='Active tickets by priority, "1".."5".'
        ),
        "oldest": _oldest,
    },
)
_counts = {name: serializers.IntegerField() for name in ("created", "resolved", "escalated")}
DashboardSerializer = inline_serializer(
    "Dashboard",
    {
        "generated_at": serializers.DateTimeField(),
        "tiers": serializers.ListField(child=_tier),
        "last_24h": inline_serializer("DashboardLast24h", _counts),
        "daily": serializers.ListField(
            child=inline_serializer("DashboardDay", {"date": serializers.DateField(), **_counts}),
            help_text="Today and the six previous UTC days, oldest first.",
        ),
        "mttr_minutes": serializers.FloatField(
            allow_null=True, help_text="Mean time to resolve of tickets resolved in the last 7 days."
        ),
        "first_contact_resolution": inline_serializer(
            "DashboardFirstContact",
            {
                "resolved": serializers.IntegerField(),
                "first_contact": serializers.IntegerField(help_text="Resolved without ever being escalated."),
                "rate": serializers.FloatField(allow_null=True),
            },
        ),
        "active_alerts": serializers.IntegerField(help_text="Monitoring alerts firing now."),
    },
)


class DashboardView(APIView):
    permission_classes = [IsAgent]

    @extend_schema(summary="Queue and flow figures for the dashboard", responses=DashboardSerializer)
    def get(self, request: Request) -> Response:
        return Response(manager_dashboard_for())
