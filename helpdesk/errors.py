"""Domain errors raised by services and selectors.

They carry the HTTP status the API answers with, so the API, the pages and the
tests agree on what each failure means without services knowing about DRF.
"""

from __future__ import annotations

from typing import Any

# The largest id the database stores (bigint): a larger one in input is a 400, not a 500.
MAX_ID = 2**63 - 1


class ServiceError(Exception):
    status_code = 400

    def __init__(self, detail: str | dict[str, Any] = "Invalid request.", **extra: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else str(detail))
        self.detail = detail
        self.extra = extra

    def as_payload(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(self.detail) if isinstance(self.detail, dict) else {"detail": self.detail}
        body.update(self.extra)
        return body


class InvalidInput(ServiceError):
    """400: a field-level or general validation error ({"field": ["message"]})."""

    status_code = 400


class NotAllowed(ServiceError):
    """403: the caller can see the object but may not do this."""

    status_code = 403


class NotFound(ServiceError):
    """404: missing, or not visible to the caller (never reveal that it exists)."""

    status_code = 404

    def __init__(self, detail: str = "Not found.", **extra: Any) -> None:
        super().__init__(detail, **extra)


class Conflict(ServiceError):
    """409: the object's state does not allow this."""

    status_code = 409


class TooLarge(ServiceError):
    """413: the upload is larger than the configured limit."""

    status_code = 413


class StaleVersion(ServiceError):
    """412: If-Match named a version that is no longer current."""

    status_code = 412


class PreconditionRequired(ServiceError):
    """428: a change of a versioned object must name the version it was based on (If-Match)."""

    status_code = 428


def field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput({field: [message]})


class FieldErrors:
    """Collects field errors so one 400 names every problem (configuration services)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raise_any(self) -> None:
        if self.errors:
            raise InvalidInput(self.errors)
