"""Thin ticket API views: parse, call a selector or service, serialise."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, status, viewsets
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import roles
from helpdesk.api.base import AgentReadManagerWrite, IsAgent, IsManager
from helpdesk.api.if_match import (
    IF_MATCH,
    IF_MATCH_RESPONSES,
    VersionedViewSetMixin,
    etag,
    expected_version,
    required_version,
)
from helpdesk.errors import NotFound, TooLarge
from helpdesk.idempotency import idempotent
from tickets import attachment_rules, services
from tickets.api import serializers as s
from tickets.filters import KnownIssueFilter, TicketFilter
from tickets.models import Category, Kind, KnownIssue, Ticket, Via
from tickets.selectors import scoped
from tickets.services import sla
from tickets.services.base import require_worker


def ticket_response(ticket: Ticket, code: int = status.HTTP_200_OK) -> Response:
    response = Response(s.TicketSerializer(ticket).data, status=code)
    response["ETag"] = etag(ticket.version)
    return response


def refuse_oversized_body(request: Request) -> None:
    """413 before the body is read when its declared length cannot fit the limit.
    (The service checks the file itself; a reverse proxy should cap bodies too.)"""
    length = request.META.get("CONTENT_LENGTH") or ""
    if (
        length.isascii()
        and length.isdigit()
        and int(length) > attachment_rules.max_bytes() + attachment_rules.MULTIPART_SLACK
    ):
        raise TooLarge({"file": [attachment_rules.too_large_message()]})


def validated(serializer_class: type, request: Request) -> dict[str, Any]:
    # The request: ids are resolved among what the caller may see (VisibleRelatedField).
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema_view(
    list=extend_schema(summary="List tickets visible to the caller", filters=True),
    retrieve=extend_schema(summary="A ticket (404 when not visible)"),
)
class TicketViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.TicketSerializer
    filterset_class = TicketFilter
    queryset = Ticket.objects.none()  # for the schema; real reads go through selectors

    def get_queryset(self):  # type: ignore[override]
        # The page's CCs in one query (TicketSerializer.cc).
        return scoped.ticket_list_for(user=self.request.user, filters=self.request.query_params).prefetch_related("ccs")

    def filter_queryset(self, queryset):  # type: ignore[override]
        return queryset  # the selector already applied the filters

    def get_ticket(self) -> Ticket:
        return scoped.ticket_get_for(user=self.request.user, ticket_id=self.kwargs["pk"])

    @extend_schema(request=s.TicketCreateSerializer, responses={201: s.TicketSerializer})
    @idempotent
    def create(self, request: Request) -> Response:
        data = validated(s.TicketCreateSerializer, request)
        ticket = services.ticket_create(actor=request.user, **data)
        response = ticket_response(ticket, status.HTTP_201_CREATED)
        if (
            ticket.application_id
            and ticket.parent_id is None
            and ticket.kind != Kind.INCIDENT
            and roles.is_agent(request.user)
        ):
            # An open incident of the same application: offer the agent to link it.
            incidents = scoped.open_incidents_for(application_id=ticket.application_id)[:5]
            response.data["suggested_incidents"] = [
                {"id": t.pk, "number": t.number, "title": t.title, "linked_count": t.linked_count} for t in incidents
            ]
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        return ticket_response(self.get_ticket())

    @extend_schema(
        request=s.TicketUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: s.TicketSerializer, **IF_MATCH_RESPONSES},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        ticket = self.get_ticket()
        require_worker(request.user, ticket)  # before the body: its ids tell nobody else anything
        version = required_version(request, ticket)
        serializer = s.TicketUpdateSerializer(data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        ticket = services.ticket_update(
            ticket=ticket, actor=request.user, changes=dict(serializer.validated_data), expected_version=version
        )
        return ticket_response(ticket)

    @extend_schema(request=None, responses={200: s.TicketSerializer})
    @idempotent
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        return ticket_response(services.ticket_claim(ticket=self.get_ticket(), actor=request.user))

    @extend_schema(request=s.AssignSerializer, responses={200: s.TicketSerializer})
    @idempotent
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        ticket = self.get_ticket()
        require_worker(request.user, ticket)  # before the body: its ids tell nobody else anything
        data = validated(s.AssignSerializer, request)
        return ticket_response(services.ticket_assign(ticket=ticket, actor=request.user, assignee=data["assignee"]))

    @extend_schema(request=s.EscalateSerializer, responses={200: s.TicketSerializer})
    @idempotent
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str) -> Response:
        ticket = self.get_ticket()
        data = validated(s.EscalateSerializer, request)
        return ticket_response(services.ticket_escalate(ticket=ticket, actor=request.user, **data))

    @extend_schema(request=s.DeescalateSerializer, responses={200: s.TicketSerializer})
    @idempotent
    @action(detail=True, methods=["post"])
    def deescalate(self, request: Request, pk: str) -> Response:
        ticket = self.get_ticket()
        data = validated(s.DeescalateSerializer, request)
        return ticket_response(services.ticket_deescalate(ticket=ticket, actor=request.user, **data))

    @extend_schema(
        request=s.TransitionSerializer,
        responses={200: s.TicketSerializer, 409: OpenApiResponse(description="Not allowed from this status")},
    )
    @idempotent
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        ticket = self.get_ticket()
        data = validated(s.TransitionSerializer, request)
        ticket = services.ticket_transition(
            ticket=ticket, actor=request.user, expected_version=expected_version(request), **data
        )
        return ticket_response(ticket)

    @extend_schema(methods=["GET"], responses={200: s.CommentSerializer(many=True)})
    @extend_schema(methods=["POST"], request=s.CommentSerializer, responses={201: s.CommentSerializer})
    @idempotent
    @action(detail=True, methods=["get", "post"], serializer_class=s.CommentSerializer, filterset_class=None)
    def comments(self, request: Request, pk: str) -> Response:
        ticket = self.get_ticket()
        if request.method == "POST":
            data = validated(s.CommentSerializer, request)
            comment = services.comment_create(ticket=ticket, actor=request.user, via=Via.API, **data)
            return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(scoped.comment_list_for(user=request.user, ticket=ticket))
        return self.get_paginated_response(s.CommentSerializer(page, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("comment_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        responses={
            201: s.AttachmentSerializer,
            400: OpenApiResponse(description="No file, an empty file, or a type that is not accepted"),
            409: OpenApiResponse(description="The ticket is closed"),
            413: OpenApiResponse(description="Larger than HELPDESK_ATTACHMENT_MAX_MB"),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"comments/(?P<comment_id>[^/.]+)/attachments",
        parser_classes=[MultiPartParser],
        serializer_class=s.AttachmentSerializer,
        filterset_class=None,
    )
    def attachments(self, request: Request, pk: str, comment_id: str) -> Response:
        """Attach a file (multipart `file`) to a comment the caller can see."""
        ticket = self.get_ticket()
        comment = scoped.comment_get_for(user=request.user, ticket=ticket, comment_id=comment_id)
        refuse_oversized_body(request)
        data = validated(s.AttachmentUploadSerializer, request)
        attachment = services.attachment_create(comment=comment, actor=request.user, upload=data["file"])
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.ResolveLinkedSerializer,
        responses={200: inline_serializer("ResolvedLinked", {"resolved": drf_serializers.ListField()})},
    )
    @idempotent
    @action(detail=True, methods=["post"], url_path="resolve-linked")
    def resolve_linked(self, request: Request, pk: str) -> Response:
        """Resolve every active ticket linked to this incident with one public message."""
        incident = self.get_ticket()
        data = validated(s.ResolveLinkedSerializer, request)
        resolved = services.incident_resolve_linked(incident=incident, actor=request.user, message=data["message"])
        return Response({"resolved": resolved})

    @extend_schema(
        request=s.ApplyKnownIssueSerializer,
        parameters=[OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={
            200: s.TicketSerializer,
            409: OpenApiResponse(description="Already applied to this ticket, or the ticket is resolved or closed"),
            412: OpenApiResponse(description="Stale version"),
        },
    )
    @idempotent
    @action(detail=True, methods=["post"], url_path="apply-known-issue")
    def apply_known_issue(self, request: Request, pk: str) -> Response:
        """Post the known issue's steps as a public comment, link it, count it and
        optionally resolve the ticket with them. Once per ticket and known issue."""
        ticket = self.get_ticket()
        require_worker(request.user, ticket)  # before the body: its ids tell nobody else anything
        data = validated(s.ApplyKnownIssueSerializer, request)
        ticket = services.known_issue_apply(
            ticket=ticket, actor=request.user, expected_version=expected_version(request), **data
        )
        return ticket_response(ticket)

    @extend_schema(responses={200: s.TicketEventSerializer(many=True)})
    @action(detail=True, methods=["get"], serializer_class=s.TicketEventSerializer, filterset_class=None)
    def events(self, request: Request, pk: str) -> Response:
        ticket = self.get_ticket()
        page = self.paginate_queryset(scoped.event_list_for(user=request.user, ticket=ticket))
        return self.get_paginated_response(s.TicketEventSerializer(page, many=True).data)

    @extend_schema(
        request=s.NextTicketSerializer,
        responses={200: s.TicketSerializer, 204: OpenApiResponse(description="The queue is empty")},
    )
    @idempotent
    @action(detail=False, methods=["post"], url_path="next", permission_classes=[IsAgent])
    def next_ticket(self, request: Request) -> Response:
        data = validated(s.NextTicketSerializer, request)
        ticket = services.next_ticket_claim(actor=request.user, tier=data.get("tier"))
        if ticket is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return ticket_response(ticket)


class AttachmentDownloadView(APIView):
    """A comment attachment, for those who may see the comment (404 otherwise).

    Always a download: `Content-Disposition: attachment`, `nosniff`, a sandboxing
    CSP, and a content type from a short list (else application/octet-stream)."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The body is a file whatever the Accept header says; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="Missing, or not visible to the caller"),
        },
    )
    def get(self, request: Request, pk: str) -> FileResponse:
        attachment = scoped.attachment_get_for(user=request.user, attachment_id=pk)
        try:
            handle = attachment_rules.storage().open(attachment.stored_name, "rb")
        except FileNotFoundError:
            raise NotFound("The file is no longer available.") from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.name,
            content_type=attachment_rules.served_content_type(attachment.content_type),
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


class PriorityMatrixView(APIView):
    """The impact x urgency matrix. Agents read; managers replace all 9 cells."""

    permission_classes = [AgentReadManagerWrite]

    @extend_schema(responses=s.PriorityMatrixSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._payload(services.priority_matrix()))

    @extend_schema(request=s.PriorityMatrixSerializer, responses=s.PriorityMatrixSerializer)
    def put(self, request: Request) -> Response:
        data = validated(s.PriorityMatrixSerializer, request)
        return Response(self._payload(services.priority_matrix_update(actor=request.user, cells=data["cells"])))

    @staticmethod
    def _payload(matrix: dict[tuple[str, str], int]) -> dict[str, Any]:
        return {"cells": [{"impact": i, "urgency": u, "priority": p} for (i, u), p in matrix.items()]}


class CategoryViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    serializer_class = s.CategorySerializer
    permission_classes = [AgentReadManagerWrite]
    queryset = Category.objects.all()
    filterset_fields = ["is_active", "scope_tier"]


@extend_schema_view(
    list=extend_schema(summary="Known issues; `q` searches title, symptoms and steps as the agent types"),
)
class KnownIssueViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """The knowledge base: agents read, managers write. Applied known issues
    cannot be deleted (409); retire them with `is_active: false`."""

    serializer_class = s.KnownIssueSerializer
    permission_classes = [AgentReadManagerWrite]
    filterset_class = KnownIssueFilter
    queryset = KnownIssue.objects.none()  # for the schema; reads go through the selector

    def get_queryset(self):  # type: ignore[override]
        if self.action == "list":
            return scoped.known_issue_list_for(user=self.request.user, filters=self.request.query_params)
        return KnownIssue.objects.all()

    def filter_queryset(self, queryset):  # type: ignore[override]
        return queryset  # the selector already applied the filters


class SlaPoliciesView(APIView):
    """First-response and resolution targets per priority (managers)."""

    permission_classes = [IsManager]

    @extend_schema(responses=s.SlaPoliciesSerializer)
    def get(self, request: Request) -> Response:
        return Response(self._payload(sla.sla_policies().values()))

    @extend_schema(request=s.SlaPoliciesSerializer, responses=s.SlaPoliciesSerializer)
    def put(self, request: Request) -> Response:
        data = validated(s.SlaPoliciesSerializer, request)
        sla.sla_policies_update(actor=request.user, policies=data["policies"])
        return Response(self._payload(sla.sla_policies().values()))

    @staticmethod
    def _payload(policies: Any) -> dict[str, Any]:
        return {"policies": s.SlaPolicySerializer(sorted(policies, key=lambda p: p.priority), many=True).data}


class BusinessCalendarView(APIView):
    """The working calendar business-hours SLAs count in (managers)."""

    permission_classes = [IsManager]

    @extend_schema(responses=s.BusinessCalendarSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.BusinessCalendarSerializer(sla.calendar_row()).data)

    @extend_schema(request=s.BusinessCalendarSerializer, responses=s.BusinessCalendarSerializer)
    def put(self, request: Request) -> Response:
        serializer = s.BusinessCalendarSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "holidays" in data:
            data["holidays"] = sorted({d.isoformat() for d in data["holidays"]})
        if "working_days" in data:
            data["working_days"] = sorted(set(data["working_days"]))
        row = sla.business_calendar_update(actor=request.user, data=data)
        return Response(s.BusinessCalendarSerializer(row).data)
