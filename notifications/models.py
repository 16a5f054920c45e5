"""The notification outbox: one row per message to send (an e-mail, a webhook call).

Floor 3, between tickets and the apps that write messages (escalation, the coming
mail app): any floor above may write rows and register a channel's sender
(``notifications.channels``); this app knows no rule, no webhook endpoint and no
mailbox.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """The outbox: written in the transaction of the change that caused it,
    delivered by Celery after commit, re-sent by a sweep until delivered.

    The table keeps its name from when the outbox lived in escalation
    (``escalation_notification``): moving the model moved no row.
    """

    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(max_length=500)  # an e-mail address or a webhook URL
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    # The escalation rule that wrote the row, if one did. Not a foreign key: the
    # outbox sits below escalation and may not name its models. Deleting a rule sets
    # it to null (escalation.services.rule_delete), as the foreign key's SET_NULL did.
    rule_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "escalation_notification"
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="notification_due", condition=Q(status=DeliveryStatus.PENDING)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.target}: {self.subject}"
