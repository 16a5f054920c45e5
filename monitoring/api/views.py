"""Thin monitoring API views: parse, call a selector or service, serialise."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.api.serializers import ApplicationSerializer
from catalog.models import Application
from helpdesk.api.base import AgentReadManagerWrite, IsAgent, IsManager
from helpdesk.api.if_match import VersionedViewSetMixin
from monitoring import selectors
from monitoring.api import serializers as s
from monitoring.filters import AlertFilter, MetricSourceFilter, MonitorFilter, SilenceFilter
from monitoring.models import Alert, MetricSource, Monitor, Silence
from monitoring.services import alerts, config


def validated(serializer: Any) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# The catalogue's applications, served by monitoring because of the health action
# (the App Score and the alerts); the serializer is the catalogue's. A comment, not
# a docstring: the schema describes the operations with the mixin's docstring.
class ApplicationViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    serializer_class = ApplicationSerializer
    permission_classes = [AgentReadManagerWrite]
    queryset = Application.objects.all()
    filterset_fields = ["environment", "criticality", "owner_tier"]

    @extend_schema(responses=s.ApplicationHealthSerializer)
    @action(detail=True, methods=["get"], filterset_fields=None)
    def health(self, request: Request, pk: str) -> Response:
        """What L1 checks while the customer is on the phone: the App Score over
        7 days, the firing alerts and the open incidents of the application."""
        application = self.get_object()
        return Response(s.ApplicationHealthSerializer(selectors.application_health(application)).data)


@extend_schema_view(
    create=extend_schema(
        request=s.MetricSourceSerializer,
        responses={201: s.MetricSourceCreatedSerializer},
        description="Push kinds (alertmanager, push): the response carries `push_token`, shown this once.",
    ),
)
class MetricSourceViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Metric sources. Agents read, managers write; credentials are never returned."""

    serializer_class = s.MetricSourceSerializer
    permission_classes = [AgentReadManagerWrite]
    queryset = MetricSource.objects.all()
    filterset_class = MetricSourceFilter

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated(self.get_serializer(data=request.data))
        source, push_token = config.source_create(**data)
        body = s.MetricSourceSerializer(source).data
        if push_token is not None:
            body["push_token"] = push_token
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: s.MetricSourceSerializer) -> None:
        serializer.instance = config.source_update(
            source=serializer.instance,
            changes=validated(serializer),
            expected_version=self.if_match_version,
        )

    @extend_schema(
        request=None, responses={200: s.PushTokenSerializer, 409: OpenApiResponse(description="Pull source")}
    )
    @action(detail=True, methods=["post"], url_path="rotate-token", permission_classes=[IsManager])
    def rotate_token(self, request: Request, pk: str) -> Response:
        """A new push token (shown this once); the old one stops working."""
        token = config.source_push_token_rotate(source=self.get_object())
        return Response({"push_token": token})


class SamplePagination(PageNumberPagination):
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 2000


class MonitorViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Monitors. Agents read and may poll now, managers write."""

    serializer_class = s.MonitorSerializer
    permission_classes = [AgentReadManagerWrite]
    queryset = Monitor.objects.all()
    filterset_class = MonitorFilter

    def perform_create(self, serializer: s.MonitorSerializer) -> None:
        serializer.instance = config.monitor_create(**validated(serializer))

    def perform_update(self, serializer: s.MonitorSerializer) -> None:
        serializer.instance = config.monitor_update(
            monitor=serializer.instance,
            changes=validated(serializer),
            expected_version=self.if_match_version,
        )

    @extend_schema(
        request=None,
        responses={
            202: s.PollScheduledSerializer,
            409: OpenApiResponse(description="Push-only source, or disabled"),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAgent], filterset_class=None)
    def poll(self, request: Request, pk: str) -> Response:
        """Poll this monitor now (in the background)."""
        monitor = self.get_object()
        scheduled_at = config.monitor_poll_now(monitor=monitor)
        body = s.PollScheduledSerializer({"monitor": monitor.pk, "scheduled_at": scheduled_at}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[s.SampleQuerySerializer], responses={200: s.SampleSerializer(many=True)}, filters=False)
    @action(
        detail=True,
        methods=["get"],
        serializer_class=s.SampleSerializer,
        filterset_class=None,
        pagination_class=SamplePagination,
    )
    def samples(self, request: Request, pk: str) -> Response:
        """The monitor's samples in [since, until), by time."""
        monitor = self.get_object()
        query = validated(s.SampleQuerySerializer(data=request.query_params))
        samples = selectors.sample_list(
            monitor=monitor,
            since=query.get("since"),
            until=query.get("until"),
            newest_first=query["ordering"] == "-at",
        )
        page = self.paginate_queryset(samples.only("at", "value"))
        return self.get_paginated_response(s.SampleSerializer(page, many=True).data)


@extend_schema_view(list=extend_schema(summary="Alerts, newest first"))
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts are raised by polls and webhooks, never created through the API."""

    serializer_class = s.AlertSerializer
    permission_classes = [IsAgent]
    queryset = Alert.objects.all()
    filterset_class = AlertFilter

    @extend_schema(request=None, responses={200: s.AlertSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def acknowledge(self, request: Request, pk: str) -> Response:
        alert = alerts.alert_acknowledge(alert=self.get_object(), actor=request.user)
        return Response(s.AlertSerializer(alert).data)

    @extend_schema(responses={200: s.AlertSnapshotSerializer})
    @action(detail=True, methods=["get"], filterset_class=None)
    def snapshot(self, request: Request, pk: str) -> Response:
        """The chart as it was when the alert fired: series, baseline band, thresholds."""
        return Response(s.AlertSnapshotSerializer(self.get_object().snapshot).data)


class SilenceViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Maintenance windows. Agents read, managers write."""

    serializer_class = s.SilenceSerializer
    permission_classes = [AgentReadManagerWrite]
    queryset = Silence.objects.all().order_by("-starts_at", "-id")
    filterset_class = SilenceFilter

    def perform_create(self, serializer: s.SilenceSerializer) -> None:
        serializer.instance = config.silence_create(actor=self.request.user, **validated(serializer))

    def perform_update(self, serializer: s.SilenceSerializer) -> None:
        serializer.instance = config.silence_update(
            silence=serializer.instance,
            changes=validated(serializer),
            expected_version=self.if_match_version,
        )
