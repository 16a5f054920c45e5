"""Cross-cutting API pieces: pagination, permissions, error mapping."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import parsers, permissions, status
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from helpdesk import roles, text
from helpdesk.errors import ServiceError

log = logging.getLogger(__name__)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested past Python's recursion limit is a
    400 like any other malformed JSON, not a 500, and so is a body with a string
    no database or response can hold (NUL, a lone surrogate: helpdesk.text). Every
    JSON field of every endpoint (choice, text, JSON, ids, push payloads) is covered
    here, before any serializer echoes the value back in an error message."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        found = text.data_problem(data)
        if found is not None:
            path, problem = found
            message = f"{problem} (at {path})" if "." in path or not isinstance(data, dict) and path else problem
            if isinstance(data, dict):  # {"field": ["message"]}, as docs/API.md "Errors" words field errors
                raise ParseError({path.split(".", 1)[0]: [message]})
            raise ParseError(message)
        return data


def validated(serializer: Any) -> dict[str, Any]:
    """The serializer's data once valid (a 400 naming the fields otherwise), as a plain dict."""
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def no_store_response(data: Any, code: int) -> Response:
    """An answer that carries a secret shown once (a token, a signing secret): never cached."""
    response = Response(data, status=code)
    response["Cache-Control"] = "no-store"
    return response


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200


class IsAgent(permissions.BasePermission):
    message = "Agents only."

    def has_permission(self, request: Any, view: Any) -> bool:
        return roles.is_agent(request.user)


class IsManager(permissions.BasePermission):
    message = "Managers only."

    def has_permission(self, request: Any, view: Any) -> bool:
        return roles.is_manager(request.user)


class AgentReadManagerWrite(permissions.BasePermission):
    """Configuration objects: agents read, managers write."""

    message = "Agents read, managers change this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return roles.is_agent(request.user)
        return roles.is_manager(request.user)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """The error shapes of docs/API.md "Errors": 400 {"field": [...]} or {"detail"}, 403, 404, 409, 412."""
    # Imported here, not at the top: DRF resolves DEFAULT_PARSER_CLASSES (this
    # module) while rest_framework.views is being imported, and a system check
    # that loads this module first would otherwise hit a circular import.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, ServiceError):
        return Response(exc.as_payload(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return Response({"detail": "Still in use by other records."}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IntegrityError):
        log.info("integrity error mapped to 409: %s", exc)
        return Response({"detail": "Conflicts with existing data."}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)
