"""Ticket API shapes (docs/API.md "Tickets"). Serializers validate types; services decide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Application
from helpdesk import roles
from helpdesk.api.fields import SafePrimaryKeyRelatedField
from helpdesk.models import User
from tickets.models import Attachment, Category, Comment, Kind, KnownIssue, Level, Status, Ticket, TicketEvent
from tickets.selectors import scoped
from tickets.services import ACTION_ONLY_FIELDS, CC_MAX, EDITABLE_FIELDS, cc_list

MAX_TEXT = 50_000


class VisibleRelatedField(SafePrimaryKeyRelatedField):
    """An id the caller may name: the queryset is narrowed to what the caller sees
    (NAMEABLE, by model), so a missing id and one that is not the caller's get the
    same 400, word for word (docs/API.md "Errors": nobody learns that an object exists); the
    message does not repeat the id. Needs the request in the serializer's context;
    without it nothing can be named."""

    default_error_messages = {"does_not_exist": "No such object, or not one you may name."}

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        user = getattr(self.context.get("request"), "user", None)
        if user is None or not user.is_authenticated:
            return queryset.none()
        return NAMEABLE[queryset.model](user)


NAMEABLE: dict[type, Callable[[Any], QuerySet]] = {
    # Customers name only themselves (as requester or assignee); agents name anyone.
    User: lambda user: User.objects.all() if roles.is_agent(user) else User.objects.filter(pk=user.pk),
    Ticket: lambda user: scoped.ticket_queryset_for(user=user),
    # Every application: the portal's new-request form lists them all to customers.
    Application: lambda user: Application.objects.all(),
    # Customers may file under a category (docs/PRODUCT.md "Categories and scope tier"), an active one only; agents under any.
    Category: lambda user: Category.objects.all() if roles.is_agent(user) else Category.objects.filter(is_active=True),
    # The knowledge base is for agents: to a customer no known issue exists.
    KnownIssue: lambda user: KnownIssue.objects.all() if roles.is_agent(user) else KnownIssue.objects.none(),
}


class TicketSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    priority_label = serializers.CharField(read_only=True)
    needs_escalation = serializers.BooleanField(read_only=True)
    cc = serializers.SerializerMethodField(help_text="Addresses that hear the public conversation by e-mail.")

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "title",
            "description",
            "kind",
            "status",
            "tier",
            "urgency",
            "impact",
            "major",
            "priority",
            "priority_label",
            "requester",
            "assignee",
            "application",
            "category",
            "parent",
            "linked_count",
            "created_at",
            "updated_at",
            "first_response_due_at",
            "resolution_due_at",
            "first_responded_at",
            "resolved_at",
            "sla_breached",
            "needs_escalation",
            "cc",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.EmailField()))
    def get_cc(self, ticket: Ticket) -> list[str]:
        return cc_list(ticket)


class TicketCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    requester = VisibleRelatedField(queryset=User.objects.all(), required=False, allow_null=True)
    requester_email = serializers.EmailField(required=False, allow_blank=True, max_length=150)
    application = VisibleRelatedField(queryset=Application.objects.all(), required=False, allow_null=True)
    category = VisibleRelatedField(queryset=Category.objects.all(), required=False, allow_null=True)
    # Customers' kind, urgency, impact and major are ignored: their tickets start at these defaults.
    kind = serializers.ChoiceField(choices=Kind.choices, default=Kind.SERVICE_REQUEST)
    urgency = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    impact = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    major = serializers.BooleanField(default=False, help_text="A major incident (agents): tickets may link to it.")
    parent = VisibleRelatedField(queryset=Ticket.objects.all(), required=False, allow_null=True)


class TicketUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    major = serializers.BooleanField(required=False, help_text="A major incident (agents): tickets may link to it.")
    category = VisibleRelatedField(queryset=Category.objects.all(), required=False, allow_null=True)
    application = VisibleRelatedField(queryset=Application.objects.all(), required=False, allow_null=True)
    parent = VisibleRelatedField(queryset=Ticket.objects.all(), required=False, allow_null=True)
    # The whole list; the service checks each address (tickets.services.ccs).
    cc = serializers.ListField(
        child=serializers.CharField(max_length=320, trim_whitespace=False),
        max_length=CC_MAX,
        required=False,
        help_text=f"The ticket's CC addresses, the whole list (at most {CC_MAX}); agents who may work the ticket.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        raw = self.initial_data if isinstance(self.initial_data, dict) else {}
        errors = {f: [f"Change {f} through its action endpoint."] for f in ACTION_ONLY_FIELDS if f in raw}
        errors.update(
            {f: ["This field cannot be changed."] for f in raw if f not in EDITABLE_FIELDS and f not in errors}
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class AssignSerializer(serializers.Serializer):
    assignee = VisibleRelatedField(queryset=User.objects.all(), allow_null=True)


class EscalateSerializer(serializers.Serializer):
    to_tier = serializers.IntegerField(min_value=1, max_value=3)
    reason = serializers.CharField(max_length=MAX_TEXT)
    summary = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    steps_tried = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class DeescalateSerializer(serializers.Serializer):
    to_tier = serializers.IntegerField(min_value=1, max_value=3)
    reason = serializers.CharField(max_length=MAX_TEXT)


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    resolution = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")


class NextTicketSerializer(serializers.Serializer):
    tier = serializers.IntegerField(min_value=1, max_value=3, required=False)


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, attachment: Attachment) -> str:
        """The download (always as an attachment), visible like the comment."""
        return reverse("attachment-download", kwargs={"pk": attachment.pk})


class AttachmentUploadSerializer(serializers.Serializer):
    # No max_length: long names are shortened by the service, not refused.
    file = serializers.FileField(allow_empty_file=False, use_url=False)


class CommentSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=MAX_TEXT)
    internal = serializers.BooleanField(default=False)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "ticket", "author", "body", "internal", "via", "created_at", "attachments"]
        read_only_fields = ["id", "ticket", "author", "via", "created_at", "attachments"]


class TicketEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketEvent
        fields = ["id", "at", "actor", "kind", "data"]
        read_only_fields = fields


class MatrixCellSerializer(serializers.Serializer):
    impact = serializers.ChoiceField(choices=Level.choices)
    urgency = serializers.ChoiceField(choices=Level.choices)
    priority = serializers.IntegerField(min_value=1, max_value=5)


class PriorityMatrixSerializer(serializers.Serializer):
    cells = MatrixCellSerializer(many=True, allow_empty=False, max_length=9, min_length=9)


class CategorySerializer(serializers.ModelSerializer):
    scope_tier = serializers.IntegerField(min_value=1, max_value=3, default=1)

    class Meta:
        model = Category
        fields = ["id", "name", "description", "scope_tier", "is_active", "version"]
        read_only_fields = ["id", "version"]
        extra_kwargs = {"description": {"max_length": MAX_TEXT}}


class SlaPolicySerializer(serializers.Serializer):
    priority = serializers.IntegerField(min_value=1, max_value=5)
    first_response_minutes = serializers.IntegerField(min_value=1, max_value=525_600)
    resolution_minutes = serializers.IntegerField(min_value=1, max_value=525_600)
    business_hours = serializers.BooleanField()


class SlaPoliciesSerializer(serializers.Serializer):
    policies = SlaPolicySerializer(many=True, allow_empty=False, max_length=5)


@extend_schema_field({"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$", "example": "09:00"})
class HourMinuteField(serializers.TimeField):
    """A time of day written "HH:MM" (input also takes "HH:MM:SS"). Not OpenAPI's
    "time" format, which is RFC 3339's full-time with seconds and an offset."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


class BusinessCalendarSerializer(serializers.Serializer):
    timezone = serializers.CharField(max_length=64)
    working_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), min_length=1, max_length=7
    )
    day_start = HourMinuteField()
    day_end = HourMinuteField()
    holiday_country = serializers.CharField(max_length=8, allow_blank=True, required=False)
    holiday_subdivision = serializers.CharField(max_length=16, allow_blank=True, required=False)
    holidays = serializers.ListField(child=serializers.DateField(), max_length=366, required=False)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["working_days"] = sorted(set(data["working_days"]))
        return data


class ResolveLinkedSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=MAX_TEXT)


class KnownIssueSerializer(serializers.ModelSerializer):
    # application and category ids are bounded like every other id in input.
    serializer_related_field = SafePrimaryKeyRelatedField
    title = serializers.CharField(max_length=200)
    symptoms = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    resolution_steps = serializers.CharField(max_length=MAX_TEXT)

    class Meta:
        model = KnownIssue
        fields = [
            "id",
            "title",
            "symptoms",
            "resolution_steps",
            "application",
            "category",
            "usage_count",
            "is_active",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["id", "usage_count", "created_at", "updated_at", "version"]


class ApplyKnownIssueSerializer(serializers.Serializer):
    known_issue = VisibleRelatedField(queryset=KnownIssue.objects.all())
    resolve = serializers.BooleanField(default=False)
