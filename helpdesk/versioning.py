"""Optimistic concurrency for versioned rows: tickets and the configuration objects.

A versioned model has ``version = PositiveIntegerField(default=1)``. A change a
person makes (API, admin, pages) adds one; the bookkeeping of the poller, the
rule engine or counters (a monitor's state and last value, a source's poll
health, a known issue's usage count) never does, so an ETag stays valid while
the object is only being used. The API sends the version as the ``ETag`` and
checks ``If-Match`` against it (``helpdesk.api.if_match``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.db import models, transaction

from helpdesk.errors import StaleVersion

M = TypeVar("M", bound=models.Model)


def check_version(obj: models.Model, expected_version: int | None) -> None:
    """412 when ``expected_version`` is not the object's version (None: no check).

    Call it on a row you hold locked (``select_for_update``) in the transaction
    that writes it; otherwise another edit can land between the check and the write."""
    current = obj.version  # type: ignore[attr-defined]
    if expected_version is not None and expected_version != current:
        name = str(obj._meta.verbose_name).capitalize()
        raise StaleVersion(
            f"{name} changed since version {expected_version}; current version is {current}.",
            current_version=current,
        )


def lock_row(obj: M) -> M:
    """The object's row, read again under ``SELECT ... FOR UPDATE`` (needs a transaction)."""
    return type(obj)._default_manager.select_for_update(of=("self",)).get(pk=obj.pk)


def bump_version(obj: models.Model, fields: Iterable[str]) -> list[str]:
    """Count one edit: add one to the version; returns ``fields`` plus what
    ``save(update_fields=...)`` must also write (the version, an auto_now stamp)."""
    obj.version += 1  # type: ignore[attr-defined]
    extra = ["version"] + [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
    return sorted({*fields, *extra})


def versioned_update(
    *,
    instance: M,
    changes: dict[str, Any],
    expected_version: int | None = None,
    prepare: Callable[[M, dict[str, Any]], dict[str, Any]] | None = None,
    derived: Callable[[M, set[str]], set[str]] | None = None,
    queryset: models.QuerySet[M] | None = None,
) -> M:
    """The one versioned edit: lock the row, check the version, write the fields
    that differ and count one edit. Nothing differing is not an edit (the version
    stays). Returns the saved row.

    ``prepare(locked, changes)`` runs under the lock before the diff: it validates
    the merged state (stored values + changes) and returns the changes to apply.
    ``derived(locked, changed)`` runs after the fields are set, when something
    changed, and returns further fields it reset (a cache the change invalidates).
    ``queryset`` locks with ``select_related`` (default: the model's manager, the
    row itself only); bookkeeping a poller writes with ``UPDATE`` stays untouched,
    since only the changed fields are saved."""
    with transaction.atomic():
        if queryset is None:
            obj = lock_row(instance)
        else:
            obj = queryset.select_for_update(of=("self",)).get(pk=instance.pk)
        check_version(obj, expected_version)
        if prepare is not None:
            changes = prepare(obj, changes)
        changed = {field for field, value in changes.items() if getattr(obj, field) != value}
        for field in changed:
            setattr(obj, field, changes[field])
        if changed and derived is not None:
            changed |= derived(obj, changed)
        if changed:
            obj.save(update_fields=bump_version(obj, changed))
    return obj


def versioned_save(obj: M) -> M:
    """Save an object edited as a whole (the Django admin's form) as one edit.
    The admin sends no If-Match, so this counts the edit without checking it."""
    with transaction.atomic():
        current = lock_row(obj)
        obj.version = current.version + 1  # type: ignore[attr-defined]
        obj.save()
    return obj
