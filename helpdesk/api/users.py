"""Users and API tokens."""

from __future__ import annotations

from typing import Any

import django_filters.rest_framework as filters
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import roles
from helpdesk.api.base import IsManager
from helpdesk.api.throttling import ClientAddressRateThrottle, LoginGuardThrottle
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.services import user_create
from helpdesk.tokens import api_token_issue


class TierField(serializers.IntegerField):
    """A user's tier as roles.tier_of derives it (the user model has no such attribute:
    helpdesk.models imports roles, never the other way round)."""

    def get_attribute(self, instance: User) -> int | None:
        return roles.tier_of(instance)


class UserSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.CUSTOMER)
    tier = TierField(read_only=True, allow_null=True)
    password = serializers.CharField(write_only=True, required=False, max_length=128, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "role", "tier", "is_active", "password"]
        read_only_fields = ["id", "tier"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password = attrs.get("password")
        if password:
            candidate = User(**{k: v for k, v in attrs.items() if k != "password"})
            try:
                validate_password(password, candidate)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class RoleInFilter(filters.BaseInFilter, filters.ChoiceFilter):
    """`role=l1,l2`: each item must be a known role."""


class UserFilter(filters.FilterSet):
    role = RoleInFilter(field_name="role", choices=Role.choices)
    q = filters.CharFilter(method="filter_q", max_length=100)

    class Meta:
        model = User
        fields = ["is_active"]

    def filter_q(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(username__icontains=value)
            | Q(email__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
        )


class UserListCreateView(generics.ListCreateAPIView):
    serializer_class = UserSerializer
    permission_classes = [IsManager]

    filterset_class = UserFilter

    def get_queryset(self) -> QuerySet[User]:
        # Managers list the users they manage (and themselves), not admins or other managers.
        user = self.request.user
        return User.objects.filter(Q(role__in=roles.listable_roles(user)) | Q(pk=user.pk)).order_by("id")

    def perform_create(self, serializer: UserSerializer) -> None:
        serializer.instance = user_create(creator=self.request.user, data=dict(serializer.validated_data))


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class TokenNameSerializer(serializers.Serializer):
    # DRF's CharField refuses NUL and lone surrogates (400, not a database error).
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)


class TokenView(ObtainAuthToken):
    """POST {"username","password","name"?} -> {"token","expires_at"}: a new token each
    time (one per device or script; helpdesk.tokens). Failed logins are limited like the
    page's (helpdesk.login_guard); all requests per address by the "auth" rate."""

    throttle_classes = [LoginGuardThrottle, ClientAddressRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        description=(
            "Log in for the API: each call issues a new token (one per device or script). The key is in this "
            "response only (the server keeps its hash); send it as `Authorization: Token <key>`. It stops "
            "working at `expires_at` (HELPDESK_TOKEN_TTL_HOURS after issue), when the user's password changes "
            "or the user is deactivated, or when revoked (`auth/tokens/{id}/`, `auth/logout/`)."
        ),
        request=inline_serializer(
            "TokenRequest",
            {
                "username": serializers.CharField(),
                "password": serializers.CharField(),
                "name": serializers.CharField(required=False, max_length=100, help_text="e.g. the device"),
            },
        ),
        responses=inline_serializer(
            "TokenResponse", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
        ),
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        naming = TokenNameSerializer(data=request.data)
        naming.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        issued = api_token_issue(user=user, name=naming.validated_data.get("name", ""))
        # A login like the page's: the guard forgets this pair's failures and remembers
        # the address as the account's (helpdesk.login_guard); last_login is set.
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        response = Response({"token": issued.key, "expires_at": issued.token.expires_at})
        # The key is in this body and nowhere else: no cache may keep it (the request carries
        # no credentials, so NoStoreForUsersMiddleware would not say it).
        patch_cache_control(response, private=True, no_store=True)
        return response
