"""Where users see and revoke their own API tokens.

Issuing one is ``POST auth/token/`` (helpdesk.api.users.TokenView), checking one
helpdesk.api.authentication; the rules (hashed keys, expiry, revocation by a
password change) are in helpdesk.tokens."""

from __future__ import annotations

from django.contrib.auth import logout
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.models import ApiToken
from helpdesk.tokens import api_token_revoke, api_tokens_of


class ApiTokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="Whether this request was authenticated with this token.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "current"]
        read_only_fields = fields

    def get_current(self, token: ApiToken) -> bool:
        auth = self.context["request"].auth
        return isinstance(auth, ApiToken) and auth.pk == token.pk


class ApiTokenListView(generics.ListAPIView):
    """The caller's own live tokens, newest first (never a key or its hash)."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular asks for the model
            return ApiToken.objects.none()
        return api_tokens_of(user=self.request.user)


class ApiTokenRevokeView(APIView):
    @extend_schema(
        description="Revoke one of the caller's own tokens (at once: the next request with it is a 401).",
        responses={204: None, 404: OpenApiResponse(description="Not one of the caller's live tokens.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        api_token_revoke(user=request.user, token_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiLogoutView(APIView):
    """Ends the credential this request came with: the token is revoked (other
    tokens of the user stay), or the session is logged out."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            api_token_revoke(user=request.user, token_id=request.auth.pk)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
