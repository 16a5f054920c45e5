"""API tokens (``Authorization: Token <key>``): issued, checked, listed, revoked.

What holds, and why:
- The key is 256 random bits, shown once when issued; the database keeps only
  its SHA-256 (a key this long needs no slow hash: nobody can guess it, so a
  stolen table gives nothing to try offline) and its first characters for display.
- A token expires ``HELPDESK_TOKEN_TTL_HOURS`` after it was issued.
- A token is bound to the password hash the user had when it was issued: the
  row keeps a keyed hash of it (``password_mac``, the idea of Django's session
  auth hash), and a token whose user's password hash changed since no longer
  authenticates. So every way of changing a password (admin, ``changepassword``,
  ``set_password`` anywhere, ``set_unusable_password``) revokes every token at
  once, without any of them having to know about tokens. A password rehash on
  login (a PBKDF2 hash upgraded to Argon2) changes the hash too, and so also ends
  the user's tokens: the rare price of not depending on every caller.
- An inactive user's tokens do not authenticate; deactivating in the admin also
  deletes them, so reactivating the account does not bring them back.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from helpdesk.errors import MAX_ID, NotFound
from helpdesk.models import ApiToken, User

KEY_BYTES = 32
PREFIX_LENGTH = 8
# last_used_at is a hint for the user ("is this still in use?"), not an audit log:
# written at most this often, so a busy client costs one UPDATE a minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_PASSWORD_MAC_SALT = "helpdesk.tokens.password_mac"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # the only time the key exists outside the client


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def password_macs(user: User) -> list[str]:
    """The keyed hashes of the user's current password hash under SECRET_KEY and each
    of SECRET_KEY_FALLBACKS, so rotating SECRET_KEY the documented way keeps tokens."""
    secrets_in_use = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return [
        salted_hmac(_PASSWORD_MAC_SALT, user.password, secret=secret, algorithm="sha256").hexdigest()
        for secret in secrets_in_use
    ]


def ttl() -> timedelta:
    return timedelta(hours=settings.HELPDESK_TOKEN_TTL_HOURS)


def api_token_issue(*, user: User, name: str = "", now: datetime | None = None) -> IssuedToken:
    """A new token for ``user`` (each call makes one more: one per device or script)."""
    now = now or timezone.now()
    key = secrets.token_urlsafe(KEY_BYTES)
    token = ApiToken.objects.create(
        user=user,
        key_hash=key_hash(key),
        prefix=key[:PREFIX_LENGTH],
        name=name,
        password_mac=password_macs(user)[0],
        created_at=now,
        expires_at=now + ttl(),
    )
    return IssuedToken(token=token, key=key)


def api_token_authenticate(*, key: str, now: datetime | None = None) -> ApiToken | None:
    """The live token with this key (its ``user`` loaded), or None: unknown, expired,
    issued under another password, or of an inactive user all look the same.
    One query, plus one UPDATE at most once a minute per token (``last_used_at``)."""
    now = now or timezone.now()
    token = ApiToken.objects.select_related("user").filter(key_hash=key_hash(key)).first()
    if token is None or token.expires_at <= now or not token.user.is_active:
        return None
    # Constant time is moot for a value the caller cannot choose; `in` compares all of them.
    if token.password_mac not in password_macs(token.user):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_tokens_of(*, user: User, now: datetime | None = None) -> QuerySet[ApiToken]:
    """The user's live tokens, newest first (expired ones and those of an old password are not)."""
    return ApiToken.objects.filter(
        user=user, expires_at__gt=now or timezone.now(), password_mac__in=password_macs(user)
    ).order_by("-id")


def api_token_revoke(*, user: User, token_id: int) -> None:
    """Delete one of the user's own live tokens; anyone else's, or a dead one, is a 404."""
    if not 1 <= token_id <= MAX_ID:
        raise NotFound()
    deleted, _ = api_tokens_of(user=user).filter(pk=token_id).delete()
    if not deleted:
        raise NotFound()


def api_tokens_revoke_all(*, user: User) -> int:
    """Delete every token of the user (deactivation); returns how many went."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted


def api_tokens_purge(*, now: datetime | None = None) -> int:
    """Delete expired tokens (the beat task; safe to run twice); returns how many went."""
    deleted, _ = ApiToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
