"""Mail API serializers: JSON types and ranges; the rules live in mail.services."""

from __future__ import annotations

from rest_framework import serializers

from catalog.models import Application, Level
from helpdesk.api.fields import SafePrimaryKeyRelatedField
from mail.models import InboundMessage, Mailbox, MailboxKind, Outcome, Security
from mail.services.mailboxes import MAILBOX_FIELDS
from tickets.models import Category


class MailboxSerializer(serializers.ModelSerializer):
    """A mailbox. ``password`` is write-only; an http mailbox's bearer token is only
    in the create and rotate-token responses."""

    name = serializers.CharField(max_length=100)
    address = serializers.CharField(max_length=254)
    kind = serializers.ChoiceField(choices=MailboxKind.choices)
    host = serializers.CharField(max_length=253, required=False, allow_blank=True)
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True)
    security = serializers.ChoiceField(choices=Security.choices, required=False)
    username = serializers.CharField(max_length=254, required=False, allow_blank=True)
    password = serializers.CharField(
        max_length=500, required=False, allow_blank=True, write_only=True, trim_whitespace=False
    )
    folder = serializers.CharField(max_length=200, required=False)
    poll_interval_seconds = serializers.IntegerField(min_value=30, max_value=86400, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    category = SafePrimaryKeyRelatedField(queryset=Category.objects.all(), required=False, allow_null=True)
    application = SafePrimaryKeyRelatedField(queryset=Application.objects.all(), required=False, allow_null=True)
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = Mailbox
        read_only_fields = [
            "id",
            "has_password",
            "last_polled_at",
            "last_success_at",
            "last_error",
            "consecutive_failures",
            "created_at",
            "version",
        ]
        # What the service takes (mail.services.mailboxes), then what only the helpdesk writes.
        fields = ["id", *MAILBOX_FIELDS, *read_only_fields[1:]]

    def get_has_password(self, mailbox: Mailbox) -> bool:
        return bool(mailbox.password)


class MailboxCreatedSerializer(MailboxSerializer):
    token = serializers.CharField(
        read_only=True, allow_null=True, help_text="An http mailbox's bearer token, shown this once."
    )

    class Meta(MailboxSerializer.Meta):
        fields = [*MailboxSerializer.Meta.fields, "token"]


class MailboxTokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True, help_text="The new bearer token, shown this once.")


class IngestedSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices, read_only=True)
    ticket = serializers.IntegerField(read_only=True, allow_null=True)
    comment = serializers.IntegerField(read_only=True, allow_null=True)
    reason = serializers.CharField(read_only=True)


class QuarantinedSerializer(serializers.ModelSerializer):
    mailbox_name = serializers.CharField(source="mailbox.name", read_only=True)

    class Meta:
        model = InboundMessage
        fields = ["id", "mailbox", "mailbox_name", "received_at", "reason", "from_address", "subject", "size"]
        read_only_fields = fields
