"""Push endpoints: Alertmanager webhooks and raw samples.

Senders are machines, not users: they present the bearer token generated for
their source (``Authorization: Bearer <push_token>``), and nothing else
authenticates here (no session, so no CSRF; no user token).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.api.authentication import BearerTokenAuthentication
from monitoring.api.serializers import PushCountsSerializer
from monitoring.models import MetricSource, SourceKind
from monitoring.services import push


class PushTokenAuthentication(BearerTokenAuthentication):
    """``Authorization: Bearer <push token>`` of an enabled source of ``kind``;
    ``request.auth`` is then that source."""

    kind: str = ""

    def lookup(self, token: str) -> MetricSource | None:
        return push.source_for_token(token, self.kind)


class AlertmanagerTokenAuthentication(PushTokenAuthentication):
    kind = SourceKind.ALERTMANAGER


class SamplesTokenAuthentication(PushTokenAuthentication):
    kind = SourceKind.PUSH


class AlertmanagerTokenScheme(OpenApiAuthenticationExtension):
    target_class = AlertmanagerTokenAuthentication
    name = "alertmanagerPushToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "push_token of an alertmanager source."}


class SamplesTokenScheme(AlertmanagerTokenScheme):
    target_class = SamplesTokenAuthentication
    name = "samplesPushToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "push_token of a push source."}


class HasPushSource(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, MetricSource)


class AlertmanagerWebhookView(APIView):
    """Prometheus Alertmanager webhook receiver (payload version 4). Repeats are
    deduplicated by fingerprint; the label ``application`` (a slug) and
    ``severity`` map the alert. A small push is applied at once (200 with counts);
    a large one, or one behind a waiting push of the same source, is stored and
    applied by a worker in arrival order (202 ``{"queued": n}``)."""

    authentication_classes = [AlertmanagerTokenAuthentication]
    permission_classes = [HasPushSource]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: PushCountsSerializer,
            202: PushCountsSerializer,
            400: OpenApiResponse(description="Not a version 4 payload"),
            413: OpenApiResponse(description="More than HELPDESK_ALERTMANAGER_MAX_ALERTS alerts"),
        },
    )
    def post(self, request: Request) -> Response:
        result = push.alertmanager_ingest(source=request.auth, payload=request.data)
        return Response(result, status=202 if "queued" in result else 200)


class SamplesPushView(APIView):
    """Raw samples ``[{"monitor", "value", "at"}]`` for monitors of a push source."""

    authentication_classes = [SamplesTokenAuthentication]
    permission_classes = [HasPushSource]

    @extend_schema(
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={
            200: PushCountsSerializer,
            400: OpenApiResponse(description="Malformed samples"),
            413: OpenApiResponse(description="More than HELPDESK_PUSH_MAX_SAMPLES samples"),
        },
    )
    def post(self, request: Request) -> Response:
        return Response(push.samples_ingest(source=request.auth, rows=request.data))
