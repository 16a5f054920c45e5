"""``Authorization: Token <key>`` checked against helpdesk.tokens.

A module of its own: DRF imports DEFAULT_AUTHENTICATION_CLASSES while
rest_framework.views is being imported, so this one must not import views."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

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
