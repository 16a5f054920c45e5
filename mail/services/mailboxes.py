"""Mailboxes: validation and edits (API, admin and the manager page alike),
bearer tokens of http mailboxes.

The serializer checks JSON types; the rules that involve several fields or the
outbound policy live here and run on the merged state (stored values + changes).
Managers configure mailboxes; that is decided where the request enters, so these
services take no actor. A stored password is only ever sent to the host it was
entered for: changing the host clears it unless a new one is given.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from helpdesk import outbound, text
from helpdesk.errors import Conflict, FieldErrors, InvalidInput
from helpdesk.versioning import versioned_update
from mail.models import MIN_POLL_SECONDS, Mailbox, MailboxKind, Security

MAILBOX_FIELDS = (
    "name",
    "address",
    "kind",
    "host",
    "port",
    "security",
    "username",
    "password",
    "folder",
    "poll_interval_seconds",
    "enabled",
    "acknowledge",
    "category",
    "application",
    "urgency",
    "impact",
)
DEFAULT_PORTS = {Security.SSL: 993, Security.STARTTLS: 143, Security.NONE: 143}
# IMAP mailbox names: printable, no wildcards (RFC 3501 list-wildcards), no quoting tricks.
_FOLDER = re.compile(r"[^\x00-\x1f\x7f*%\"\\]{1,200}")
# Host names and address literals an IMAP connection may name.
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]]{1,253}")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _unknown_fields(changes: dict[str, Any]) -> None:
    unknown = sorted(set(changes) - set(MAILBOX_FIELDS))
    if unknown:
        raise InvalidInput({field: ["Unknown field."] for field in unknown})


def mailbox_validate(values: dict[str, Any], *, stored_host: str | None = None) -> None:
    """The rules for a whole mailbox. The outbound policy judges the IMAP host
    when it is new or changes (it is judged again at every connect)."""
    errors = FieldErrors()
    if not str(values.get("name") or "").strip():
        errors.add("name", "This field may not be blank.")
    address = str(values.get("address") or "")
    try:
        validate_email(address)
    except ValidationError:
        errors.add("address", "Enter a valid e-mail address.")
    else:
        if "+" in address.partition("@")[0]:
            errors.add("address", "The address may not contain '+': replies come back to <local>+<token>@<domain>.")
    kind = values.get("kind")
    if kind not in MailboxKind.values:
        errors.add("kind", f"One of {', '.join(MailboxKind.values)}.")
    if values.get("security") not in Security.values:
        errors.add("security", f"One of {', '.join(Security.values)}.")
    interval = values.get("poll_interval_seconds")
    if interval is None or interval < MIN_POLL_SECONDS:
        errors.add("poll_interval_seconds", f"At least {MIN_POLL_SECONDS} seconds.")
    if kind == MailboxKind.IMAP:
        host = str(values.get("host") or "")
        port = values.get("port") or DEFAULT_PORTS.get(values.get("security"), 993)
        if not host:
            errors.add("host", "An IMAP mailbox needs a host.")
        elif not _HOST.fullmatch(host):
            errors.add("host", "A host name or an IP address.")
        elif host != stored_host and (problem := outbound.host_problem(host.strip("[]"), port)):
            errors.add("host", f"Refused by the outbound policy: {problem}.")
        if not 1 <= port <= 65535:
            errors.add("port", "Between 1 and 65535.")
        if not values.get("username"):
            errors.add("username", "An IMAP mailbox needs a user name.")
        if not values.get("password"):
            errors.add("password", "An IMAP mailbox needs a password.")
        if not _FOLDER.fullmatch(str(values.get("folder") or "")):
            errors.add("folder", "A folder name without control characters, quotes, backslashes, * or %.")
    for field in ("name", "username", "password", "folder", "host"):
        if isinstance(values.get(field), str) and (problem := text.text_problem(values[field])):
            errors.add(field, problem)
    errors.raise_any()


def _values(mailbox: Mailbox) -> dict[str, Any]:
    return {field: getattr(mailbox, field) for field in MAILBOX_FIELDS}


def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    if isinstance(fields.get("address"), str):
        fields = {**fields, "address": fields["address"].strip().lower()}
    return fields


def mailbox_create(**fields: Any) -> tuple[Mailbox, str | None]:
    """Create a mailbox. An http mailbox also returns its bearer token, shown this
    once (only its hash is stored)."""
    _unknown_fields(fields)
    fields = _normalised(fields)
    values = {**_values(Mailbox()), **fields}
    if values.get("kind") == MailboxKind.IMAP and not values.get("port"):
        values["port"] = DEFAULT_PORTS.get(values.get("security"), 993)
    mailbox_validate(values)
    with transaction.atomic():
        mailbox = Mailbox.objects.create(**values)
        token = mailbox_token_issue(mailbox) if mailbox.kind == MailboxKind.HTTP else None
    return mailbox, token


def mailbox_update(*, mailbox: Mailbox, changes: dict[str, Any], expected_version: int | None = None) -> Mailbox:
    """Change a mailbox's settings (one versioned edit). The kind is fixed."""
    _unknown_fields(changes)
    changes = _normalised(changes)
    if "kind" in changes and changes["kind"] != mailbox.kind:
        raise InvalidInput({"kind": ["The kind of a mailbox cannot change; create another mailbox."]})

    def prepare(locked: Mailbox, changes: dict[str, Any]) -> dict[str, Any]:
        if "host" in changes and changes["host"] != locked.host and "password" not in changes:
            changes = {**changes, "password": ""}  # never send a stored password to a new host
        if {"host", "port", "security", "username", "folder"} & {
            f for f in changes if changes[f] != getattr(locked, f)
        }:
            # Another mailbox on the server: its UIDs mean nothing here.
            changes = {**changes, "uidvalidity": None, "last_uid": 0}
        mailbox_validate({**_values(locked), **changes}, stored_host=locked.host)
        return changes

    # The poller's health fields are written with UPDATE; only ours are saved.
    return versioned_update(instance=mailbox, changes=changes, expected_version=expected_version, prepare=prepare)


def mailbox_token_issue(mailbox: Mailbox) -> str:
    """A new bearer token for an http mailbox; the old one stops working at once."""
    if mailbox.kind != MailboxKind.HTTP:
        raise Conflict("Only http mailboxes receive posted messages with a token.")
    token = secrets.token_urlsafe(32)
    mailbox.token_hash = _token_hash(token)
    mailbox.save(update_fields=["token_hash"])
    return token


def mailbox_for_token(token: str) -> Mailbox | None:
    """The enabled http mailbox this bearer token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    digest = _token_hash(token)
    mailbox = Mailbox.objects.filter(token_hash=digest, kind=MailboxKind.HTTP, enabled=True).first()
    if mailbox is None or not secrets.compare_digest(mailbox.token_hash, digest):
        return None
    return mailbox
