"""Comment attachments: uploads under type and size limits, and the sweep of
files whose rows are gone."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import transaction
from django.utils import timezone

from helpdesk import roles
from helpdesk.errors import Conflict, InvalidInput, NotAllowed, TooLarge, field_error
from helpdesk.models import User
from tickets import attachment_rules, events
from tickets.models import Attachment, Comment, Status
from tickets.services.base import lock_ticket, save_ticket

_SHARD = re.compile(r"[0-9a-f]{2}")
_STORED = re.compile(r"[0-9a-f]{32}")


def _check_uploader(comment: Comment, actor: User) -> None:
    """The comment's author or any agent (agents read every ticket); a customer
    only on their own public comments of their own tickets."""
    if roles.is_agent(actor):
        return
    if (
        roles.is_customer(actor)
        and comment.author_id == actor.pk
        and not comment.internal
        and comment.ticket.requester_id == actor.pk
    ):
        return
    raise NotAllowed("Customers attach files to their own comments only.")


def _checked_file(upload: UploadedFile) -> tuple[str, str, int, str]:
    """(clean name, content type, size, sha256) of an acceptable upload; 400 or 413 otherwise."""
    name = attachment_rules.clean_filename(upload.name)
    content_type = attachment_rules.content_type_for(name)
    if content_type is None:
        allowed = attachment_rules.allowed_extensions_text()
        raise field_error("file", f"Files of this type are not accepted; allowed: {allowed}.")
    if upload.size is not None and upload.size > attachment_rules.max_bytes():
        raise TooLarge({"file": [attachment_rules.too_large_message()]})
    digest, size, head = hashlib.sha256(), 0, b""
    for chunk in upload.chunks():
        if len(head) < attachment_rules.SIGNATURE_BYTES:
            head += chunk[: attachment_rules.SIGNATURE_BYTES - len(head)]
        digest.update(chunk)
        size += len(chunk)
        if size > attachment_rules.max_bytes():
            raise TooLarge({"file": [attachment_rules.too_large_message()]})
    if size == 0:
        raise field_error("file", "The submitted file is empty.")
    if not attachment_rules.signature_matches(name, head):
        raise field_error("file", f"The content is not a valid .{attachment_rules.extension_of(name)} file.")
    return name, content_type, size, digest.hexdigest()


def _attachment_row(comment: Comment, ticket, uploaded_by: User, stored_name: str, checked: tuple) -> Attachment:
    """The row of a stored file and its audit event (the ticket is locked by the caller)."""
    name, content_type, size, sha256 = checked
    attachment = Attachment.objects.create(
        comment=comment,
        stored_name=stored_name,
        name=name,
        size=size,
        content_type=content_type,
        sha256=sha256,
        uploaded_by=uploaded_by,
    )
    events.attachment_added(ticket, uploaded_by, attachment, comment.internal)
    return attachment


def attachment_create(*, comment: Comment, actor: User, upload: UploadedFile) -> Attachment:
    """Store ``upload`` on the comment and record an event on its ticket.

    The caller has checked the actor may see the comment. The file is written
    under a random name before the row; if the transaction fails the file is
    removed again. (If an outer transaction rolls back later, the file stays
    until attachment_files_purge.) Locking: the ticket row, as for a comment.
    """
    _check_uploader(comment, actor)
    if comment.ticket.status == Status.CLOSED:
        raise Conflict("A closed ticket takes no more attachment_rules.")
    checked = _checked_file(upload)

    storage = attachment_rules.storage()
    stored_name = storage.save(attachment_rules.new_stored_name(), upload)
    try:
        with transaction.atomic():
            ticket = lock_ticket(comment.ticket_id)
            if ticket.status == Status.CLOSED:
                raise Conflict("A closed ticket takes no more attachment_rules.")
            attachment = _attachment_row(comment, ticket, actor, stored_name, checked)
            save_ticket(ticket)
    except BaseException:
        storage.delete(stored_name)
        raise
    return attachment


def attachments_store(
    *, comment: Comment, uploaded_by: User, files: Sequence[tuple[str, bytes]]
) -> tuple[list[Attachment], list[str]]:
    """Store files that arrived with a message (e-mail) on ``comment``, each under
    the same type and size rules as an upload; one that breaks them is not stored
    and named in the second list ("name: why"), and the others still are. Runs in
    the caller's transaction, which holds the ticket's lock (no uploader check:
    the caller's channel decided who the sender is)."""
    stored: list[Attachment] = []
    refused: list[str] = []
    storage = attachment_rules.storage()
    for raw_name, content in files:
        upload = SimpleUploadedFile(raw_name or "attachment", content)
        try:
            checked = _checked_file(upload)
        except (InvalidInput, TooLarge) as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"file": [exc.detail]}
            reasons = " ".join(str(m) for messages in detail.values() for m in messages)
            refused.append(f"{attachment_rules.clean_filename(raw_name or 'attachment')}: {reasons}")
            continue
        upload.seek(0)
        stored_name = storage.save(attachment_rules.new_stored_name(), upload)
        # Should the transaction roll back, the file is removed by attachment_files_purge.
        stored.append(_attachment_row(comment, comment.ticket, uploaded_by, stored_name, checked))
    return stored, refused


def attachment_files_purge(*, older_than: timedelta = timedelta(days=1), now: datetime | None = None) -> int:
    """Delete stored files no attachment row names any more (their comment was
    deleted, or the upload's transaction rolled back), once older than
    ``older_than``: an upload in flight writes its file before its row. Only
    names this module writes (``<2 hex>/<32 hex>``) are touched; one shard
    directory at a time, so memory stays small. Returns the number removed."""
    root = Path(settings.HELPDESK_ATTACHMENT_ROOT)
    if not root.is_dir():
        return 0
    cutoff = (now or timezone.now()).timestamp() - older_than.total_seconds()
    removed = 0
    for shard in sorted(p for p in root.iterdir() if p.is_dir() and _SHARD.fullmatch(p.name)):
        files = {f"{shard.name}/{f.name}": f for f in shard.iterdir() if f.is_file() and _STORED.fullmatch(f.name)}
        if not files:
            continue
        kept = set(Attachment.objects.filter(stored_name__in=list(files)).values_list("stored_name", flat=True))
        for stored_name, path in files.items():
            if stored_name not in kept and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
