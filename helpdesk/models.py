from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Upper

from helpdesk.roles import Role


class UserManager(DjangoUserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):  # type: ignore[override]
        # `createsuperuser --noinput` makes the first admin (docs/API.md "Authentication").
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER, db_index=True)
    # Set when mail to this address bounced (a delivery-status report); shown to agents,
    # cleared when the address changes or an agent clears it.
    email_bouncing_since = models.DateTimeField(null=True, blank=True)
    email_bounce_reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    # The user's own switches for agent e-mail (docs/EMAIL.md "Agents").
    notify_assigned = models.BooleanField("E-mail me when a ticket is assigned to me", default=True, db_default=True)
    notify_customer_reply = models.BooleanField(
        "E-mail me when a customer replies on my ticket", default=True, db_default=True
    )
    notify_escalated = models.BooleanField(
        "E-mail me when a ticket is escalated into my tier", default=True, db_default=True
    )

    objects = UserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
        ]
        # Requesters are found by e-mail, case-insensitively (email__iexact is UPPER(email) = UPPER(%s)),
        # on every ticket an agent logs by e-mail.
        indexes = [models.Index(Upper("email"), name="user_email_upper")]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class IdempotencyKey(models.Model):
    """The stored first answer to a POST sent with an `Idempotency-Key` header.

    One row per (user, key): the unique constraint is the lock that makes a
    racing retry wait for the first request and then replay its answer. A row
    is only ever visible together with its response (it is inserted and filled
    in the same transaction as the work it records)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of method, path and the parsed body: the same key with another request is a 422.
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class ApiToken(models.Model):
    """An API key (``Authorization: Token <key>``), stored only as its SHA-256.

    The key itself is shown once, when it is issued (helpdesk.tokens). A row
    authenticates until ``expires_at``, and only while the user's password hash
    is the one it was issued under (``password_mac``, a keyed hash of it, like
    Django's session auth hash): every way of changing a password revokes every
    token without anyone having to delete them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the key
    prefix = models.CharField(max_length=8)  # the key's first characters, to tell tokens apart
    name = models.CharField(max_length=100, blank=True)
    password_mac = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'token'})"
