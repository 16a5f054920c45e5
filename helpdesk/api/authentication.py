"""``Authorization: Token <key>`` checked against helpdesk.tokens, and the bearer
tokens of machine senders (push sources, http mailboxes).

A module of its own: DRF imports DEFAULT_AUTHENTICATION_CLASSES while
rest_framework.views is being imported, so this one must not import views."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from helpdesk.models import ApiToken, User
from helpdesk.tokens import api_token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing (and its 401 with ``WWW-Authenticate: Token``);
    the key is looked up by its hash, and must be live (helpdesk.tokens)."""

    def authenticate_credentials(self, key: str) -> tuple[User, ApiToken]:
        token = api_token_authenticate(key=key)
        if token is None:
            # One answer for unknown, expired and revoked keys.
            raise AuthenticationFailed("Invalid or expired token.")
        return token.user, token


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` of a machine sender, not a user: the user
    is anonymous and ``request.auth`` is what ``lookup`` returns for the token (an
    enabled source, a mailbox). No header: not this scheme; a malformed header or
    an unknown token: 401."""

    def lookup(self, token: str) -> Any | None:
        raise NotImplementedError

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Expected 'Authorization: Bearer <token>'.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token.") from None
        found = self.lookup(token)
        if found is None:
            raise AuthenticationFailed("Invalid token.")
        return AnonymousUser(), found

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
