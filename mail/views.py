"""Mail pages: for managers, mailboxes (their health, settings, tokens, a connection
test) and the quarantine; for agents, the original message of a ticket's e-mail. Thin views: every write goes through the service the API
and the admin use (``mail.services.mailboxes``, ``mail.services.ingest``).

An http mailbox's bearer token is rendered in the answer to the POST that made it
(create, rotate) and nowhere else: it is not kept in the session or a message, so
a reload or the back button cannot show it again.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.errors import ServiceError, StaleVersion
from helpdesk.pages import agent_required, error_text, manager_required, paginate, see_other
from helpdesk.text import parse_id
from mail import imap
from mail.forms import EnableForm, MailboxForm
from mail.models import InboundMessage, Mailbox, MailboxKind, Outcome
from mail.services import ingest, mailboxes, polling
from tickets.selectors import scoped


def _mailbox(mailbox_id: int) -> Mailbox:
    mailbox = Mailbox.objects.select_related("category", "application").filter(pk=mailbox_id).first()
    if mailbox is None:
        raise Http404
    return mailbox


def _quarantined(message_id: int) -> InboundMessage:
    message = (
        InboundMessage.objects.filter(pk=message_id, outcome=Outcome.QUARANTINED).select_related("mailbox").first()
    )
    if message is None:
        raise Http404
    return message


def _token_page(request: HttpRequest, mailbox: Mailbox, token: str, *, created: bool) -> HttpResponse:
    inbound = request.build_absolute_uri(reverse("mail-inbound"))
    response = render(
        request,
        "mail/pages/token.html",
        {"mailbox": mailbox, "token": token, "created": created, "inbound_url": inbound, "section": "mailboxes"},
    )
    response["Cache-Control"] = "no-store"  # it carries a secret
    return response


@manager_required
@require_GET
def mailbox_list(request: HttpRequest) -> HttpResponse:
    return _mailbox_list(request)


def _mailbox_list(request: HttpRequest, status: int = 200) -> HttpResponse:
    queryset = (
        Mailbox.objects.defer("password")
        .annotate(quarantined=Count("messages", filter=Q(messages__outcome=Outcome.QUARANTINED)))
        .order_by("name", "id")
    )
    context = {"page": paginate(request, queryset), "kinds": MailboxKind.choices, "section": "mailboxes"}
    return render(request, "mail/pages/mailboxes.html", context, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def mailbox_new(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind") or request.GET.get("kind") or MailboxKind.HTTP
    if kind not in MailboxKind.values:
        kind = MailboxKind.HTTP
    form = MailboxForm(request.POST if request.method == "POST" else None, kind=kind)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                mailbox, token = mailboxes.mailbox_create(**form.values())
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, f"Mailbox {mailbox.name} created.")
                if token:
                    return _token_page(request, mailbox, token, created=True)
                return see_other(reverse("mail-mailboxes"))
        status = 400
    context = {"form": form, "kind": kind, "kinds": MailboxKind.choices, "mailbox": None, "section": "mailboxes"}
    return render(request, "mail/pages/mailbox_form.html", context, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def mailbox_edit(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _mailbox(mailbox_id)
    form = MailboxForm(request.POST if request.method == "POST" else None, kind=mailbox.kind, mailbox=mailbox)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = mailboxes.mailbox_update(
                    mailbox=mailbox, changes=form.values(), expected_version=form.cleaned_data.get("version")
                )
            except StaleVersion:
                form.add_error(None, "Someone else changed this mailbox meanwhile: reload the page and try again.")
                status = 409
            except ServiceError as error:
                form.add_service_error(error)
            else:
                messages.success(request, f"Mailbox {saved.name} saved.")
                return see_other(reverse("mail-mailboxes"))
        status = status if status != 200 else 400
    context = {"form": form, "kind": mailbox.kind, "mailbox": mailbox, "section": "mailboxes"}
    return render(request, "mail/pages/mailbox_form.html", context, status=status)


@manager_required
@require_POST
def mailbox_enable(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _mailbox(mailbox_id)
    form = EnableForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether to enable or disable the mailbox.")
        return _mailbox_list(request, status=400)
    try:
        saved = mailboxes.mailbox_update(mailbox=mailbox, changes={"enabled": form.cleaned_data["enabled"]})
    except ServiceError as error:
        # The stored settings no longer pass (a host the policy now refuses): edit them first.
        messages.error(request, f"{mailbox.name}: {error_text(error)}")
    else:
        messages.success(request, f"Mailbox {saved.name} {'enabled' if saved.enabled else 'disabled'}.")
    return see_other(reverse("mail-mailboxes"))


@manager_required
@require_POST
def mailbox_rotate_token(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    mailbox = _mailbox(mailbox_id)
    try:
        token = mailboxes.mailbox_token_issue(mailbox)
    except ServiceError as error:
        messages.error(request, error_text(error))
        return see_other(reverse("mail-mailboxes"))
    return _token_page(request, mailbox, token, created=False)


@manager_required
@require_POST
def mailbox_test(request: HttpRequest, mailbox_id: int) -> HttpResponse:
    """Connect, log in and open the folder with the stored settings, through the
    outbound policy (mail.imap); the answer is the short reason, never a secret."""
    mailbox = _mailbox(mailbox_id)
    if mailbox.kind != MailboxKind.IMAP:
        messages.error(request, f"{mailbox.name} is an http mailbox: there is nothing to connect to.")
    elif not (mailbox.host and mailbox.username and mailbox.password):
        messages.error(request, f"{mailbox.name}: set the host, user name and password first.")
    else:
        problem = imap.imap_check(polling.imap_settings(mailbox))
        if problem is None:
            messages.success(request, f"{mailbox.name}: connected, logged in and opened {mailbox.folder}.")
        else:
            messages.error(request, f"{mailbox.name}: {problem}")
    return see_other(reverse("mail-mailbox-edit", args=[mailbox.pk]))


@manager_required
@require_GET
def quarantine_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        InboundMessage.objects.filter(outcome=Outcome.QUARANTINED)
        .select_related("mailbox")
        .defer("raw", "mailbox__password")
        .order_by("-received_at", "-id")
    )
    mailbox_id = parse_id(request.GET.get("mailbox"))
    if mailbox_id is not None:
        queryset = queryset.filter(mailbox_id=mailbox_id)
    context = {
        "page": paginate(request, queryset),
        "mailboxes": Mailbox.objects.only("name").order_by("name", "id"),
        "mailbox_id": mailbox_id,
        "section": "quarantine",
    }
    return render(request, "mail/pages/quarantine.html", context)


@manager_required
@require_POST
def quarantine_retry(request: HttpRequest, message_id: int) -> HttpResponse:
    result = ingest.quarantine_retry(message=_quarantined(message_id))
    ticket = f" HD-{result.ticket:06d}" if result.ticket else ""
    reason = f" ({result.reason})" if result.reason else ""
    text = f"Retried: {result.outcome}{ticket}{reason}."
    if result.outcome == Outcome.QUARANTINED:
        messages.error(request, text)
    else:
        messages.success(request, text)
    return see_other(reverse("mail-quarantine"))


@manager_required
@require_POST
def quarantine_discard(request: HttpRequest, message_id: int) -> HttpResponse:
    if ingest.quarantine_discard(message=_quarantined(message_id)):
        messages.success(request, "Message discarded.")
    return see_other(reverse("mail-quarantine"))


@manager_required
@require_GET
def quarantine_raw(request: HttpRequest, message_id: int) -> HttpResponse:
    """The message's bytes as a file to save, never a page: a browser neither
    renders nor sniffs it (nosniff comes from the security middleware)."""
    message = _quarantined(message_id)
    response = HttpResponse(bytes(message.raw or b""), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="quarantined-{message.pk}.eml"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@agent_required
def message_original(request: HttpRequest, message_id: int) -> HttpResponse:
    """The raw message a ticket or comment came from, as an ``.eml`` download; 404
    for a message that is on no ticket the agent sees, or whose bytes are gone
    (quarantined messages are the managers', on their own page)."""
    row = (
        InboundMessage.objects.filter(pk=message_id, ticket__isnull=False, raw__isnull=False)
        .only("id", "ticket_id", "raw")
        .first()
    )
    if row is None:
        raise Http404
    try:
        ticket = scoped.ticket_get_for(user=request.user, ticket_id=row.ticket_id)
    except ServiceError:
        raise Http404 from None
    response = HttpResponse(bytes(row.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="{ticket.number}-message-{row.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
