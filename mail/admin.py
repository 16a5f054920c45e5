"""Admin for mail: mailboxes are saved through ``mail.services.mailboxes`` (so the
admin validates like the API and the page; the password is write-only), the
messages mailboxes took are read-only and their raw bytes are never shown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from helpdesk.admin import ReadOnlyAdminMixin, ServiceForm
from helpdesk.errors import ServiceError
from mail.models import InboundMessage, Mailbox, MailboxKind
from mail.services import mailboxes

FORM_FIELDS = mailboxes.MAILBOX_FIELDS


class MailboxAdminForm(ServiceForm):
    # The stored password is never rendered; leaving the box empty keeps it.
    password = forms.CharField(
        required=False,
        strip=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="IMAP only. Leave empty to keep the stored one (changing the host clears it).",
    )

    class Meta:
        model = Mailbox
        fields = FORM_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["kind"].disabled = True  # fixed once created
            self.fields["password"].help_text = (
                "A password is set. " if self.instance.password else "No password is set. "
            ) + self.fields["password"].help_text

    def service_values(self, data: dict[str, Any]) -> dict[str, Any]:
        values = {field: data.get(field) for field in FORM_FIELDS}
        if self.instance.pk and not values.get("password"):
            values.pop("password")  # an empty box keeps the stored password
        if values.get("port") is None:
            values.pop("port")
        return values

    def validate(self, values: dict[str, Any]) -> None:
        values = self.service_values(values)
        if self.instance.pk:
            stored = {field: getattr(self.instance, field) for field in FORM_FIELDS}
            if "host" in values and values["host"] != self.instance.host and "password" not in values:
                values["password"] = ""  # as mailbox_update: a stored password never goes to a new host
            merged = {**stored, **values, "kind": self.instance.kind}
            mailboxes.mailbox_validate(merged, stored_host=self.instance.host)
        else:
            merged = {**values}
            if merged.get("kind") == MailboxKind.IMAP and not merged.get("port"):
                merged["port"] = mailboxes.DEFAULT_PORTS.get(merged.get("security"), 993)
            mailboxes.mailbox_validate(merged)


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxAdminForm
    list_display = ("name", "kind", "address", "enabled", "last_polled_at", "last_success_at", "consecutive_failures")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "address", "host")
    readonly_fields = ("last_polled_at", "last_success_at", "last_error", "consecutive_failures", "version")
    actions = ["rotate_token"]

    def save_model(self, request: HttpRequest, obj: Mailbox, form: MailboxAdminForm, change: bool) -> None:
        values = form.service_values(form.cleaned_data)
        if change:
            values.pop("kind", None)
            saved = mailboxes.mailbox_update(mailbox=obj, changes=values)
        else:
            saved, token = mailboxes.mailbox_create(**values)
            if token:
                self.message_user(request, f"Bearer token of {saved.name} (shown once): {token}", messages.WARNING)
        obj.pk, form.instance = saved.pk, saved

    @admin.action(description="Issue a new bearer token (http mailboxes; the old one stops working)")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        for mailbox in queryset:
            try:
                token = mailboxes.mailbox_token_issue(mailbox)
            except ServiceError as error:
                self.message_user(request, f"{mailbox.name}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"Bearer token of {mailbox.name} (shown once): {token}", messages.WARNING)


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What each mailbox took and what became of it. The raw bytes are not shown
    (managers download a quarantined message from the Quarantine page)."""

    list_display = ("received_at", "mailbox", "outcome", "from_address", "subject", "size", "ticket")
    list_filter = ("outcome", "mailbox")
    search_fields = ("from_address", "subject", "message_key")
    list_select_related = ("mailbox", "ticket")
    date_hierarchy = "received_at"
    fields = (
        "mailbox",
        "message_key",
        "received_at",
        "outcome",
        "reason",
        "from_address",
        "subject",
        "size",
        "ticket",
        "comment",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMessage]:
        return super().get_queryset(request).defer("raw")
