"""Many-row INSERTs for the set-based services (escalation ticks, sweeps).

``QuerySet.bulk_create`` builds a model instance per row and prepares every
field of every instance, which costs far more than the database work when a
tick writes tens of thousands of events, notifications and firings.
``insert_rows`` takes plain tuples instead and, on PostgreSQL, sends the
statement bulk_create itself uses there (``INSERT ... SELECT FROM UNNEST(arrays)``,
one array per column); other databases get bulk_create.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, router
from django.db.models import JSONField, Model
from django.utils import timezone

# Values psycopg2 adapts as they are (the field would return them unchanged).
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateTimeField",
        "EmailField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SlugField",
        "SmallIntegerField",
        "TextField",
        "URLField",
        "UUIDField",
    }
)

_DATABASE_GENERATED = frozenset({"AutoField", "BigAutoField", "SmallAutoField"})


def insert_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    returning: bool = False,
    ignore_conflicts: bool = False,
    batch_size: int = 5000,
) -> list[int]:
    """Insert ``rows`` (tuples of values for ``fields``, attnames such as
    ``ticket_id``) into the model's table; returns the new primary keys, in row
    order, when ``returning`` (not with ``ignore_conflicts``).

    The other concrete fields get their defaults; ``auto_now``/``auto_now_add``
    fields get one ``timezone.now()`` per call. Like bulk_create: no ``save()``,
    no signals.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return []
    if returning and ignore_conflicts:
        raise ValueError("returning ids of rows that may not be inserted is not supported")
    manager = model._default_manager
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        manager.bulk_create(objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts)
        return [obj.pk for obj in objs] if returning else []

    meta = model._meta
    given = [meta.get_field(name) for name in fields]
    now = timezone.now()
    columns, casts, converters = [], [], []
    for field in given:
        columns.append(connection.ops.quote_name(field.column))
        # varchar[] rather than varchar(50)[]: no silent truncation (as bulk_create does).
        casts.append("%s::" + _base_type(field, connection) + "[]")
        converters.append(_converter(field, connection))
    constants, constant_params = [], []
    for field in meta.concrete_fields:
        if field in given or field.get_internal_type() in _DATABASE_GENERATED:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()  # as for a new instance: the default, "" or None
            if value is None and not field.null:
                raise ValueError(f"{model.__name__}.{field.name} needs a value")
        columns.append(connection.ops.quote_name(field.column))
        constants.append("%s::" + _base_type(field, connection))
        constant_params.append(field.get_db_prep_save(value, connection))
    pk = meta.pk
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT u.*{''.join(', ' + c for c in constants)} FROM UNNEST({', '.join(casts)}) AS u"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
        + (f" RETURNING {connection.ops.quote_name(pk.column)}" if returning else "")
    )
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            arrays = [
                [value for value in column] if convert is None else [convert(value) for value in column]
                for column, convert in zip(zip(*batch, strict=True), converters, strict=True)
            ]
            cursor.execute(sql, [*constant_params, *arrays])
            if returning:
                ids.extend(row[0] for row in cursor.fetchall())
    return ids


def _base_type(field, connection) -> str:
    return field.db_type(connection).split("(")[0]


def _converter(field, connection):
    """None when values go to the driver as they are, else a per-value function."""
    if isinstance(field, JSONField):
        encoder = field.encoder

        def to_json(value: Any) -> str | None:
            return None if value is None else json.dumps(value, cls=encoder)

        return to_json
    if field.get_internal_type() in _PLAIN_TYPES:
        return None
    return lambda value: field.get_db_prep_save(value, connection)
