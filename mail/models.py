"""Mailboxes, the messages they took, and the ticket threads mail is matched to.

Invariants the database holds:
- one ``InboundMessage`` per (mailbox, message key): the key is the Message-ID, or
  ``sha256:<digest of the raw bytes>`` for a message without one. Taking a message
  is inserting this row in the transaction that writes its ticket or comment, so a
  re-poll, a re-send or a worker killed before commit never takes it twice;
- one ``MailThread`` per ticket, holding the unguessable reply token of its
  reply address (``<local>+<token>@<domain>``);
- ``ThreadMessage.message_id`` names each message of a ticket's thread, in and out,
  for In-Reply-To and References threading.

Rules live in ``mail.services``; docs/EMAIL.md describes the channel for operators.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from catalog.models import Application, Level
from tickets.models import Category, Comment, Ticket

# A message key: a Message-ID (long ones hashed) or "sha256:" + 64 hex digits.
KEY_MAX = 255


class MailboxKind(models.TextChoices):
    IMAP = "imap", "IMAP (polled)"
    HTTP = "http", "HTTP (raw messages posted to the helpdesk)"


class Security(models.TextChoices):
    SSL = "ssl", "SSL/TLS"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None (plain text)"


MIN_POLL_SECONDS = 30


class Mailbox(models.Model):
    """An address customers write to, and how its mail reaches the helpdesk."""

    name = models.CharField(max_length=100, unique=True)
    # The address customers write to; replies go out with Reply-To <local>+<token>@<domain> of it.
    address = models.EmailField(max_length=254, unique=True)
    kind = models.CharField(max_length=4, choices=MailboxKind.choices)
    # IMAP settings (kind imap); the password is never returned by the API.
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    security = models.CharField(max_length=8, choices=Security.choices, default=Security.SSL)
    username = models.CharField(max_length=254, blank=True)
    password = models.CharField(max_length=500, blank=True)
    folder = models.CharField(max_length=200, default="INBOX")
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    # SHA-256 of the bearer token an http mailbox's sender presents; the token is shown once.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    enabled = models.BooleanField(default=True)
    # Send new requesters an acknowledgement with their ticket's number.
    acknowledge = models.BooleanField(default=True)
    # Defaults of the tickets this mailbox opens (tier 1).
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    urgency = models.CharField(max_length=6, choices=Level.choices, default=Level.MEDIUM)
    impact = models.CharField(max_length=6, choices=Level.choices, default=Level.MEDIUM)
    # IMAP position: messages with a UID above last_uid under this UIDVALIDITY are new.
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    # Health, shown to managers; a failing poll never stops the others.
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # One per configuration edit (API, admin); the API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MailboxKind.values), name="mailbox_kind_valid"),
            models.CheckConstraint(condition=Q(security__in=Security.values), name="mailbox_security_valid"),
            models.CheckConstraint(
                condition=Q(poll_interval_seconds__gte=MIN_POLL_SECONDS), name="mailbox_interval_min_30s"
            ),
            models.CheckConstraint(condition=Q(urgency__in=Level.values), name="mailbox_urgency_valid"),
            models.CheckConstraint(condition=Q(impact__in=Level.values), name="mailbox_impact_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>"


class Outcome(models.TextChoices):
    CREATED = "created", "Created a ticket"
    APPENDED = "appended", "Added to a ticket"
    DUPLICATE = "duplicate", "Already taken"
    IGNORED = "ignored", "Ignored"
    QUARANTINED = "quarantined", "Quarantined"


class InboundMessage(models.Model):
    """A message a mailbox took: what became of it, once.

    ``duplicate`` is never stored (it is the answer when this row already exists).
    A quarantined message keeps its raw bytes until a manager retries or discards it.
    """

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    message_key = models.CharField(max_length=KEY_MAX)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    # Why it was ignored or quarantined, or what matched it ("reply token", "references", "subject").
    reason = models.CharField(max_length=300, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    size = models.PositiveIntegerField(default=0)
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    comment = models.ForeignKey(Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Only while quarantined.
    raw = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "message_key"], name="inbound_once_per_mailbox"),
            models.CheckConstraint(
                condition=Q(outcome__in=[o for o in Outcome.values if o != Outcome.DUPLICATE]),
                name="inbound_outcome_valid",
            ),
        ]
        indexes = [
            # The per-sender hourly limit counts a sender's recent messages.
            models.Index(fields=["from_address", "received_at"], name="inbound_sender_recent"),
            models.Index(fields=["received_at"], name="inbound_quarantine", condition=Q(outcome="quarantined")),
        ]

    def __str__(self) -> str:
        return f"{self.outcome}: {self.subject or self.message_key}"


class MailThread(models.Model):
    """A ticket's e-mail conversation: its reply token and the mailbox it speaks through."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="mail_thread")
    token = models.CharField(max_length=64, unique=True)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"thread of ticket {self.ticket_id}"


class Direction(models.TextChoices):
    IN = "in", "Received"
    OUT = "out", "Sent"


class ThreadMessage(models.Model):
    """One message of a ticket's thread, by its Message-ID (without angle brackets)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=KEY_MAX)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    # The comment it carried (in or out), if any.
    comment = models.ForeignKey(Comment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The outbox row that sends it (out); a bounce naming the message marks that row failed.
    notification = models.ForeignKey(
        "notifications.Notification", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who it went to or came from.
    address = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["message_id"], name="thread_message_id"),
            models.Index(fields=["ticket", "id"], name="thread_ticket"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(direction__in=Direction.values), name="thread_direction_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} <{self.message_id}>"
