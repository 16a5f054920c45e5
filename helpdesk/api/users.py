"""Users and API tokens."""

from __future__ import annotations

from typing import Any

import django_filters.rest_framework as filters
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.api.base import IsManager
from helpdesk.api.throttling import ClientAddressRateThrottle, LoginGuardThrottle
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.services import user_create


class UserSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, default=Role.CUSTOMER)
    tier = serializers.IntegerField(read_only=True, allow_null=True)
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

    queryset = User.objects.order_by("id")
    filterset_class = UserFilter

    def perform_create(self, serializer: UserSerializer) -> None:
        serializer.instance = user_create(creator=self.request.user, data=dict(serializer.validated_data))


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class TokenView(ObtainAuthToken):
    """POST {"username","password"} -> {"token"}. Failed logins are limited like the
    page's (helpdesk.login_guard); all requests per address by the "auth" rate."""

    throttle_classes = [LoginGuardThrottle, ClientAddressRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=inline_serializer("TokenRequest", {"username": serializers.CharField(), "password": serializers.CharField()}),
        responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}),
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
