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

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, JSONField, Lookup, Model
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
_INTEGER_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallAutoField",
        "SmallIntegerField",
    }
)


def _integer_array_literal(values: Sequence[Any]) -> str | None:
    """'{1,2,NULL}' for a column of ints: PostgreSQL reads one literal much faster
    than the ARRAY[...] expression psycopg2 would write for a list (or an IN list):
    about 1 ms against 7 ms for 5,000 ids. None when a value is not a plain int."""
    if not all(type(value) is int or value is None for value in values):
        return None
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


class AnyOf(Lookup):
    """``field = ANY('{…}'::bigint[])``: a filter on many ids with one parameter,
    for set-based updates (``.filter(AnyOf(F("pk"), ids))`` or ``ids_filter(ids)``).
    Other databases get a plain IN list."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):  # type: ignore[override]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = [int(value) for value in self.rhs]
        if not ids:
            raise EmptyResultSet
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, _integer_array_literal(ids)]
        return f"{lhs} IN ({', '.join(['%s'] * len(ids))})", [*lhs_params, *ids]


def ids_filter(ids: Iterable[int], field: str = "pk") -> AnyOf:
    return AnyOf(F(field), list(ids))


def insert_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    returning: bool | str = False,
    ignore_conflicts: bool = False,
    batch_size: int = 5000,
) -> list[Any]:
    """Insert ``rows`` (tuples of values for ``fields``, attnames such as
    ``ticket_id``) into the model's table; returns the new primary keys, in row
    order, when ``returning`` is true, or the values of the field it names.

    With ``ignore_conflicts``, rows that hit a unique constraint are skipped and
    ``returning`` gives the values of the rows really inserted, in no set order:
    how a caller learns which of its claims won.

    The other concrete fields get their defaults; ``auto_now``/``auto_now_add``
    fields get one ``timezone.now()`` per call. Like bulk_create: no ``save()``,
    no signals.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return []
    meta = model._meta
    returned = meta.pk if returning is True else meta.get_field(returning) if returning else None
    manager = model._default_manager
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objs = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        if returned is not None and ignore_conflicts:
            return [getattr(obj, returned.attname) for obj in objs if _inserted(manager, obj)]
        manager.bulk_create(objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts)
        return [getattr(obj, returned.attname) for obj in objs] if returned is not None else []

    given = [meta.get_field(name) for name in fields]
    now = timezone.now()
    columns, casts, converters, integers = [], [], [], []
    for field in given:
        columns.append(connection.ops.quote_name(field.column))
        # varchar[] rather than varchar(50)[]: no silent truncation (as bulk_create does).
        casts.append("%s::" + _base_type(field, connection) + "[]")
        converters.append(_converter(field, connection))
        integers.append(_base_internal_type(field) in _INTEGER_TYPES)
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
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT u.*{''.join(', ' + c for c in constants)} FROM UNNEST({', '.join(casts)}) AS u"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
        + (f" RETURNING {connection.ops.quote_name(returned.column)}" if returned is not None else "")
    )
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            arrays = [
                _column_param(column, convert, integer)
                for column, convert, integer in zip(zip(*batch, strict=True), converters, integers, strict=True)
            ]
            cursor.execute(sql, [*constant_params, *arrays])
            if returned is not None:
                ids.extend(row[0] for row in cursor.fetchall())
    return ids


def _inserted(manager, obj: Model) -> bool:
    """One row in a savepoint, for the databases without the UNNEST path (SQLite in development)."""
    try:
        with transaction.atomic(using=manager.db):
            manager.bulk_create([obj])
    except IntegrityError:
        return False
    return True


def _column_param(column: Sequence[Any], convert, integer: bool) -> Any:
    if integer:
        literal = _integer_array_literal(column)
        if literal is not None:
            return literal
    return list(column) if convert is None else [convert(value) for value in column]


def _base_internal_type(field) -> str:
    """A foreign key stores its target's type."""
    return field.target_field.get_internal_type() if field.is_relation else field.get_internal_type()


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
