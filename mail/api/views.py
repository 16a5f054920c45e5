"""The mail API: mailboxes (managers), the raw-message endpoint (an http
mailbox's bearer token), the quarantine (managers)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.api.authentication import BearerTokenAuthentication
from helpdesk.api.base import IsManager, no_store_response, validated
from helpdesk.api.if_match import VersionedViewSetMixin
from helpdesk.errors import TooLarge
from mail.api import serializers as s
from mail.models import InboundMessage, Mailbox, Outcome
from mail.services import ingest, mailboxes


@extend_schema_view(
    create=extend_schema(
        responses={201: s.MailboxCreatedSerializer},
        description="Add a mailbox. An http mailbox's response carries its bearer `token`, shown this once.",
    ),
)
class MailboxViewSet(VersionedViewSetMixin, viewsets.ModelViewSet):
    """Mailboxes (managers): where customers' mail comes in (docs/EMAIL.md). The
    IMAP password and the http token are never returned after they are set."""

    serializer_class = s.MailboxSerializer
    permission_classes = [IsManager]
    queryset = Mailbox.objects.select_related("category", "application").defer("password")
    filterset_fields = ["kind", "enabled"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated(self.get_serializer(data=request.data))
        mailbox, token = mailboxes.mailbox_create(**data)
        body = s.MailboxCreatedSerializer(mailbox).data
        body["token"] = token
        return no_store_response(body, status.HTTP_201_CREATED)

    def perform_update(self, serializer: s.MailboxSerializer) -> None:
        serializer.instance = mailboxes.mailbox_update(
            mailbox=serializer.instance, changes=validated(serializer), expected_version=self.if_match_version
        )

    @extend_schema(request=None, responses={200: s.MailboxTokenSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request: Request, pk: str) -> Response:
        """A new bearer token for an http mailbox (shown this once); the old one stops working at once."""
        token = mailboxes.mailbox_token_issue(self.get_object())
        return no_store_response({"token": token}, status.HTTP_200_OK)


class RawMessageParser(BaseParser):
    """The request body as bytes (an RFC 5322 message), at most HELPDESK_MAIL_MAX_BYTES."""

    media_type = "message/rfc822"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        limit = settings.HELPDESK_MAIL_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise TooLarge(f"A message may be at most {limit // 2**20} MB.")
        return raw


class MailboxTokenAuthentication(BearerTokenAuthentication):
    """``Authorization: Bearer <mailbox token>`` of an enabled http mailbox;
    ``request.auth`` is then that mailbox. Nothing else authenticates here."""

    def lookup(self, token: str) -> Mailbox | None:
        return mailboxes.mailbox_for_token(token)


class MailboxTokenScheme(OpenApiAuthenticationExtension):
    target_class = MailboxTokenAuthentication
    name = "mailboxToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "The token of an http mailbox."}


class HasMailbox(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Mailbox)


class InboundMailView(APIView):
    """One raw RFC 5322 message for the http mailbox the token belongs to. Taken
    once: a re-send answers ``duplicate`` with the ticket it made."""

    authentication_classes = [MailboxTokenAuthentication]
    permission_classes = [HasMailbox]
    parser_classes = [RawMessageParser]

    @extend_schema(
        request={"message/rfc822": OpenApiTypes.BINARY},
        responses={
            202: s.IngestedSerializer,
            413: OpenApiResponse(description="Larger than HELPDESK_MAIL_MAX_BYTES"),
            415: OpenApiResponse(description="Not message/rfc822"),
        },
    )
    def post(self, request: Request) -> Response:
        raw = request.data
        if not isinstance(raw, bytes) or not raw.strip():
            raise exceptions.ParseError("Send the raw message as the body (Content-Type: message/rfc822).")
        result = ingest.mail_ingest(mailbox=request.auth, raw=raw)
        body = {"outcome": result.outcome, "ticket": result.ticket, "comment": result.comment, "reason": result.reason}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class QuarantineViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Messages that could not be taken (managers): why, and a retry once fixed."""

    serializer_class = s.QuarantinedSerializer
    permission_classes = [IsManager]
    queryset = (
        InboundMessage.objects.filter(outcome=Outcome.QUARANTINED)
        .select_related("mailbox")
        .defer("raw")
        .order_by("-received_at", "-id")
    )
    filterset_fields = ["mailbox"]

    @extend_schema(request=None, responses={200: s.IngestedSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        """Take the message again; the answer says what became of it this time."""
        result = ingest.quarantine_retry(message=self.get_object())
        body = {"outcome": result.outcome, "ticket": result.ticket, "comment": result.comment, "reason": result.reason}
        return Response(body)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def discard(self, request: Request, pk: str) -> Response:
        """Junk: the message is marked ignored and its bytes deleted."""
        ingest.quarantine_discard(message=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
