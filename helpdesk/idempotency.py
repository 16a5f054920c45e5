"""`Idempotency-Key` for POSTs that create or change something (docs/API.md "Idempotency-Key").

A client that retries a POST with the same key (and the same user) gets the
first answer back - status, body, ETag - and nothing is done again. The same key
with a different request is a 422; keys expire after HELPDESK_IDEMPOTENCY_TTL_HOURS.

How a race is settled: the key row is inserted in the same transaction as the
work and filled with the response before commit. A concurrent request with the
same key blocks on the (user, key) unique index until that transaction ends;
then it either finds the stored response and replays it, or (the first one
rolled back) inserts the key itself and does the work. So concurrent retries
wait and replay; nobody sees a half-done key and no 409 "in progress" exists.
Answers of 500 and above are never stored: the whole transaction rolls back
and a retry does the work again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.errors import InvalidInput, ServiceError
from helpdesk.models import IdempotencyKey, User

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
# Response headers that are part of the answer a retry must see again.
STORED_HEADERS = ("ETag", "Location")


class KeyReused(ServiceError):
    """422: the key was first used for a different request."""

    status_code = 422


OPENAPI_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Up to 255 printable characters, unique per user. A retry with the same key returns the first "
        "response (status, body, ETag) without doing anything again; the same key with another request "
        "is a 422. Keys expire after 24 hours (HELPDESK_IDEMPOTENCY_TTL_HOURS)."
    ),
)


def idempotency_key_of(request: Request) -> str | None:
    """The header's key, or None when absent; 400 when it is not a usable key."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput({"detail": f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters long."})
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        raise InvalidInput({"detail": f"{HEADER} must not contain control characters."})
    return key


def request_fingerprint(request: Request) -> str:
    """What makes two requests "the same": method, path and the parsed body
    (so key order and whitespace in the JSON do not matter)."""
    body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def ttl() -> timedelta:
    return timedelta(hours=settings.HELPDESK_IDEMPOTENCY_TTL_HOURS)


def replay(record: IdempotencyKey) -> Response:
    response = Response(record.response_body, status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


class _Discard(Exception):
    """Carries a response out of the transaction that must not commit."""

    def __init__(self, response: Response) -> None:
        self.response = response


def idempotent_call(
    *, user: User, key: str, fingerprint: str, run: Callable[[], Response], now: datetime | None = None
) -> Response:
    """Run ``run`` at most once per (user, key) while the key lives; see the module docstring.

    ``run`` returns the response (errors already turned into responses); it runs
    inside this transaction, in a savepoint, so its own failure leaves the key free."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            # An expired key may be used afresh.
            IdempotencyKey.objects.filter(user=user, key=key, expires_at__lte=now).delete()
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        user=user,
                        key=key,
                        fingerprint=fingerprint,
                        response_status=0,
                        created_at=now,
                        expires_at=now + ttl(),
                    )
            except IntegrityError:
                # Another request holds or held this key: we waited for it to commit.
                existing = IdempotencyKey.objects.get(user=user, key=key)
                if existing.fingerprint != fingerprint:
                    raise KeyReused(
                        f"This {HEADER} was already used for a different request "
                        "(another endpoint or body); use a new key for a new request."
                    ) from None
                return replay(existing)
            response = run()
            if response.status_code >= 500:
                raise _Discard(response)
            body = None
            if response.data is not None:
                body = json.loads(JSONRenderer().render(response.data) or b"null")
            record.response_status = response.status_code
            record.response_body = body
            record.response_headers = {name: response[name] for name in STORED_HEADERS if response.has_header(name)}
            record.save(update_fields=["response_status", "response_body", "response_headers"])
            return response
    except _Discard as discarded:
        return discarded.response


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF view method (a POST): honour `Idempotency-Key` if sent.

    Also documents the header on the operation."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.method != "POST":
            return view(self, request, *args, **kwargs)
        key = idempotency_key_of(request)
        if key is None or not request.user.is_authenticated:
            return view(self, request, *args, **kwargs)

        def run() -> Response:
            try:
                with transaction.atomic():  # a failing view rolls back to here, the key stays usable
                    return view(self, request, *args, **kwargs)
            except Exception as exc:
                # DRF's own mapping (re-raises what it does not handle: then nothing is stored).
                return self.handle_exception(exc)

        return idempotent_call(user=request.user, key=key, fingerprint=request_fingerprint(request), run=run)

    # Only the parameter: an outer extend_schema's `responses` would replace ours.
    return extend_schema(methods=["POST"], parameters=[OPENAPI_PARAMETER])(wrapper)


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete expired keys; returns how many went."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
