"""If-Match and ETag for every versioned object the API edits (docs/API.md "If-Match and ETag").

Responses to GET, POST, PUT and PATCH of one object carry ``ETag: "<version>"``.
A PUT or PATCH must send ``If-Match``: without it the answer is 428 (naming the
header and the current version) unless ``HELPDESK_REQUIRE_IF_MATCH`` is off;
``If-Match: *`` overwrites whatever is there on purpose; a version that is no
longer current is 412 and changes nothing (checked by the service under the
row lock, ``helpdesk.versioning.check_version``).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import models
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.errors import PreconditionRequired, StaleVersion
from helpdesk.versioning import versioned_update

_ETAG = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$', re.ASCII)

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag of the version being edited, e.g. "3"; `*` for any version. '
    "Without it: 428 (unless HELPDESK_REQUIRE_IF_MATCH is off).",
)
IF_MATCH_RESPONSES = {
    412: OpenApiResponse(description="Stale version: If-Match names a version that is no longer current"),
    428: OpenApiResponse(description="If-Match missing"),
}


def expected_version(request: Request) -> int | None:
    """The version named by If-Match; None when absent or `*`."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header)
    if not match:
        raise StaleVersion("If-Match does not name a version.")
    return int(match.group(1))


def required_version(request: Request, obj: models.Model) -> int | None:
    """Like expected_version, but a change without If-Match is a 428 (unless
    HELPDESK_REQUIRE_IF_MATCH is off): a client must say which version it edits,
    or two editors silently overwrite each other. `If-Match: *` opts out explicitly.
    Call it after the object was found visible, so a 428 never reveals one."""
    current = obj.version  # type: ignore[attr-defined]
    if "If-Match" not in request.headers and settings.HELPDESK_REQUIRE_IF_MATCH:
        raise PreconditionRequired(
            f'If-Match is required: send the ETag of the version you edit, e.g. If-Match: "{current}" '
            f"(the current version), or If-Match: * to overwrite whatever is there.",
            current_version=current,
        )
    return expected_version(request)


def etag(version: int) -> str:
    return f'"{version}"'


class IfMatchSchema(AutoSchema):
    """Documents the If-Match header and the 412/428 answers on PUT and PATCH."""

    def _edits_one(self) -> bool:
        return self.method in ("PUT", "PATCH") and getattr(self.view, "action", None) in ("update", "partial_update")

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        return [*parameters, IF_MATCH] if self._edits_one() else parameters

    def get_response_serializers(self) -> Any:
        responses = super().get_response_serializers()
        if not self._edits_one():
            return responses
        if not isinstance(responses, dict):
            responses = {200: responses}
        return {**responses, **IF_MATCH_RESPONSES}


class VersionedViewSetMixin:
    """For a ModelViewSet of a versioned model: ETag on single-object responses,
    If-Match required on PUT/PATCH. ``perform_update`` goes through
    ``versioned_update``; a viewset whose writes go through its own service
    overrides it and passes ``expected_version=self.if_match_version`` on."""

    schema = IfMatchSchema()
    if_match_version: int | None = None

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()  # type: ignore[attr-defined]  # 404 (or 403) before 428
        self.if_match_version = required_version(request, instance)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)  # type: ignore[attr-defined]
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(serializer.data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = versioned_update(
            instance=serializer.instance,
            changes=dict(serializer.validated_data),
            expected_version=self.if_match_version,
        )

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        one = getattr(self, "action", None) in ("create", "retrieve", "update", "partial_update")
        data = getattr(response, "data", None)
        if one and 200 <= response.status_code < 300 and isinstance(data, dict) and "version" in data:
            response["ETag"] = etag(data["version"])
        return response
