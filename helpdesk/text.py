"""The one place that decides what text and ids from outside may contain.

Every boundary uses it: the API's JSON parser and the query-string guard
(helpdesk.middleware), page and admin forms, the push endpoints and the services
that store JSON (source options, alert labels).

- NUL (U+0000) is refused: PostgreSQL stores it in neither ``text`` nor ``jsonb``
  ("\\u0000 cannot be converted to text"), so letting it through ends in a 500.
- Lone surrogates (U+D800-U+DFFF, e.g. JSON ``"\\ud800"``) are refused: they are not
  characters, and UTF-8 (the database, every response) cannot encode them.
- Invisible format characters (zero-width space U+200B, joiners U+200C/D, BOM
  U+FEFF, the bidi marks U+200E/F and overrides U+202A-E, U+2066-9) are kept as
  given: they are legitimate in names and text (Persian and Hebrew need them) and
  harmless once escaped (templates and JSON escape every value). Identifiers are not
  cleaned of them either: a slug is ASCII by its validator (so they are refused
  there), and an external fingerprint or label is matched exactly as the sender
  wrote it; stripping them would make two different keys one (``"a\\u200b"`` and
  ``"a"``), which breaks deduplication.

Both refusals are 400s naming the field; nothing is changed silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from helpdesk.errors import MAX_ID, InvalidInput

# NUL and every UTF-16 surrogate code point: a Python str holds a surrogate only when
# it came unpaired (json decodes a valid "\ud83d\ude00" pair into one code point).
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")

NUL_MESSAGE = "NUL characters are not allowed."
SURROGATE_MESSAGE = "Unpaired surrogate characters (U+D800-U+DFFF) are not allowed."


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or sent, or None."""
    match = _FORBIDDEN.search(value)
    if match is None:
        return None
    return NUL_MESSAGE if match.group() == "\x00" else SURROGATE_MESSAGE


def data_problem(data: Any, path: str = "") -> tuple[str, str] | None:
    """The first (path, problem) in a decoded JSON value (keys included), or None.
    The path names the place: ``alerts.0.labels.job``."""
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:  # iterative: a deep document must not exhaust the recursion limit
        where, value = stack.pop()
        if isinstance(value, str):
            if problem := text_problem(value):
                return where, problem
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and (problem := text_problem(key)):
                    return _printable(inner), problem
                stack.append((inner, item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}.{index}" if where else str(index), item) for index, item in enumerate(value))
    return None


def _printable(path: str) -> str:
    # A path built from a bad key must not carry the bad character into the answer.
    return _FORBIDDEN.sub("\ufffd", path)


def check_text(value: str, *, field: str) -> str:
    """``value`` unchanged, or a 400 ``{field: [problem]}``."""
    if problem := text_problem(value):
        raise InvalidInput({field: [problem]})
    return value


def check_data(data: Any, *, field: str) -> Any:
    """A decoded JSON value unchanged, or a 400 naming ``field`` and the place inside it."""
    found = data_problem(data)
    if found is not None:
        where, problem = found
        raise InvalidInput({field: [f"{problem} (at {_printable(field + '.' + where if where else field)})"]})
    return data


def clean_text(value: str | None, field: str, *, required: bool = False) -> str:
    """Text a person typed, trimmed; a 400 when it holds what cannot be stored, or
    when it is blank and ``required``."""
    text = check_text(value or "", field=field).strip()
    if required and not text:
        raise InvalidInput({field: ["This field may not be blank."]})
    return text


def parse_id(raw: object) -> int | None:
    """A database id from client input (query, form, JSON, path), or None.

    Only an int (not a bool) or a string of ASCII digits in 1..MAX_ID (bigint):
    ``"²".isdigit()`` is True and ``int("²")`` fails, while ``int("٣")`` and
    ``int("５")`` succeed, so neither ``str.isdigit`` nor ``int`` alone decides.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and 0 < len(raw) <= 19 and raw.isascii() and raw.isdigit():
        value = int(raw)
    else:
        return None
    return value if 1 <= value <= MAX_ID else None


class QueryStringGuardMiddleware:
    """A NUL in a query-string name or value is a 400 before any view runs, for
    pages, the API and the admin alike (a lone surrogate cannot arrive this way:
    Django decodes query strings with replacement characters). Views and filter
    forms may then pass query values on to the database without a check each."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            if any(problem := text_problem(value) for value in [name, *values]):
                field = _printable(name)
                if request.path.startswith("/api/"):
                    return JsonResponse({field: [problem]}, status=400)
                return HttpResponseBadRequest(f"{field}: {problem}", content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class JSONFormField(forms.JSONField):
    """Django's JSON form field (admin, pages), refusing what helpdesk.text refuses:
    JSON text may spell a NUL or a lone surrogate as an escape ("\\u0000")."""

    def to_python(self, value: Any) -> Any:
        data = super().to_python(value)
        if found := data_problem(data):
            where, problem = found
            raise forms.ValidationError(f"{problem} (at {where})" if where else problem, code="invalid")
        return data


# For a ModelAdmin's formfield_overrides: every JSON field of its form checked as above.
CLEAN_JSON_FORMFIELDS: dict[type, dict[str, Any]] = {models.JSONField: {"form_class": JSONFormField}}
