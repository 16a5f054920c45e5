"""Page forms of the mail pages. They parse input; the rules that involve several
fields or the outbound policy stay in ``mail.services.mailboxes``, which the page,
the API and the admin all save through."""

from __future__ import annotations

from typing import Any

from django import forms

from catalog.models import Application, Level
from helpdesk.errors import ServiceError
from mail.models import Mailbox, MailboxKind, Security
from tickets.models import Category

# The fields every kind has; IMAP adds where and how to read it.
COMMON_FIELDS = ("name", "address", "enabled", "acknowledge", "category", "application", "urgency", "impact")
IMAP_FIELDS = ("host", "port", "security", "username", "password", "folder", "poll_interval_seconds")


class MailboxForm(forms.Form):
    """One mailbox of one kind (``kind`` is fixed by the page: new ones choose it,
    existing ones keep it). The password is write-only: the box is never filled,
    and leaving it empty keeps the stored one."""

    name = forms.CharField(max_length=100)
    address = forms.CharField(max_length=254, help_text="The address customers write to, without '+'.")
    host = forms.CharField(max_length=253, required=False, label="IMAP host")
    port = forms.IntegerField(
        min_value=1, max_value=65535, required=False, help_text="Empty: 993 for SSL/TLS, 143 otherwise."
    )
    security = forms.ChoiceField(choices=Security.choices, initial=Security.SSL)
    username = forms.CharField(max_length=254, required=False, label="User name")
    password = forms.CharField(
        max_length=500, required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )
    folder = forms.CharField(max_length=200, initial="INBOX")
    poll_interval_seconds = forms.IntegerField(min_value=30, max_value=86400, initial=60, label="Poll every (seconds)")
    enabled = forms.BooleanField(required=False, initial=True)
    acknowledge = forms.BooleanField(
        required=False, initial=True, label="Acknowledge new requests (a mail with the ticket's number)"
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.order_by("name", "id"), required=False, empty_label="No category"
    )
    application = forms.ModelChoiceField(
        queryset=Application.objects.order_by("name", "id"), required=False, empty_label="No application"
    )
    urgency = forms.ChoiceField(choices=Level.choices, initial=Level.MEDIUM)
    impact = forms.ChoiceField(choices=Level.choices, initial=Level.MEDIUM)
    # The version the manager edits (If-Match of the page): a concurrent edit is refused.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args: Any, kind: str, mailbox: Mailbox | None = None, **kwargs: Any) -> None:
        self.kind, self.mailbox = kind, mailbox
        if mailbox is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                **{f: getattr(mailbox, f) for f in (*COMMON_FIELDS, *IMAP_FIELDS) if f != "password"},
                "category": mailbox.category_id,
                "application": mailbox.application_id,
                "version": mailbox.version,
            }
        super().__init__(*args, **kwargs)
        if kind != MailboxKind.IMAP:
            for field in IMAP_FIELDS:
                del self.fields[field]
        else:
            stored = mailbox is not None and bool(mailbox.password)
            self.fields["password"].help_text = (
                "A password is set. Leave empty to keep it (changing the host clears it)."
                if stored
                else "No password is set."
            )
        if mailbox is None:
            del self.fields["version"]

    def values(self) -> dict[str, Any]:
        """The cleaned fields as the service takes them (an empty password box keeps the stored one)."""
        data = {f: self.cleaned_data[f] for f in self.fields if f != "version"}
        if self.mailbox is not None and "password" in data and not data["password"]:
            del data["password"]
        if self.mailbox is None:
            data["kind"] = self.kind
        return data

    def add_service_error(self, error: ServiceError) -> None:
        """Show a service's validation errors next to the fields they name."""
        detail = error.detail if isinstance(error.detail, dict) else {None: [error.detail]}
        for field, messages in detail.items():
            for message in messages if isinstance(messages, list) else [messages]:
                self.add_error(field if field in self.fields else None, str(message))


class EnableForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=(("1", "on"), ("0", "off")), coerce=lambda v: v == "1")
